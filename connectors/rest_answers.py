"""Reading the ``rest`` connector's answers: the mapping's paths applied to what the CRM
sent, into small pydantic models, so every answer is validated before any of it is used
(a missing id or an unreadable timestamp is a ``MalformedAnswer``)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from connectors.rest_paths import MISSING, Path
from connectors.rest_paths import parse as parse_path

if TYPE_CHECKING:
    from connectors.rest_mapping import RestMapping

__all__ = ["FoundCase", "MalformedAnswer", "RemoteCase", "RemoteEvent", "listed", "pick",
           "value_at"]


class MalformedAnswer(ValueError):
    """The CRM answered 2xx with JSON that is not what the mapping says it sends."""



Lookup_ = Callable[[str, Any], Any]


@lru_cache(maxsize=512)
def _parsed(path: str) -> Path:
    return parse_path(path)


def pick(data: Any, path: str | None, lookup: Lookup_ | None = None) -> Any:
    """The value at ``path`` in ``data`` ("" is ``data``); MISSING when absent."""
    if path is None:
        return MISSING
    return _parsed(path).read(data, lookup)


def value_at(data: Any, path: str | None, lookup: Lookup_ | None = None) -> Any:
    """``pick``, with None for what is absent."""
    found = pick(data, path, lookup)
    return None if found is MISSING else found


def _read(model: type[BaseModel], data: Any, paths: BaseModel, what: str,
          lookup: Lookup_ | None, only: tuple[str, ...] | None = None) -> Any:
    fields = {name: value for name, path in paths.model_dump().items()
              if (only is None or name in only)
              and (value := pick(data, path, lookup)) is not MISSING}
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        where = getattr(paths, field, field) if field else "the body"
        raise MalformedAnswer(f"{what} without a usable '{where}': {first['msg']}") from None


class _Remote(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True,
                              str_strip_whitespace=True)

    @field_validator("at", "updated_at", mode="after", check_fields=False)
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without an offset is taken as UTC, the only safe reading of it."""
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC) if value is not None else None


class FoundCase(_Remote):
    """A case as the find endpoint lists it: its id, and the enquiry id it carries."""

    id: str = Field(min_length=1)
    external_ref: str | None = None

    @classmethod
    def read(cls, data: Any, mapping: RestMapping, what: str) -> FoundCase:
        case: FoundCase = _read(cls, data, mapping.case, what, None,
                                only=("id", "external_ref"))
        return case


class RemoteCase(_Remote):
    id: str = Field(min_length=1)
    external_ref: str | None = None
    status: str = Field(min_length=1)
    response: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def read(cls, data: Any, mapping: RestMapping, what: str,
             lookup: Lookup_ | None = None) -> RemoteCase:
        case: RemoteCase = _read(cls, data, mapping.case, what, lookup)
        return case


class RemoteEvent(_Remote):
    id: str = Field(min_length=1)
    case_id: str = Field(min_length=1)
    external_ref: str | None = None
    at: datetime
    status: str | None = None
    response: str | None = None
    actor: str | None = None
    cursor: str | None = None

    @classmethod
    def read(cls, data: Any, mapping: RestMapping, what: str,
             lookup: Lookup_ | None = None) -> RemoteEvent:
        event: RemoteEvent = _read(cls, data, mapping.updates.event, what, lookup)
        return event


def listed(data: Any, path: str, what: str) -> list[Any]:
    """The list at ``path``, or MalformedAnswer."""
    found = pick(data, path)
    if not isinstance(found, list):
        raise MalformedAnswer(f"{what} without a list at '{path or 'the body'}'")
    return found
