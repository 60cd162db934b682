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

The wire client (``rt_client``) is kept apart from the mapping (``rt_mapping``) and
from what ``crm-bridge connector setup`` / ``check`` do (``rt_setup``).
"""

from __future__ import annotations

import base64
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar, Self
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator
from requests.auth import AuthBase

from connectors import rt_setup
from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    ConnectorContext,
    Finding,
    Note,
)
from connectors.rt_client import RtClient, TokenAuth
from connectors.rt_mapping import (
    RtMapping,
    Unit,
    html_to_text,
    note_text,
    pick_body,
    ticket_payload,
    units_from_history,
)
from crm_bridge.errors import PermanentError
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["RtConnector", "RtSettings"]

log = logging.getLogger(__name__)

_CURSOR_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
_SEARCH_FIELDS = "LastUpdated,Status,CustomFields,Requestor"


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
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
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
        value = value.strip().rstrip("/")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// on a trusted network)")
        return value.removesuffix("/REST/2.0").rstrip("/")

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
                                        settings.timeout_seconds))
        self._ready_queues: set[str] = set()

    # -- the Connector protocol ---------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination) -> CaseRef:
        """Find the ticket by the enquiry's id first, so a retry never opens a second one."""
        self._ensure_queue(destination.crm_target)
        existing = self._find(str(enquiry.id))
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

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate]:
        start = _parse_cursor(since)
        cut = start - timedelta(seconds=self.settings.overlap_seconds) if start else None
        query = f"'CF.{{{self.mapping.external_id_field}}}' IS NOT NULL"
        if cut is not None:
            wide = cut - timedelta(days=1)  # RT reads the date in its user's timezone
            query += f" AND LastUpdated > '{wide:%Y-%m-%d %H:%M:%S}'"
        # Ordered by id, which never changes, so a ticket updated while the pages are
        # read cannot shift another one out of sight.
        changed = [row for row in self.client.search_tickets(query, _SEARCH_FIELDS)
                   if cut is None or row.last_updated >= cut]
        units = [unit for row in changed
                 for unit in units_from_history(row, self.client.history(row.id))
                 if cut is None or unit.txn.created >= cut]
        units.sort(key=lambda unit: int(unit.txn.id))
        log.info("rt fetch_updates since %s: %d tickets changed, %d updates", since,
                 len(changed), len(units))
        high = start
        for unit in units:
            high = unit.txn.created if high is None else max(high, unit.txn.created)
            yield self._update(unit, high)

    def health(self) -> None:
        self.client.info()

    def close(self) -> None:
        self.client.close()

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

    def _update(self, unit: Unit, high: datetime) -> CaseUpdate:
        response, files = self._reply(unit) if unit.reply is not None else (None, ())
        actor = (unit.reply or unit.txn).creator.id
        return CaseUpdate(
            event_id=unit.event_id, case_ref=unit.ticket.id,
            external_ref=unit.ticket.cf(self.mapping.external_id_field),
            occurred_at=unit.txn.created, cursor=high.strftime(_CURSOR_FORMAT),
            crm_status=unit.status, response=response, actor=actor, attachments=files)

    def _reply(self, unit: Unit) -> tuple[str, tuple[str, ...]]:
        """The reply's text and links to its attached files in RT's web interface."""
        assert unit.reply is not None
        txn_id = unit.reply.id
        parts = self.client.transaction_attachments(txn_id)
        files = tuple(
            f"{self.client.base_url}/Ticket/Attachment/{txn_id}/{p.id}/{quote(p.filename)}"
            for p in parts if p.filename)
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


def _parse_cursor(since: str | None) -> datetime | None:
    if not since:
        return None
    try:
        return datetime.strptime(since, _CURSOR_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        log.warning("rt: cursor %r is not an RT timestamp; reading every ticket again", since)
        return None
