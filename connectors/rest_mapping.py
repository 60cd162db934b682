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

import re
import string
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.base import BaseMapping
from connectors.rest_paths import MISSING, Path, PathError, body_key
from connectors.rest_paths import parse as parse_path
from crm_bridge.models import Enquiry, ServiceDestination
from crm_bridge.suggest import unknown

__all__ = [
    "CASE_FIELDS",
    "CONSTITUENT_FIELDS",
    "Endpoint",
    "FoundCase",
    "Lookup",
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
NOTE_FIELDS = ("text", "author", "kind", "case_id")
URL_FIELDS = ("case_id", "external_ref", "since", "value")


class MalformedAnswer(ValueError):
    """The CRM answered 2xx with JSON that is not what the mapping says it sends."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _placeholders(template: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template)
                if name is not None]
    except ValueError as exc:
        raise ValueError(f"'{template}' is not a template: {exc} (write {{{{ and }}}} for a "
                         "literal brace)") from None


def _check_template(template: str, allowed: tuple[str, ...]) -> str:
    for name in _placeholders(template):
        if name not in allowed:
            raise ValueError(unknown("placeholder", name, list(allowed)))
    return template


def _valid_path(value: str) -> str:
    try:
        parse_path(value)
    except PathError as exc:
        raise ValueError(f"bad JSON path {exc}") from None
    return value


def _valid_body_key(value: str) -> str:
    try:
        body_key(value)
    except PathError as exc:
        raise ValueError(f"bad field name {exc}") from None
    return value


PathText = Annotated[str, AfterValidator(_valid_path)]
"""A path into an answer (``rest_paths``), checked when the mapping is loaded."""

_HEADER = r"^[A-Za-z0-9-]+$"


class Endpoint(_Strict):
    method: Literal["GET", "POST", "PUT", "PATCH"] = "GET"
    path: str = Field(pattern=r"^/")
    query: dict[str, str] = Field(default_factory=dict)
    # Sent as they are with every call to this endpoint (e.g. Prefer: odata.maxpagesize=100)
    headers: dict[Annotated[str, Field(pattern=_HEADER)], str] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _check_template(value, URL_FIELDS)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        for name in value:
            if name.lower() in ("authorization", "proxy-authorization", "cookie"):
                raise ValueError(f"'{name}' may not be set here: a secret never sits in a "
                                 "mapping; use auth and connector.token (from the environment)")
        return value

    @field_validator("query")
    @classmethod
    def _query(cls, value: dict[str, str]) -> dict[str, str]:
        for template in value.values():
            _check_template(template, URL_FIELDS)
        return value

    def placeholders(self) -> set[str]:
        return {name for template in (self.path, *self.query.values())
                for name in _placeholders(template)}


class Endpoints(_Strict):
    create: Endpoint
    find: Endpoint
    add_note: Endpoint
    get: Endpoint
    updates: Endpoint
    health: Endpoint
    notes: Endpoint | None = None  # lists a case's notes: makes add_note safe to repeat

    @model_validator(mode="after")
    def _placeholders_needed(self) -> Endpoints:
        """What each call cannot do without, and {value}, which only lookups have."""
        needs = {"find": ("external_ref", "it is how a retry finds the case it opened"),
                 "get": ("case_id", "it names the case"),
                 "notes": ("case_id", "it names the case"),
                 "updates": ("since", "without it every read starts from the beginning")}
        for name, endpoint in self:
            if endpoint is None:
                continue
            used = endpoint.placeholders()
            if "value" in used:
                raise ValueError(f"{name} uses {{value}}, which only a lookup's endpoint has")
            if name in needs and needs[name][0] not in used:
                wanted, why = needs[name]
                raise ValueError(f"{name} must use {{{wanted}}} in its path or query: {why}")
        return self


class Lookup(_Strict):
    """One more call, made with a value read from an answer ({value}), whose answer is read
    at ``result``: an RT transaction's text, a ticket's custom field."""

    endpoint: Endpoint
    result: PathText


class Auth(_Strict):
    # token: connector.token as it is; oauth2: a token fetched with the OAuth2 client
    # credentials grant (connector.oauth2), renewed when it expires or is refused once
    kind: Literal["token", "oauth2"] = "token"
    header: str = Field(default="Authorization", pattern=_HEADER)
    value: str = "Bearer {token}"

    @field_validator("value")
    @classmethod
    def _value(cls, value: str) -> str:
        if _placeholders(value) != ["token"]:
            raise ValueError("must hold {token} once, e.g. 'Bearer {token}'")
        return value


class CasePaths(_Strict):
    id: PathText = "id"
    external_ref: PathText | None = "external_ref"
    status: PathText = "status"
    response: PathText | None = "response"
    updated_at: PathText | None = "updated_at"


class EventPaths(_Strict):
    id: PathText = "event_id"
    case_id: PathText = "case_id"
    external_ref: PathText | None = "external_ref"
    at: PathText = "at"
    status: PathText | None = "status"
    response: PathText | None = "response"
    actor: PathText | None = "actor"
    cursor: PathText | None = None  # cursor kind "token": each change's own resume token


class Updates(_Strict):
    items: PathText = "items"
    # linked or token pages: the next page's token (or link); absent or null on the last
    next: PathText | None = "next"
    next_kind: Literal["token", "link"] = "token"  # link: a URL to GET as it is
    next_param: str = "after"
    # numbered pages: ?<page_param>=1, 2, … until a page holds fewer than page_size changes
    page_param: str | None = None
    page_size: int | None = Field(default=None, ge=1, le=10_000)
    event: EventPaths = EventPaths()

    @model_validator(mode="after")
    def _one_way_of_paging(self) -> Updates:
        if (self.page_param is None) != (self.page_size is None):
            raise ValueError("page_param and page_size go together: the page number's "
                             "parameter and how many changes a full page holds")
        if self.page_param is not None and self.next is not None:
            raise ValueError("next must be null with page_param: pages are numbered or "
                             "linked, not both")
        return self


class Cursor(_Strict):
    kind: Literal["timestamp", "token"] = "timestamp"
    overlap_seconds: int = Field(default=120, ge=0, le=86_400)
    # How {since} is written for the CRM (strftime, UTC), e.g. '%Y-%m-%d %H:%M:%S';
    # null: ISO 8601 with a Z
    format: str | None = None
    # Move the cursor to the time in the CRM's HTTP Date header when a read is done, so a
    # read that finds nothing still moves it on (the CRM's clock, never the bridge's)
    server_clock: bool = True

    @field_validator("format")
    @classmethod
    def _format(cls, value: str | None) -> str | None:
        if value is not None and "%" not in value:
            raise ValueError("must be a strftime format, e.g. '%Y-%m-%dT%H:%M:%SZ'")
        return value


class RestMapping(BaseMapping):
    """``mappings/rest.yaml``; see the shipped file for every key, commented."""

    auth: Auth | None = Auth()
    endpoints: Endpoints
    lookups: dict[Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_-]*$")], Lookup] = Field(
        default_factory=dict)
    case_body: dict[Annotated[str, AfterValidator(_valid_body_key)], str]
    constituent_fields: list[Literal["name", "address", "postcode", "email", "phone",
                                     "uprn"]] = Field(default_factory=list)
    note_body: dict[Annotated[str, AfterValidator(_valid_body_key)], str] = Field(
        default_factory=lambda: {"text": "{text}", "author": "{author}"})
    case: CasePaths = CasePaths()
    created: PathText = ""
    created_id: PathText | None = None  # the new case's id alone in create's answer
    # a header of create's answer holding the new case's id (OData-EntityId, Location),
    # cut out by created_id_pattern's one group
    created_id_header: str | None = Field(default=None, pattern=_HEADER)
    created_id_pattern: str = r"([^/()]+)\)?$"
    found: PathText = "items"
    notes_list: PathText = "items"
    note_text: PathText = "text"
    updates: Updates = Updates()
    cursor: Cursor = Cursor()
    error_message: PathText = "message"
    # Sent with each create and add_note POST, the same on every try of one outbox row:
    # a CRM that honours it answers a repeat with the first result. None: not sent.
    idempotency_header: str | None = Field(default=None, pattern=_HEADER)
    idempotency_value: str = "{key}"

    @field_validator("lookups")
    @classmethod
    def _lookups(cls, value: dict[str, Lookup]) -> dict[str, Lookup]:
        for name, lookup in value.items():
            used = lookup.endpoint.placeholders()
            if used != {"value"}:
                extra = sorted(used - {"value"})
                raise ValueError(f"{name}.endpoint must use {{value}} and nothing else"
                                 + (f" (not {{{extra[0]}}})" if extra else ""))
        _check_lookups(value, [(f"{name}.result", lookup.result)
                               for name, lookup in value.items()])

        def visit(name: str, trail: tuple[str, ...]) -> None:
            if name in trail:
                raise ValueError(f"{name}: calls itself ({' > '.join((*trail, name))})")
            for nested in parse_path(value[name].result).lookups:
                visit(nested, (*trail, name))

        for name in value:
            visit(name, ())
        return value

    @field_validator("case", "updates")
    @classmethod
    def _lookups_known(cls, value: CasePaths | Updates, info: ValidationInfo
                       ) -> CasePaths | Updates:
        if "lookups" not in info.data:  # refused already: say that once
            return value
        paths = value.event if isinstance(value, Updates) else value
        prefix = "event." if isinstance(value, Updates) else ""
        _check_lookups(info.data["lookups"],
                       [(prefix + k, v) for k, v in paths.model_dump().items()])
        return value

    @field_validator("idempotency_value")
    @classmethod
    def _idempotency_value(cls, value: str) -> str:
        if _placeholders(value) != ["key"]:
            raise ValueError("must hold {key} once, e.g. '{key}' or '\"{key}\"'")
        return value

    @field_validator("created_id_pattern")
    @classmethod
    def _created_id_pattern(cls, value: str) -> str:
        try:
            groups = re.compile(value).groups
        except re.error as exc:
            raise ValueError(f"is not a regular expression: {exc}") from None
        if groups != 1:
            raise ValueError("must have one (group): the id")
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
    def _consistent(self) -> RestMapping:
        shared = {f"constituent_{name}" for name in self.constituent_fields}
        for template in self.case_body.values():
            for name in _placeholders(template):
                if name.startswith("constituent_") and name not in shared:
                    raise ValueError(f"case_body uses {{{name}}} but constituent_fields does "
                                     f"not list '{name.removeprefix('constituent_')}'")
        if self.cursor.kind == "token" and self.updates.event.cursor is None:
            raise ValueError("cursor kind 'token' needs updates.event.cursor: where each "
                             "change's resume token is")
        if "case_id" not in self.endpoints.add_note.placeholders() and not any(
                "case_id" in _placeholders(t) for t in self.note_body.values()):
            raise ValueError("endpoints.add_note must use {case_id} in its path or query, or "
                             "note_body in a field: it names the case the note is for")
        if self.created_id is not None and self.created_id_header is not None:
            raise ValueError("give created_id (a path in the answer) or created_id_header, "
                             "not both")
        return self


def _check_lookups(lookups: Mapping[str, Any], where: list[tuple[str, str | None]]) -> None:
    """Every ``>name`` in these paths names one of ``lookups``."""
    for field, path in where:
        for name in parse_path(path).lookups if path is not None else ():
            if name not in lookups:
                raise ValueError(f"{field}: '{path}' uses " + unknown(
                    "lookup", name, list(lookups)) + "; define it under lookups")


# -- filling templates ----------------------------------------------------------------------


def render(template: str, values: Mapping[str, Any]) -> Any:
    """``template`` filled from ``values``; a lone placeholder keeps its value's type."""
    names = _placeholders(template)
    if len(names) == 1 and template == f"{{{names[0]}}}":
        return values.get(names[0])
    return template.format_map({k: "" if v is None else v for k, v in values.items()})


def render_body(templates: Mapping[str, str], values: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON object from ``templates``; a dotted field name makes nested objects (a part in
    single quotes keeps its dots: ``'customerid_account@odata.bind'``)."""
    body: dict[str, Any] = {}
    for field, template in templates.items():
        *parents, leaf = body_key(field)
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
