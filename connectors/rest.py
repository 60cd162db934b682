"""The ``rest`` connector: any CRM with a JSON REST API, described entirely by a mapping file.

The mapping (``mappings/rest.yaml``, ``rest_mapping``) names the endpoints, the JSON the
bridge sends and where things are in the answers; the wire client (``rest_client``) does
HTTP and turns every failure into the bridge's errors. This module joins the two into the
``Connector`` protocol:

* ``create_case`` asks the find endpoint for a case carrying the enquiry's id first, so a
  crash or a lost answer after the CRM opened a case never opens a second one (skipped
  when the caller knows no earlier try was made: ``fresh=True``);
* ``add_note`` does the same against the case's notes when the mapping has a ``notes``
  endpoint (the same text already there is the note already added);
* both POSTs carry the mapping's ``idempotency_header`` when it is set, with a key that is
  the same on every try of one outbox row: a look-up misses a write the CRM is still
  carrying out when a timed-out or killed try is repeated, and only a CRM that honours the
  key can answer that repeat with the first result (or 409 while it runs: transient);
* ``fetch_updates`` follows the updates endpoint's pages from the cursor. With a timestamp
  cursor (the CRM's clock, never the bridge's) it asks from ``overlap_seconds`` before the
  cursor, for changes committed late or stamped by a skewed clock; what it reads twice has
  the same event id and is applied once. A page that fails is asked for again where it
  failed (``page_attempts``), since a retry from the cursor would read the overlap again.
  After each page a ``CursorMark`` keeps what was read, and at the end the cursor moves to
  the time of the CRM's first answer (its ``Date`` header), so a run that finds nothing
  still moves on and a run that fails late keeps what it read;
* ``lookups`` make one more call for a value an answer only points at (RT's reply text is
  in the transaction's attachments); their answers are kept for the rest of the read.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from requests.auth import AuthBase

from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    ConnectorContext,
    CursorMark,
    Note,
)
from connectors.rest_answers import (
    FoundCase,
    MalformedAnswer,
    RemoteCase,
    RemoteEvent,
    listed,
    pick,
    value_at,
)
from connectors.rest_auth import HeaderAuth, OAuth2ClientCredentials, OAuth2Settings
from connectors.rest_client import Answer, Paging, RestClient, pages
from connectors.rest_mapping import URL_FIELDS, Endpoint, RestMapping
from connectors.rest_paths import MISSING
from connectors.rest_send import case_values, render, render_body
from connectors.settings_fields import http_base_url
from crm_bridge.errors import ConfigError, PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["RestConnector", "RestSettings"]

log = logging.getLogger(__name__)


class RestSettings(BaseModel):
    """``connector:`` keys for ``type: rest``. Write ``token: ${CRM_TOKEN}`` (or, for OAuth2,
    ``client_secret: ${CRM_CLIENT_SECRET}``) and set the variable in the environment: the
    secret never sits in the file."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the API's base URL, e.g. https://crm.council.example/api")
    token: SecretStr | None = Field(default=None, description="the API token, from the "
                                    "environment; sent as the mapping's auth header says")
    oauth2: OAuth2Settings | None = Field(default=None, description="for a mapping whose "
                                          "auth kind is oauth2: the client-credentials grant")
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    page_attempts: int = Field(default=3, ge=1, le=10,
                               description="tries of one page of the change feed before pull "
                               "stops and resumes from its cursor on a later try")
    page_retry_wait: float = Field(default=0.5, ge=0, le=30,
                                   description="first wait before a page is asked for again")
    verify_tls: bool = True
    ca_bundle: str | None = Field(default=None, description="CA file for a private TLS CA")

    @field_validator("token", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``${CRM_TOKEN:-}`` with the variable unset gives "": that is no token at all."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value)


class RestConnector:
    """Opens, follows and notes cases through the endpoints the mapping names."""

    name: ClassVar[str] = "rest"
    Settings: ClassVar[type[BaseModel]] = RestSettings
    Mapping: ClassVar[type[BaseMapping]] = RestMapping

    def __init__(self, settings: RestSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.mapping: RestMapping = context.mapping  # type: ignore[assignment]
        verify = settings.ca_bundle or settings.verify_tls
        timeout = (settings.connect_timeout_seconds, settings.timeout_seconds)
        self.client = RestClient(settings.url, self._auth(verify, timeout), verify=verify,
                                 timeout=timeout, error_path=self.mapping.error_message)
        self._looked_up: dict[tuple[str, str], Any] = {}

    @classmethod
    def check_settings(cls, settings: BaseModel, mapping: BaseMapping) -> None:
        """ConfigError when the settings lack what the mapping's auth needs (check-config)."""
        assert isinstance(settings, RestSettings) and isinstance(mapping, RestMapping)
        auth = mapping.auth
        if auth is None:
            return
        if auth.kind == "oauth2" and settings.oauth2 is None:
            raise ConfigError("connector.oauth2: the mapping's auth kind is oauth2; give "
                              "token_url, client_id and client_secret: "
                              "${CRM_CLIENT_SECRET} (and scope if the server needs it)")
        if auth.kind == "token" and settings.token is None:
            raise ConfigError("connector.token: the mapping sends an API token "
                              f"({auth.header}); set token: ${{CRM_TOKEN}} "
                              "and export CRM_TOKEN")

    def _auth(self, verify: bool | str, timeout: tuple[float, float]) -> AuthBase | None:
        self.check_settings(self.settings, self.mapping)
        auth = self.mapping.auth
        if auth is None:
            return None
        if auth.kind == "oauth2":
            assert self.settings.oauth2 is not None
            return OAuth2ClientCredentials(self.settings.oauth2, auth.header, auth.value,
                                           timeout=timeout, verify=verify)
        assert self.settings.token is not None
        return HeaderAuth(auth.header, auth.value.format(
            token=self.settings.token.get_secret_value()))

    # -- the Connector protocol ---------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef:
        """Find the case by the enquiry's id first, so a retry never opens a second one;
        ``fresh``: no earlier try was made (the outbox says so), so there is nothing to find.
        The POST's idempotency key covers a case the CRM is still opening (the look-up's gap).
        """
        external_ref = str(enquiry.id)
        if not fresh:
            existing = self._find(external_ref)
            if existing is not None:
                log.info("rest create_case %s: found case %s", enquiry.reference, existing.id)
                return CaseRef(existing.id, created=False)
        values = case_values(self.mapping, enquiry, destination)
        answer = self._answer(self.mapping.endpoints.create, {},
                              json=render_body(self.mapping.case_body, values),
                              key=f"case-{external_ref}")
        case_id = self._created_id(answer)
        log.info("rest create_case %s: opened case %s", enquiry.reference, case_id)
        return CaseRef(case_id, created=True)

    def add_note(self, case_ref: str, note: Note) -> None:
        body = render_body(self.mapping.note_body, {"text": note.text, "author": note.author,
                                                    "kind": note.kind, "case_id": case_ref})
        listing = self.mapping.endpoints.notes
        if listing is not None:
            answer = self._call(listing, {"case_id": case_ref})
            texts = [value_at(item, self.mapping.note_text)
                     for item in self._list(answer, self.mapping.notes_list, "the notes")]
            if note.text in texts:
                log.info("rest add_note %s: already there", case_ref)
                return
        self._call(self.mapping.endpoints.add_note, {"case_id": case_ref}, json=body,
                   key=note.key)

    def get_case(self, case_ref: str) -> CaseSnapshot:
        self._looked_up.clear()
        case = self._case(self._call(self.mapping.endpoints.get, {"case_id": case_ref}),
                          f"case {case_ref}")
        return CaseSnapshot(case.id, case.external_ref, case.status, case.response,
                            case.updated_at)

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        self._looked_up.clear()
        timestamps = self.mapping.cursor.kind == "timestamp"
        start = _parse_time(since) if timestamps else None
        asked = since
        if timestamps:
            cut = start - timedelta(seconds=self.mapping.cursor.overlap_seconds) if start else None
            asked = self._since(cut) if cut else None
        high, marked, kept = start, since, since
        endpoint = self.mapping.endpoints.updates
        # A read with no cursor reads from the start: from the epoch where a filter needs a time
        params = self._query(endpoint, {"since": asked}, {"since": asked or (
            self._since(_EPOCH) if timestamps else "")})
        count = 0
        clock: datetime | None = None
        for answer in pages(self.client, endpoint.method, self._path(endpoint, {}), params,
                            self._paging(), self.settings.page_attempts,
                            self.settings.page_retry_wait, endpoint.headers or None):
            if clock is None:
                clock = _server_time(answer) or datetime.min.replace(tzinfo=UTC)
            for item in self._list(answer.body, self.mapping.updates.items, "the changes"):
                event = self._event(item)
                if timestamps:
                    high = event.at if high is None else max(high, event.at)
                    cursor = _format_time(high)
                else:
                    cursor = event.cursor or marked or ""
                if event.status is None and event.response is None:
                    continue  # nothing the bridge would apply; the mark below covers it
                count += 1
                yield CaseUpdate(event_id=event.id, case_ref=event.case_id,
                                 external_ref=event.external_ref, occurred_at=event.at,
                                 cursor=cursor, crm_status=event.status,
                                 response=event.response, actor=event.actor or "")
                marked = cursor
            reached = _format_time(high) if timestamps and high else marked
            if reached and reached != kept:  # pull stores it with the page's updates
                kept = reached
                yield CursorMark(reached)
        if (timestamps and self.mapping.cursor.server_clock and clock is not None
                and clock > (high or datetime.min.replace(tzinfo=UTC))):
            yield CursorMark(_format_time(clock))
        log.info("rest fetch_updates: %d changes", count)

    def health(self) -> None:
        self._call(self.mapping.endpoints.health, {})

    def close(self) -> None:
        self.client.close()
        closer = getattr(self.client.session.auth, "close", None)
        if closer is not None:
            closer()

    # -- helpers ------------------------------------------------------------------------------
    def _find(self, external_ref: str) -> FoundCase | None:
        answer = self._call(self.mapping.endpoints.find, {"external_ref": external_ref})
        matches = [case for item in self._list(answer, self.mapping.found, "the search")
                   if (case := self._found(item)).external_ref in (None, external_ref)]
        if len(matches) > 1:
            log.warning("rest: %d cases carry one enquiry's id; using %s", len(matches),
                        matches[0].id)
        return matches[0] if matches else None

    def _created_id(self, answer: Answer) -> str:
        mapping = self.mapping
        if mapping.created_id_header is not None:
            header = answer.headers.get(mapping.created_id_header, "")
            found = re.search(mapping.created_id_pattern, header.strip())
            if found is None or not found.group(1):
                raise TransientError(f"the CRM answered the new case without a usable "
                                     f"{mapping.created_id_header} header")
            return found.group(1)
        if mapping.created_id is not None:
            value = value_at(answer.body, mapping.created_id)
            if value is None or isinstance(value, dict | list) or not str(value).strip():
                raise TransientError("the CRM answered the new case without a usable "
                                     f"'{mapping.created_id}'")
            return str(value).strip()
        return self._case(pick(answer.body, mapping.created), "the new case").id

    def _paging(self) -> Paging:
        updates = self.mapping.updates
        return Paging(next_of=lambda body: _token(body, updates.next),
                      next_param=updates.next_param, link=updates.next_kind == "link",
                      page_param=updates.page_param, page_size=updates.page_size or 0,
                      count=lambda body: len(self._list(body, updates.items, "the changes")))

    def _since(self, moment: datetime) -> str:
        moment = moment.astimezone(UTC)
        form = self.mapping.cursor.format
        return moment.strftime(form) if form else _format_time(moment)

    def _values(self, values: dict[str, str | None]) -> dict[str, str | None]:
        return {**dict.fromkeys(URL_FIELDS), **values}

    def _path(self, endpoint: Endpoint, values: dict[str, str | None]) -> str:
        return endpoint.path.format_map({k: quote(v or "", safe="")
                                         for k, v in self._values(values).items()})

    def _query(self, endpoint: Endpoint, values: dict[str, str | None],
               within: dict[str, str] | None = None) -> dict[str, str]:
        """The endpoint's query; a parameter whose value comes out empty is left out. A value
        with more than the placeholder in it ("modifiedon gt {since}") takes ``within``'s."""
        full = self._values(values)
        query = {key: render(template, full if _lone(template) else {**full, **(within or {})})
                 for key, template in endpoint.query.items()}
        return {key: str(value) for key, value in query.items() if value not in (None, "")}

    def _answer(self, endpoint: Endpoint, values: dict[str, str | None], json: Any = None,
                key: str | None = None) -> Answer:
        header = self.mapping.idempotency_header
        sent = (header, self.mapping.idempotency_value.format(key=key)) if header and key else None
        return self.client.answer(endpoint.method, self._path(endpoint, values),
                                  params=self._query(endpoint, values) or None, json=json,
                                  key=sent, headers=endpoint.headers or None)

    def _call(self, endpoint: Endpoint, values: dict[str, str | None], json: Any = None,
              key: str | None = None) -> Any:
        return self._answer(endpoint, values, json, key).body

    def _lookup(self, name: str, value: Any) -> Any:
        """The mapping's lookup ``name`` for ``value``: one call, kept for this read."""
        known = (name, str(value))
        if known not in self._looked_up:
            lookup = self.mapping.lookups[name]
            try:
                body = self._call(lookup.endpoint, {"value": str(value)})
            except PermanentError as exc:  # gone, or not the bridge's to see
                log.info("rest lookup %s: %s", name, type(exc).__name__)
                body = MISSING
            self._looked_up[known] = (MISSING if body is MISSING
                                      else pick(body, lookup.result, self._lookup))
        return self._looked_up[known]

    def _found(self, data: Any) -> FoundCase:
        try:
            return FoundCase.read(data, self.mapping, "the CRM answered with a case found")
        except MalformedAnswer as exc:
            raise TransientError(str(exc)) from None

    def _case(self, data: Any, what: str) -> RemoteCase:
        try:
            return RemoteCase.read(data, self.mapping, f"the CRM answered with {what}",
                                   self._lookup)
        except MalformedAnswer as exc:
            raise TransientError(str(exc)) from None

    def _event(self, data: Any) -> RemoteEvent:
        try:
            return RemoteEvent.read(data, self.mapping, "the CRM answered with a change",
                                    self._lookup)
        except MalformedAnswer as exc:
            raise TransientError(str(exc)) from None

    def _list(self, data: Any, path: str, what: str) -> list[Any]:
        try:
            return listed(data, path, f"the CRM answered {what}")
        except MalformedAnswer as exc:
            raise TransientError(str(exc)) from None


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _lone(template: str) -> bool:
    """The template is one placeholder and nothing else."""
    return template.startswith("{") and template.endswith("}") and template.count("{") == 1


def _token(body: Any, path: str | None) -> Any:
    found = value_at(body, path)
    return None if isinstance(found, dict | list) else found


def _server_time(answer: Answer) -> datetime | None:
    """The CRM's clock when it answered (its HTTP Date header), if it sent a readable one."""
    text = answer.headers.get("Date")
    if not text:
        return None
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        log.warning("rest: cursor %r is not a timestamp; reading every change again", value)
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
