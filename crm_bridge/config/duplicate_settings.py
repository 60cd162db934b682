"""The ``duplicates:`` section of the config: how the duplicate check looks for the same
issue raised with another member (crm_bridge/duplicates/).

Kept apart from the check itself so reading a config imports only pydantic. The defaults
come from the labelled pairs in tests/support/duplicate_pairs.py (docs/duplicates.md says
how); category ids in ``related_categories`` are checked against the config by
``config.checks``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from crm_bridge.models import Identifier

__all__ = ["DuplicateSettings"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DuplicateSettings(_Strict):
    window_days: int = Field(
        default=60, ge=1, le=730,
        description="enquiries received this many days before (or after) are compared")
    threshold: int = Field(
        default=70, ge=1, le=100,
        description="a candidate scoring this much (out of 100) or more is shown")
    min_text_similarity: int = Field(
        default=60, ge=0, le=100,
        description="and its description must be at least this similar (out of 100)")
    distance_metres: int = Field(
        default=60, ge=1, le=5000,
        description="two enquiries whose locations are 'latitude, longitude' points this "
                    "close are at one place (compared in any ward)")
    related_categories: list[Annotated[list[Identifier], Field(min_length=2)]] = Field(
        default_factory=list,
        description="groups of category ids that are often the same problem (a pothole "
                    "and a road-safety enquiry); each group has two or more")
    max_matches: int = Field(default=10, ge=1, le=50,
                             description="at most this many matches are listed")

    def related(self, category_id: str) -> set[str]:
        """The categories related to ``category_id`` (not including itself)."""
        found: set[str] = set()
        for group in self.related_categories:
            if category_id in group:
                found.update(group)
        found.discard(category_id)
        return found
