"""The ``open311`` connector: enquiries as Open311 GeoReport v2 service requests.

Each service destination maps to a ``service_code`` in ``mappings/open311.yaml``. A create
is ``POST requests`` with the api_key, jurisdiction_id, a location (lat/long when the
enquiry's location is a pair of coordinates, else address_string; address_id only when
the council lets the constituent's UPRN go), the mapping's ``attribute[code]`` values and
only the contact details ``connector.contact_fields`` lists (none by default).

Idempotency: every request carries the enquiry's id in a marker the mapping names (a
line at the end of the description, an attribute, or both). Before a repeat create the
bridge lists the service's requests since the enquiry arrived (a day earlier, for the
server's clock; at most ``search_window_days`` back) and takes the one carrying the
marker; ``fresh=True`` (the outbox shows no earlier attempt) skips that look-up. A server
that answers with a token rather than an id is asked ``GET tokens/…`` at once; if the id
is not ready, ``token:<token>`` is kept as the case reference and resolved again on each
later call that needs the id. The request is never posted twice
for it: updates name the enquiry by the marker, not by the reference.

Changes come back from mySociety's ``servicerequestupdates`` extension when the server
offers it (``updates: auto`` asks once), each under its ``update_id``; otherwise from
``GET requests`` with ``updated_after`` (the parameter is a setting: GeoReport v2 itself
has none), each change of a request under its id, time and status. Both are read from
the cursor (the server's own timestamps) minus an overlap, again from the newest time
read until a read brings nothing new, so a server that caps its answers is read in
full; re-read changes keep their ids and are applied once.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from pydantic import BaseModel

from connectors import open311_check
from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    ConnectorContext,
    CursorMark,
    Finding,
    Note,
)
from connectors.open311_mapping import (
    Open311Mapping,
    has_marker,
    marked_id,
    note_text,
    request_form,
)
from connectors.open311_settings import Open311Settings
from connectors.open311_wire import Open311Wire, server_errors
from crm_bridge.errors import MisconfiguredError, PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["Open311Connector", "Open311Settings"]

log = logging.getLogger(__name__)

TOKEN_PREFIX = "token:"  # noqa: S105 (a case reference prefix, not a secret)
UPDATES = "servicerequestupdates"
_WIRE_TIME = "%Y-%m-%dT%H:%M:%SZ"
_IDS_PER_READ = 50  # service_request_ids in one GET requests (they go in its URL)


@dataclass(frozen=True)
class Change:
    """One change as the server lists it, before it is matched to an enquiry."""

    event_id: str
    request_id: str
    at: datetime
    status: str | None
    response: str | None
    external_ref: str | None = None
    own: bool = False  # the bridge's own note, or not the bridge's: read past, not applied


class Open311Connector:
    """Opens and follows service requests on one GeoReport v2 server."""

    name: ClassVar[str] = "open311"
    Settings: ClassVar[type[BaseModel]] = Open311Settings
    Mapping: ClassVar[type[BaseMapping]] = Open311Mapping

    def __new__(cls, settings: Open311Settings, context: ConnectorContext) -> Open311Connector:
        """With ``media_folder`` set, the connector that can put photos on a request
        (``SendsAttachments``); without, one that cannot, so photos stay in the bridge."""
        if cls is Open311Connector and settings.media_folder is not None:
            from connectors.open311_media import Open311MediaConnector

            cls = Open311MediaConnector
        return super().__new__(cls)

    def __init__(self, settings: Open311Settings, context: ConnectorContext) -> None:
        self.settings = settings
        self.base_dir = context.base_dir
        self.mapping: Open311Mapping = context.mapping  # type: ignore[assignment]
        key = settings.api_key.get_secret_value() if settings.api_key else None
        self.wire = Open311Wire(
            settings.url, settings.format, api_key=key,
            jurisdiction_id=settings.jurisdiction_id,
            timeout=(settings.connect_timeout_seconds, settings.timeout_seconds),
            verify=settings.ca_bundle or settings.verify_tls)
        self._tokens: dict[str, str] = {}  # token → service_request_id, once resolved
        self._refs: dict[str, str | None] = {}  # service_request_id → enquiry id
        self._source: str | None = None if settings.updates == "auto" else settings.updates

    # -- the Connector protocol ---------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef:
        """Look for the request an earlier try opened (unless ``fresh``), then POST one."""
        spec = self.mapping.service(destination)
        if spec is None:
            raise PermanentError(f"mappings/open311.yaml has no service for "
                                 f"'{destination.crm_target}': add it under services "
                                 "(run `crm-bridge connector check`)")
        enquiry_id = str(enquiry.id)
        if not fresh:
            existing = self._find(enquiry_id, spec.code, enquiry.received_at)
            if existing is not None:
                log.info("open311 create_case %s: found request %s", enquiry.reference,
                         existing)
                return CaseRef(existing, created=False)
        form = request_form(self.mapping, spec, enquiry, destination,
                            self.settings.contact_fields)
        answer = _first(self.wire.call("POST", "requests", form=form, key=True))
        request_id = _text(answer.get("service_request_id"))
        if request_id is None:
            token = _text(answer.get("token"))
            if token is None and server_errors(answer):  # an error list, sent with HTTP 200
                raise PermanentError("the Open311 server refused POST requests: "
                                     + "; ".join(server_errors(answer)))
            if token is None:
                raise TransientError("the Open311 server accepted POST requests but answered "
                                     "with neither service_request_id nor token")
            request_id = self._resolve_token(token) or f"{TOKEN_PREFIX}{token}"
        self._refs[request_id] = enquiry_id
        log.info("open311 create_case %s: opened request %s", enquiry.reference, request_id)
        return CaseRef(request_id, created=True)

    def add_note(self, case_ref: str, note: Note) -> None:
        """A note is a ``POST servicerequestupdates`` (mySociety's extension): GeoReport v2
        itself cannot add to a request. ``note.key`` goes as its update_id."""
        request_id = self._request_id(case_ref)
        if self._updates_source() != UPDATES:
            raise PermanentError("this Open311 server takes no updates to a request "
                                 "(no servicerequestupdates): the note cannot be added; "
                                 "tell the service by other means")
        form = [("service_request_id", request_id),
                ("update_id", note.key or uuid.uuid4().hex),
                ("updated_datetime", datetime.now(UTC).strftime(_WIRE_TIME)),
                ("status", "open"), ("description", note_text(self.mapping, note))]
        self.wire.call("POST", UPDATES, form=form, key=True)

    def get_case(self, case_ref: str) -> CaseSnapshot:
        request_id = self._request_id(case_ref)
        found = _items(self.wire.call("GET", "requests", [("service_request_id", request_id)]))
        if not found:
            raise PermanentError(f"the Open311 server has no request {request_id}")
        item = found[0]
        return CaseSnapshot(request_id, marked_id(self.mapping, item),
                            str(item.get("status") or ""), _text(item.get("status_notes")),
                            _time(item.get("updated_datetime")))

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        start = _time(since)
        if since and start is None:
            log.warning("open311: cursor %r is not a timestamp; reading every change again",
                        since)
        if start is not None:
            cut = start - timedelta(seconds=self.settings.overlap_seconds)
        else:  # the first read: a window on the bridge's clock, as no cursor is held yet
            cut = datetime.now(UTC) - timedelta(days=self.settings.search_window_days)
        source = self._updates_source()
        high, marked = start, start
        seen: set[str] = set()
        count = 0
        while True:
            changes = [c for c in self._changes(source, cut) if c.event_id not in seen]
            if not changes:
                break
            changes.sort(key=lambda c: c.at)
            if source == UPDATES:
                self._learn_refs({c.request_id for c in changes if not c.own})
            for change in changes:
                seen.add(change.event_id)
                high = change.at if high is None else max(high, change.at)
                if change.own:
                    continue
                marked = high
                count += 1
                yield CaseUpdate(
                    event_id=change.event_id, case_ref=change.request_id,
                    external_ref=change.external_ref or self._refs.get(change.request_id),
                    occurred_at=change.at, cursor=_wire_time(high), crm_status=change.status,
                    response=change.response, actor="open311")
            if high is not None and high != marked:
                yield CursorMark(_wire_time(high))  # read past what is not to be applied
                marked = high
            newest = changes[-1].at
            if newest <= cut:
                break
            cut = newest
        log.info("open311 fetch_updates since %s: %d changes (%s)", since, count, source)

    def health(self) -> None:
        """GET services; and, where changes come from servicerequestupdates (which takes
        the api_key on reads), one read of it, so a refused key shows here."""
        self.wire.call("GET", "services")
        if self._source is None:
            self._updates_source()
        elif self._source == UPDATES:
            self._probe()

    def close(self) -> None:
        self.wire.close()

    # -- optional capability: SupportsSetup ---------------------------------------------------
    def check(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        return open311_check.check(self, destinations)

    def setup(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        """An Open311 server's services are the council's to define: nothing to create."""
        return open311_check.check(self, destinations)

    # -- helpers ------------------------------------------------------------------------------
    def updates_source(self) -> str:
        return self._updates_source()

    def _updates_source(self) -> str:
        """servicerequestupdates when the server answers it (asked once), else requests."""
        if self._source is None:
            try:
                self._probe()
            except (MisconfiguredError, PermanentError):
                self._source = "requests"
            else:
                self._source = UPDATES
            log.info("open311: changes are read from %s", self._source)
        return self._source

    def _probe(self) -> None:
        since = (datetime.now(UTC) - timedelta(hours=1)).strftime(_WIRE_TIME)
        self.wire.call("GET", UPDATES, [("start_date", since)], key=True)

    def _find(self, enquiry_id: str, code: str, received: datetime) -> str | None:
        """The request carrying the enquiry's marker, among the service's requests since
        the enquiry arrived (a day's margin for the server's clock), within the window."""
        now = datetime.now(UTC)  # a search window, not a cursor: the bridge's clock will do
        window = timedelta(days=self.settings.search_window_days)
        start = max(received - timedelta(days=1), now - window)
        params = [("service_code", code), ("start_date", _wire_time(start)),
                  ("end_date", _wire_time(now + timedelta(days=1)))]
        for item in _items(self.wire.call("GET", "requests", params)):
            if has_marker(self.mapping, item, enquiry_id):
                request_id = _text(item.get("service_request_id"))
                if request_id is not None:
                    return request_id
        return None

    def _resolve_token(self, token: str) -> str | None:
        if token in self._tokens:
            return self._tokens[token]
        try:
            answer = self.wire.call("GET", f"tokens/{token}")
        except PermanentError as exc:  # some servers refuse a token they have not processed
            log.info("open311: token not resolved yet (%s)", type(exc).__name__)
            return None
        found = _text(_first(answer).get("service_request_id")) if _items(answer) else None
        if found is not None:
            self._tokens[token] = found
        return found

    def _request_id(self, case_ref: str) -> str:
        """The server's id for a case reference; a token is resolved (TransientError while
        the server has not given the request its id yet)."""
        if not case_ref.startswith(TOKEN_PREFIX):
            return case_ref
        token = case_ref.removeprefix(TOKEN_PREFIX)
        found = self._resolve_token(token)
        if found is None:
            raise TransientError(f"the Open311 server has not yet given an id to the request "
                                 f"it accepted under token {token}; trying again later")
        return found

    def _changes(self, source: str, cut: datetime) -> list[Change]:
        if source == UPDATES:
            params = [("start_date", _wire_time(cut))]
            return [c for item in _items(self.wire.call("GET", UPDATES, params, key=True))
                    if (c := self._update_change(item)) is not None]
        params = [(self.settings.updated_after_param, _wire_time(cut))]
        return [c for item in _items(self.wire.call("GET", "requests", params))
                if (c := self._request_change(item)) is not None]

    def _update_change(self, item: Any) -> Change | None:
        update_id = _text(item.get("update_id")) if isinstance(item, dict) else None
        request_id = _text(item.get("service_request_id")) if update_id else None
        at = _time(item.get("updated_datetime")) if request_id else None
        if update_id is None or request_id is None or at is None:
            raise TransientError("the Open311 server listed an update without update_id, "
                                 "service_request_id or a readable updated_datetime")
        text = _text(item.get("description"))
        media = _text(item.get("media_url")) or ""
        base = self.settings.media_url
        own = ((text is not None and self.mapping.note_marker in text)
               or (base is not None and media.startswith(base + "/")))  # a photo it sent
        return Change(f"update:{update_id}", request_id, at, _text(item.get("status")),
                      text, own=own)

    def _request_change(self, item: Any) -> Change | None:
        request_id = _text(item.get("service_request_id")) if isinstance(item, dict) else None
        at = (_time(item.get("updated_datetime")) or _time(item.get("requested_datetime"))
              if request_id else None)
        if request_id is None or at is None:
            raise TransientError("the Open311 server listed a request without "
                                 "service_request_id or a readable date")
        status = _text(item.get("status"))
        ref = marked_id(self.mapping, item)
        return Change(f"request:{request_id}:{_wire_time(at)}:{status}", request_id, at,
                      status, _text(item.get("status_notes")), external_ref=ref,
                      own=ref is None)  # not one of the bridge's requests: read past it

    def _learn_refs(self, request_ids: set[str]) -> None:
        """Which enquiry each request belongs to, from its marker: one GET for all the
        requests an update names that this connector has not met yet."""
        unknown = sorted(r for r in request_ids if r not in self._refs)
        for start in range(0, len(unknown), _IDS_PER_READ):
            chunk = unknown[start:start + _IDS_PER_READ]
            listed = _items(self.wire.call("GET", "requests",
                                           [("service_request_id", ",".join(chunk))]))
            for item in listed:
                request_id = _text(item.get("service_request_id"))
                if request_id is not None:
                    self._refs[request_id] = marked_id(self.mapping, item)


def _items(answer: Any) -> list[dict[str, Any]]:
    if isinstance(answer, dict):
        answer = [answer]
    if not isinstance(answer, list):
        raise TransientError("the Open311 server answered with something that is not a list")
    return [item for item in answer if isinstance(item, dict)]


def _first(answer: Any) -> dict[str, Any]:
    items = _items(answer)
    if not items:
        raise TransientError("the Open311 server answered with an empty list")
    return items[0]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _wire_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_WIRE_TIME)
