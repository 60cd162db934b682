"""The ``rest`` connector's mapping (``mappings/rest.yaml``): what to call, what to send, and
where to find things in the answers. No HTTP here (that is ``rest_client``).

Templates are ``str.format`` strings over the placeholders listed in ``CASE_FIELDS`` (and
``NOTE_FIELDS``, ``URL_FIELDS``); a template that is one placeholder alone keeps the value's
type, so an enquiry with no location sends ``null`` rather than ``""``. Unknown placeholders
are refused when the mapping is loaded, with "did you mean", not when the first enquiry is.

Answers are read through dotted paths (``"data.case.id"``; ``""`` is the whole body) into
small pydantic models (``connectors/rest_answers.py``), so every answer the CRM gives is
validated before any of it is used: a missing id or an unreadable timestamp is a
``MalformedAnswer``.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from connectors.base import BaseMapping
from connectors.rest_paths import PathError, body_key
from connectors.rest_paths import parse as parse_path
from crm_bridge.suggest import unknown

__all__ = [
    "CASE_FIELDS",
    "CONSTITUENT_FIELDS",
    "Endpoint",
    "Lookup",
    "RestMapping",
]

CONSTITUENT_FIELDS = ("name", "address", "postcode", "email", "phone", "uprn")
CASE_FIELDS = ("id", "reference", "category", "service", "crm_target",
               "description", "location", "ward", "member", "channel", "received_at",
               "target_date", *(f"constituent_{name}" for name in CONSTITUENT_FIELDS))
NOTE_FIELDS = ("text", "author", "kind", "case_id")
URL_FIELDS = ("case_id", "external_ref", "since", "value")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def placeholders(template: str) -> list[str]:
    try:
        return [name for _, name, _, _ in string.Formatter().parse(template)
                if name is not None]
    except ValueError as exc:
        raise ValueError(f"'{template}' is not a template: {exc} (write {{{{ and }}}} for a "
                         "literal brace)") from None


def _check_template(template: str, allowed: tuple[str, ...]) -> str:
    for name in placeholders(template):
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
                for name in placeholders(template)}


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
        if placeholders(value) != ["token"]:
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
        if placeholders(value) != ["key"]:
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
        if not any(placeholders(t) == ["id"] for t in value.values()):
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
            for name in placeholders(template):
                if name.startswith("constituent_") and name not in shared:
                    raise ValueError(f"case_body uses {{{name}}} but constituent_fields does "
                                     f"not list '{name.removeprefix('constituent_')}'")
        if self.cursor.kind == "token" and self.updates.event.cursor is None:
            raise ValueError("cursor kind 'token' needs updates.event.cursor: where each "
                             "change's resume token is")
        if "case_id" not in self.endpoints.add_note.placeholders() and not any(
                "case_id" in placeholders(t) for t in self.note_body.values()):
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
