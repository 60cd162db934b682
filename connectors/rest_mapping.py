"""The ``rest`` connector's mapping (``mappings/rest.yaml``): what to call, what to send, and
where to find things in the answers. No HTTP here (that is ``rest_client``).

Templates are ``str.format`` strings over the placeholders listed in ``CASE_FIELDS`` (and
``NOTE_FIELDS``, ``URL_FIELDS``); a template that is one placeholder alone keeps the value's
type, so an enquiry with no location sends ``null`` rather than ``""``. Unknown placeholders
are refused when the mapping is loaded, with "did you mean", not when the first enquiry is.

Answers are read through dotted paths (``"data.case.id"``; ``""`` is the whole body) into
the small pydantic models below, so every answer the CRM gives is validated before any
of it is used: a missing id or an unreadable timestamp is a ``MalformedAnswer``.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from connectors.base import BaseMapping
from crm_bridge.models import Enquiry, ServiceDestination
from crm_bridge.suggest import unknown

__all__ = [
    "CASE_FIELDS",
    "CONSTITUENT_FIELDS",
    "Endpoint",
    "MalformedAnswer",
    "RemoteCase",
    "RemoteEvent",
    "RestMapping",
    "case_values",
    "listed",
    "pick",
    "render",
    "render_body",
    "value_at",
]

CONSTITUENT_FIELDS = ("name", "address", "postcode", "email", "phone", "uprn")
CASE_FIELDS = ("id", "reference", "category", "service", "crm_target",
               "description", "location", "ward", "member", "channel", "received_at",
               "target_date", *(f"constituent_{name}" for name in CONSTITUENT_FIELDS))
NOTE_FIELDS = ("text", "author", "kind")
URL_FIELDS = ("case_id", "external_ref", "since")


class MalformedAnswer(ValueError):
    """The CRM answered 2xx with JSON that is not what the mapping says it sends."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _placeholders(template: str) -> list[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name is not None]


def _check_template(template: str, allowed: tuple[str, ...]) -> str:
    for name in _placeholders(template):
        if name not in allowed:
            raise ValueError(unknown("placeholder", name, list(allowed)))
    return template


class Endpoint(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    path: str = Field(pattern=r"^/")
    query: dict[str, str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_template(value, URL_FIELDS)

    @field_validator("query")
    @classmethod
    def _query(cls, value: dict[str, str]) -> dict[str, str]:
        for template in value.values():
            _check_template(template, URL_FIELDS)
        return value


class Endpoints(_Strict):
    create: Endpoint
    find: Endpoint
    add_note: Endpoint
    get: Endpoint
    updates: Endpoint
    health: Endpoint
    notes: Endpoint | None = None  # lists a case's notes: makes add_note safe to repeat


class Auth(_Strict):
    header: str = Field(default="Authorization", pattern=r"^[A-Za-z0-9-]+$")
    value: str = "Bearer {token}"

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        if _placeholders(value) != ["token"]:
            raise ValueError("must hold {token} once, e.g. 'Bearer {token}'")
        return value


class CasePaths(_Strict):
    id: str = "id"
    external_ref: str | None = "external_ref"
    status: str = "status"
    response: str | None = "response"
    updated_at: str | None = "updated_at"


class EventPaths(_Strict):
    id: str = "event_id"
    case_id: str = "case_id"
    external_ref: str | None = "external_ref"
    at: str = "at"
    status: str | None = "status"
    response: str | None = "response"
    actor: str | None = "actor"
    cursor: str | None = None  # cursor kind "token": each change's own resume token


class Updates(_Strict):
    items: str = "items"
    next: str | None = "next"  # the next page's token; absent or null on the last page
    next_param: str = "after"
    event: EventPaths = EventPaths()


class Cursor(_Strict):
    kind: Literal["timestamp", "token"] = "timestamp"
    overlap_seconds: int = Field(default=120, ge=0, le=86_400)


class RestMapping(BaseMapping):
    """``mappings/rest.yaml``; see the shipped file for every key, commented."""

    auth: Auth | None = Auth()
    endpoints: Endpoints
    case_body: dict[str, str]
    constituent_fields: list[Literal["name", "address", "postcode", "email", "phone",
                                     "uprn"]] = Field(default_factory=list)
    note_body: dict[str, str] = Field(default_factory=lambda: {"text": "{text}",
                                                               "author": "{author}"})
    case: CasePaths = CasePaths()
    created: str = ""
    found: str = "items"
    notes_list: str = "items"
    note_text: str = "text"
    updates: Updates = Updates()
    cursor: Cursor = Cursor()
    error_message: str = "message"
    # Sent with each create and add_note POST, the same on every try of one outbox row:
    # a CRM that honours it answers a repeat with the first result. None: not sent.
    idempotency_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9-]+$")
    idempotency_value: str = "{key}"

    @field_validator("idempotency_value")
    @classmethod
    def _idempotency_value(cls, value: str) -> str:
        if _placeholders(value) != ["key"]:
            raise ValueError("must hold {key} once, e.g. '{key}' or '\"{key}\"'")
        return value

    @field_validator("case_body")
    @classmethod
    def _case_body(cls, value: dict[str, str]) -> dict[str, str]:
        for template in value.values():
            _check_template(template, CASE_FIELDS)
        if not any(_placeholders(t) == ["id"] for t in value.values()):
            raise ValueError("must send the enquiry's id ({id}) in a field the find endpoint "
                             "searches: it is what stops a retry opening a second case")
        return value

    @field_validator("note_body")
    @classmethod
    def _note_body(cls, value: dict[str, str]) -> dict[str, str]:
        for template in value.values():
            _check_template(template, NOTE_FIELDS)
        return value

    @model_validator(mode="after")
    def _constituent_placeholders_are_shared(self) -> RestMapping:
        shared = {f"constituent_{name}" for name in self.constituent_fields}
        for template in self.case_body.values():
            for name in _placeholders(template):
                if name.startswith("constituent_") and name not in shared:
                    raise ValueError(f"case_body uses {{{name}}} but constituent_fields does "
                                     f"not list '{name.removeprefix('constituent_')}'")
        if self.cursor.kind == "token" and self.updates.event.cursor is None:
            raise ValueError("cursor kind 'token' needs updates.event.cursor: where each "
                             "change's resume token is")
        return self


# -- filling templates ----------------------------------------------------------------------


def render(template: str, values: Mapping[str, Any]) -> Any:
    """``template`` filled from ``values``; a lone placeholder keeps its value's type."""
    names = _placeholders(template)
    if len(names) == 1 and template == f"{{{names[0]}}}":
        return values.get(names[0])
    return template.format_map({k: "" if v is None else v for k, v in values.items()})


def render_body(templates: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object from ``templates``; a dotted field name makes nested objects."""
    body: dict[str, Any] = {}
    for field, template in templates.items():
        *parents, leaf = field.split(".")
        node = body
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = render(template, values)
    return body


def case_values(mapping: RestMapping, enquiry: Enquiry,
                destination: ServiceDestination) -> dict[str, Any]:
    """What the case body's placeholders stand for; only the listed constituent details."""
    person = enquiry.constituent.model_dump()
    values: dict[str, Any] = {
        "id": str(enquiry.id), "reference": enquiry.reference, "category": enquiry.category_id,
        "service": destination.name, "crm_target": destination.crm_target,
        "description": enquiry.description, "location": enquiry.location,
        "ward": enquiry.ward_id, "member": enquiry.member_id, "channel": enquiry.channel.value,
        "received_at": enquiry.received_at.astimezone(UTC).isoformat(),
        "target_date": enquiry.target_date.isoformat(),
    }
    for name in mapping.constituent_fields:
        values[f"constituent_{name}"] = person.get(name)
    return values


# -- reading answers ------------------------------------------------------------------------

_MISSING = object()


def pick(data: Any, path: str | None) -> Any:
    """The value at dotted ``path`` in ``data`` ("" is ``data``); _MISSING when absent."""
    if path is None:
        return _MISSING
    for part in path.split(".") if path else ():
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return _MISSING
    return data


def value_at(data: Any, path: str | None) -> Any:
    """``pick``, with None for what is absent."""
    found = pick(data, path)
    return None if found is _MISSING else found


def _read(model: type[BaseModel], data: Any, paths: BaseModel, what: str) -> Any:
    fields = {name: value for name, path in paths.model_dump().items()
              if (value := pick(data, path)) is not _MISSING}
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


class RemoteCase(_Remote):
    id: str = Field(min_length=1)
    external_ref: str | None = None
    status: str = Field(min_length=1)
    response: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def read(cls, data: Any, mapping: RestMapping, what: str) -> RemoteCase:
        case: RemoteCase = _read(cls, data, mapping.case, what)
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
    def read(cls, data: Any, mapping: RestMapping, what: str) -> RemoteEvent:
        event: RemoteEvent = _read(cls, data, mapping.updates.event, what)
        return event


def listed(data: Any, path: str, what: str) -> list[Any]:
    """The list at ``path``, or MalformedAnswer."""
    found = pick(data, path)
    if not isinstance(found, list):
        raise MalformedAnswer(f"{what} without a list at '{path or 'the body'}'")
    return found
