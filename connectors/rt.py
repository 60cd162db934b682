"""The ``rt`` connector: enquiries as tickets in Request Tracker 5, over its REST 2.0 API.

Each service destination is an RT queue (``crm_target`` = the queue's name). The
enquiry's text is the ticket's first message; custom fields carry its reference,
id, member, ward, category and target date (``mappings/rt.yaml``). Notes become
comments. The service's reply (RT's "correspondence") comes back as the enquiry's
response, and RT's statuses map to the bridge's through the mapping.

Finding changes: TicketSQL on ``LastUpdated`` names the bridge's tickets changed
since the cursor, and each one's history gives the changes themselves; a change's
event id is its RT transaction id, so reading one twice is harmless. The cursor is
an RT timestamp (RT's clock, never the bridge's), re-read with an overlap
(``overlap_seconds``) for transactions committed late or stamped by another RT
node's clock. The TicketSQL date is widened by a day because RT reads it in the
RT user's timezone; the exact cut is made here, on the UTC times RT returns.

A history is read only when someone may have changed the ticket: not for a ticket
nobody touched after it was opened (the bridge's own push), nor for one already read
whose last change is still the bridge's own, at the same ``LastUpdated`` (the cursor
remembers those for the tickets inside the overlap). The bridge is the account that
opened the ticket (its ``Creator``): the tickets carrying an enquiry id are its own.
Tickets are worked through in ``LastUpdated`` order, and a ``CursorMark`` after each
history read (and after each page of tickets passed over) keeps the progress, so a read
that fails part-way resumes with the ticket that failed: behind a CRM failing some share of
calls, a retry costs the search and that ticket's history, not every history again.

The wire client (``rt_client``) is kept apart from the mapping (``rt_mapping``) and
from what ``crm-bridge connector setup`` / ``check`` do (``rt_setup``).
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from requests.auth import AuthBase

from connectors import rt_client, rt_setup
from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    ConnectorContext,
    CursorMark,
    Finding,
    Note,
    OutgoingAttachment,
)
from connectors.rt_client import AttachmentRow, RtClient, TicketRow, TokenAuth
from connectors.rt_mapping import (
    RtMapping,
    Unit,
    html_to_text,
    note_text,
    pick_body,
    ticket_payload,
    units_from_history,
)
from connectors.settings_fields import http_base_url
from crm_bridge.errors import PermanentError
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["RtConnector", "RtSettings"]

log = logging.getLogger(__name__)

_CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SEARCH_FIELDS = "Created,Creator,LastUpdated,LastUpdatedBy,Status,CustomFields,Requestor"
# RT stamps a ticket's custom fields a moment after opening it; a ticket whose last change
# is its creator's, this close to its creation, has had nothing done to it since.
_OPENED_WITHIN = timedelta(seconds=2)
_ATTACHMENT_SUBJECT = "crm-bridge attachment {key}"

Seen = dict[str, tuple[str, str]]  # ticket id → (LastUpdated, LastUpdatedBy) when last read


class RtSettings(BaseModel):
    """``connector:`` keys for ``type: rt``. Secrets come from the environment: write
    ``token: ${RT_TOKEN}`` (or ``password: ${RT_PASSWORD}``), never the secret itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="RT's base URL, e.g. https://rt.council.example")
    token: SecretStr | None = Field(default=None, description="an RT auth token")
    username: str | None = Field(default=None, description="for basic auth, with password")
    password: SecretStr | None = None
    constituent_as_requestor: bool = Field(
        default=False, description="make the constituent the ticket's requestor, so RT's own "
                                   "e-mails (autoreply, the service's replies) go to them")
    timeout_seconds: float = Field(default=30, gt=0, le=300,
                                   description="seconds RT may take to answer one call")
    connect_timeout_seconds: float = Field(default=10, gt=0, le=60)
    pause_after_timeout_seconds: float = Field(
        default=300, ge=0, le=3600,
        description="after a call RT did not answer in time, fail every call at once for "
                    "this long (0: never), so a hanging RT costs a sync one timeout")
    read_attempts: int = Field(
        default=3, ge=1, le=10,
        description="tries of one read (a GET) that failed for a passing reason, before the "
                    "failure goes to sync (a call RT did not answer in time is not repeated)")
    read_retry_wait: float = Field(default=0.5, ge=0, le=10,
                                   description="seconds before a read is asked again; doubles")
    overlap_seconds: int = Field(default=300, ge=0, le=86_400)
    verify_tls: bool = True
    ca_bundle: str | None = Field(default=None, description="CA file for a private TLS CA")

    @field_validator("token", "password", "username", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``${RT_TOKEN:-}`` with the variable unset gives "": that is no token at all."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value).removesuffix("/REST/2.0").rstrip("/")

    @model_validator(mode="after")
    def _one_login(self) -> Self:
        if self.token is None and (self.username is None or self.password is None):
            raise ValueError("give token: ${RT_TOKEN}, or username: with password: "
                             "${RT_PASSWORD} (and set the variable in the environment)")
        if self.token is not None and (self.username or self.password):
            raise ValueError("give either token or username and password, not both")
        return self

    def auth(self) -> AuthBase | tuple[str, str]:
        if self.token is not None:
            return TokenAuth(self.token.get_secret_value())
        assert self.username is not None and self.password is not None  # _one_login
        return (self.username, self.password.get_secret_value())


class RtConnector:
    """Opens, follows and comments on tickets in one RT; see the module docstring."""

    name: ClassVar[str] = "rt"
    Settings: ClassVar[type[BaseModel]] = RtSettings
    Mapping: ClassVar[type[BaseMapping]] = RtMapping

    def __init__(self, settings: RtSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.mapping: RtMapping = context.mapping  # type: ignore[assignment]
        verify: bool | str = settings.ca_bundle or settings.verify_tls
        self.client = RtClient(settings.url, settings.auth(), verify=verify,
                               timeout=(settings.connect_timeout_seconds,
                                        settings.timeout_seconds),
                               pause_after_timeout=settings.pause_after_timeout_seconds,
                               read_attempts=settings.read_attempts,
                               read_retry_wait=settings.read_retry_wait)
        self._ready_queues: set[str] = set()

    # -- the Connector protocol ---------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef:
        """Find the ticket by the enquiry's id first, so a retry never opens a second one;
        ``fresh``: the caller knows no earlier attempt was made, so there is none to find."""
        self._ensure_queue(destination.crm_target)
        existing = None if fresh else self._find(str(enquiry.id))
        if existing is not None:
            log.info("rt create_case %s: found ticket %s", enquiry.reference, existing)
            return CaseRef(existing, created=False)
        payload = ticket_payload(self.mapping, enquiry, destination,
                                 self.settings.constituent_as_requestor)
        ticket_id = self.client.create_ticket(payload)
        log.info("rt create_case %s: opened ticket %s", enquiry.reference, ticket_id)
        return CaseRef(ticket_id, created=True)

    def add_note(self, case_ref: str, note: Note) -> None:
        self.client.comment(_ticket_id(case_ref), note_text(self.mapping, note))

    def get_case(self, case_ref: str) -> CaseSnapshot:
        ticket = self.client.ticket(_ticket_id(case_ref))
        replies = [u for u in units_from_history(ticket, self.client.history(ticket.id))
                   if u.reply is not None]
        response = self._reply(replies[-1])[0] if replies else None
        return CaseSnapshot(ticket.id, ticket.cf(self.mapping.external_id_field), ticket.status,
                            response, ticket.last_updated)

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        start, seen = _parse_cursor(since)
        cut = start - timedelta(seconds=self.settings.overlap_seconds) if start else None
        query = f"'CF.{{{self.mapping.external_id_field}}}' IS NOT NULL"
        if cut is not None:
            wide = cut - timedelta(days=1)  # RT reads the date in its user's timezone
            query += f" AND LastUpdated > '{wide:%Y-%m-%d %H:%M:%S}'"
        changed = [row for page in self.client.search_pages(query, _SEARCH_FIELDS)
                   for row in page if cut is None or row.last_updated >= cut]
        changed.sort(key=lambda row: (row.last_updated, int(row.id)))
        mark, read, count, done = since or "", 0, 0, 0
        size = rt_client.PER_PAGE
        for index, row in enumerate(changed, 1):
            if not (_untouched(row) or (_by_creator(row) and seen.get(row.id) == _stamp(row))):
                read += 1
                units = sorted((unit for unit in units_from_history(row,
                                                                    self.client.history(row.id))
                                if cut is None or unit.txn.created >= cut),
                               key=lambda unit: int(unit.txn.id))
                for unit in units:
                    count += 1
                    yield self._update(unit, mark)
            elif index % size and index < len(changed):
                continue  # tickets passed over are marked a page at a time
            mark, seen = self._advance(changed[done:index], start, seen)
            done = index
            yield CursorMark(mark)
        log.info("rt fetch_updates: %d tickets changed since the cursor, %d histories read, "
                 "%d updates", len(changed), read, count)

    def _advance(self, rows: list[TicketRow], start: datetime | None, seen: Seen
                 ) -> tuple[str, Seen]:
        """The cursor past ``rows`` (the tickets read since the last mark, in LastUpdated
        order), remembering the bridge's own tickets inside the overlap as read."""
        high = max(rows[-1].last_updated, start) if start else rows[-1].last_updated
        keep = high - timedelta(seconds=self.settings.overlap_seconds)
        seen = {ticket: stamp for ticket, stamp in seen.items() if _when(stamp[0]) >= keep}
        seen.update((row.id, _stamp(row)) for row in rows
                    if row.last_updated >= keep and _by_creator(row))
        return _cursor(high, seen), seen

    def health(self) -> None:
        self.client.info()

    def close(self) -> None:
        self.client.close()

    # -- optional capability: SendsAttachments -----------------------------------------------
    def add_attachment(self, case_ref: str, attachment: OutgoingAttachment) -> str | None:
        """The file as an attachment on a comment on the ticket, its subject carrying the
        attachment's key: a repeat (after a reply lost on the way back) finds that comment
        and adds nothing. Returns the link to the file in RT's web pages."""
        ticket = _ticket_id(case_ref)
        subject = _ATTACHMENT_SUBJECT.format(key=attachment.key)
        link = self._attachment_link(ticket, subject, attachment.filename)
        if link is not None:
            log.info("rt add_attachment: ticket %s already has it", ticket)
            return link
        self.client.comment(ticket, f"File attached by crm-bridge: {attachment.filename}",
                            subject=subject, files=[(attachment.filename,
                                                     attachment.content_type, attachment.data)])
        return self._attachment_link(ticket, subject, attachment.filename)

    def _attachment_link(self, ticket: str, subject: str, filename: str) -> str | None:
        parts = self.client.ticket_attachments(ticket)
        txns = {p.transaction_id for p in parts if p.subject == subject and p.transaction_id}
        for part in parts:
            if part.transaction_id in txns and part.filename == filename:
                return self._link(part.transaction_id, part)
        return None

    def _link(self, txn_id: str, part: AttachmentRow) -> str:
        return (f"{self.client.base_url}/Ticket/Attachment/{txn_id}/{part.id}/"
                f"{quote(part.filename)}")

    # -- optional capability: SupportsSetup ---------------------------------------------------
    def check(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        return rt_setup.check(self.client, self.mapping, destinations)

    def setup(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        self._ready_queues.clear()
        return rt_setup.setup(self.client, self.mapping, destinations)

    # -- helpers ------------------------------------------------------------------------------
    def _ensure_queue(self, name: str) -> None:
        """Refuse to create in a queue that lacks the mapping's custom fields: RT would
        open the ticket and silently drop their values, the external id among them."""
        if name in self._ready_queues:
            return
        queue = self.client.queue(name)
        if queue is None:
            raise PermanentError(f"RT has no queue '{name}': run `crm-bridge connector setup`, "
                                 "or correct the service's crm_target")
        missing = [spec.name for spec in self.mapping.custom_fields.values()
                   if spec.name not in queue.custom_field_names()]
        if missing:
            raise PermanentError(
                f"RT queue '{name}' lacks the custom field(s) {', '.join(missing)} (or the "
                "bridge's RT account lacks SeeCustomField): run `crm-bridge connector check`")
        self._ready_queues.add(name)

    def _find(self, external_id: str) -> str | None:
        query = f"'CF.{{{self.mapping.external_id_field}}}' = '{external_id}'"
        for row in self.client.search_tickets(query, "LastUpdated,Status"):
            return row.id
        return None

    def _update(self, unit: Unit, cursor: str) -> CaseUpdate:
        """``cursor``: the last mark before the page holding this update (safe to resume
        from: everything after it is read again)."""
        response, files = self._reply(unit) if unit.reply is not None else (None, ())
        actor = (unit.reply or unit.txn).creator.id
        return CaseUpdate(
            event_id=unit.event_id, case_ref=unit.ticket.id,
            external_ref=unit.ticket.cf(self.mapping.external_id_field),
            occurred_at=unit.txn.created, cursor=cursor,
            crm_status=unit.status, response=response, actor=actor, attachments=files)

    def _reply(self, unit: Unit) -> tuple[str, tuple[str, ...]]:
        """The reply's text and links to its attached files in RT's web interface."""
        assert unit.reply is not None
        txn_id = unit.reply.id
        parts = self.client.transaction_attachments(txn_id)
        files = tuple(self._link(txn_id, p) for p in parts if p.filename)
        body = pick_body([(p.id, p.filename, p.content_type) for p in parts])
        text = ""
        if body is not None:
            raw = base64.b64decode(self.client.attachment(body[0]).content or b"")
            text = raw.decode("utf-8", errors="replace").strip()
            if body[1] == "text/html":
                text = html_to_text(text)
        if not text:
            text = "(the reply has no text: see its attachments)" if files else "(empty reply)"
        return text, files


def _ticket_id(case_ref: str) -> str:
    ref = case_ref.strip().removeprefix("#")
    if not ref.isdigit():
        raise PermanentError(f"'{case_ref}' is not an RT ticket number")
    return ref


def _by_creator(row: TicketRow) -> bool:
    """The ticket's last change is its creator's: the bridge, which opened it."""
    return (row.creator is not None and row.last_updated_by is not None
            and row.creator.id == row.last_updated_by.id)


def _untouched(row: TicketRow) -> bool:
    """Nobody but its creator has changed the ticket since it was opened: nothing to read."""
    return (row.created is not None and _by_creator(row)
            and row.last_updated - row.created <= _OPENED_WITHIN)


def _stamp(row: TicketRow) -> tuple[str, str]:
    return (row.last_updated.strftime(_CURSOR_FORMAT),
            row.last_updated_by.id if row.last_updated_by else "")


def _when(text: str) -> datetime:
    return datetime.strptime(text, _CURSOR_FORMAT).replace(tzinfo=UTC)


def _cursor(high: datetime, seen: Seen) -> str:
    """``<RT time>``, then the tickets inside the overlap already read, as JSON."""
    text = high.strftime(_CURSOR_FORMAT)
    if seen:
        text += " " + json.dumps({k: list(v) for k, v in sorted(seen.items())},
                                 separators=(",", ":"))
    return text


def _parse_cursor(since: str | None) -> tuple[datetime | None, Seen]:
    if not since:
        return None, {}
    stamp, _, tail = since.partition(" ")
    try:
        start = _when(stamp)
        seen: Seen = {}
        if tail:
            for ticket, (updated, by) in json.loads(tail).items():
                _when(updated)
                seen[str(ticket)] = (str(updated), str(by))
        return start, seen
    except (ValueError, TypeError, AttributeError):
        log.warning("rt: the cursor is not one this connector wrote; reading every ticket again")
        return None, {}
