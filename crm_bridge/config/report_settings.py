"""The ``reports:`` section of the config: small-count suppression and areas (groups of wards).

Kept apart from the report engine so reading a config imports only pydantic.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_bridge.models import Identifier, Text

__all__ = ["Area", "ReportSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Area(_Strict):
    """A named group of wards (a locality or area committee) that reports can total by."""

    id: Identifier
    name: Text
    wards: list[Identifier] = Field(min_length=1)


class ReportSettings(_Strict):
    suppress_below: int = Field(
        default=5, ge=1, le=100,
        description="the scrutiny report shows a count below this as '<N' (and any figure "
                    "worked out from so few enquiries as '-'), so no constituent can be "
                    "picked out")
    areas: list[Area] = Field(default_factory=list,
                              description="groups of wards for `report --by area`")

    def area_of(self, ward_id: str | None) -> str | None:
        """The id of the first area listing ``ward_id``, or None."""
        if ward_id is None:
            return None
        return next((area.id for area in self.areas if ward_id in area.wards), None)
