"""The ``lagan`` connector: enquiries as cases in Lagan / Verint CRM, over its "FL" SOAP service.

Each service destination (``crm_target``) maps to a ClassificationEventCode and Queue in
``mappings/lagan.yaml``. Creating a case follows FL's own order: find or create the
constituent as a party (``searchForParty`` / ``createIndividual``), open an interaction,
``createCase`` with only the fields the mapping lets leave the bridge, then
``addCaseExternalReference`` with the enquiry's id. The id is also put in the title as a
marker, because FWTCaseSearch cannot search external references: before creating, the
bridge searches its own cases (RaisedByUser, a LastModified window, the title) and matches
either. So a create whose reply was lost after FL committed it is found, and its external
reference added, rather than opened twice.

Changes come back by ``searchAndRetrieveCaseDetails`` over the bridge's cases modified since
the cursor (minus an overlap): each case's status with its closure reason, and each note
an officer wrote (the response), under event ids that make re-reading harmless.

The wire client (``lagan_wire``: zeep, auth, error translation) is kept apart from the
mapping (``lagan_mapping``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    ConnectorContext,
    Finding,
    Note,
)
from connectors.lagan_mapping import (
    CaseView,
    LaganMapping,
    case_request,
    external_ref,
    individual_request,
    note_text,
    officer_notes,
    party_search_request,
    updates_for,
    view,
)
from connectors.lagan_wire import AuthStyle, ErrorCodes, LaganWire
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["LaganCaseRef", "LaganCaseSnapshot", "LaganConnector", "LaganSettings"]

log = logging.getLogger(__name__)

_CURSOR = "%Y-%m-%dT%H:%M:%S.%fZ"


class LaganSettings(BaseModel):
    """``connector:`` keys for ``type: lagan``. The password comes from the environment:
    write ``password: ${LAGAN_PASSWORD}``, never the secret itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the FL endpoint, e.g. https://crm.council.example/lagan/"
                                 "services/FL")
    auth_url: str | None = Field(default=None, description="FLAuth endpoint (token auth); "
                                                           "default: url with FL → FLAuth")
    wsdl: str | None = Field(default=None, description="a local copy of the WSDL; default: "
                                                       "<url>?wsdl")
    auth: AuthStyle = "token"
    username: str
    password: SecretStr
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    overlap_seconds: int = Field(default=300, ge=0, le=86_400)
    search_window_days: int = Field(default=30, ge=1, le=3650, description="how far back a "
                                    "create looks for a case it may already have opened")
    search_by_title: bool = Field(default=True, description="narrow that search by the title "
                                  "marker (off: read every bridge case in the window)")
    verify_tls: bool = True
    ca_bundle: str | None = None
    proxy: str | None = Field(default=None, description="an HTTP(S) proxy to reach FL through; "
                              "the environment's proxy variables are not read")

    @field_validator("url", "auth_url")
    @classmethod
    def _http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = value.strip().rstrip("/").removesuffix("?wsdl")
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// on a trusted network)")
        return value

    @model_validator(mode="after")
    def _secret_given(self) -> Self:
        if not self.password.get_secret_value().strip():
            raise ValueError("password is empty: set the environment variable it names")
        return self

    def flauth_url(self) -> str:
        return self.auth_url or self.url.rsplit("/", 1)[0] + "/FLAuth"


@dataclass(frozen=True)
class LaganCaseRef(CaseRef):
    """A ``CaseRef`` that also carries the due date FL holds for the case.

    With ``due_date: read_back`` FL sets the date (from its service levels) and the bridge
    should follow it, but ``connectors/base.CaseRef`` has no field for it and the core's
    push stores only the reference. So the date is carried this far, typed, and read by
    whoever asks (tests, ``get_case``); the enquiry's own target date is not changed until
    the protocol gains a due-date field and push reads it.
    """

    due: date | None = None


@dataclass(frozen=True)
class LaganCaseSnapshot(CaseSnapshot):
    """A ``CaseSnapshot`` with FL's due date, for the same reason as ``LaganCaseRef``."""

    due: date | None = None


class LaganConnector:
    """Opens, follows and adds notes to cases in one Lagan / Verint FL service."""

    name: ClassVar[str] = "lagan"
    Settings: ClassVar[type[BaseModel]] = LaganSettings
    Mapping: ClassVar[type[BaseMapping]] = LaganMapping

    def __init__(self, settings: LaganSettings, context: ConnectorContext) -> None:
        self.settings = settings
        self.mapping: LaganMapping = context.mapping  # type: ignore[assignment]
        wsdl = str(context.base_dir / settings.wsdl) if settings.wsdl else None
        self.wire = LaganWire(
            settings.url, auth=settings.auth, username=settings.username,
            password=settings.password.get_secret_value(), auth_url=settings.flauth_url(),
            wsdl=wsdl, codes=ErrorCodes(self.mapping.transient_error_codes,
                                        self.mapping.auth_error_codes),
            timeout=(settings.connect_timeout_seconds, settings.timeout_seconds),
            verify=settings.ca_bundle or settings.verify_tls, proxy=settings.proxy)

    # -- the Connector protocol -------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination) -> LaganCaseRef:
        target = self.mapping.classification(enquiry, destination)
        if target is None:
            raise PermanentError(f"mappings/lagan.yaml has no classification for service "
                                 f"'{destination.crm_target}': add it under classifications")
        enquiry_id = str(enquiry.id)
        existing = self._find(enquiry_id)
        if existing is not None:
            log.info("lagan create_case %s: found case %s", enquiry.reference, existing.ref)
            if enquiry_id not in existing.external_refs:
                self._add_external_reference(existing.ref, enquiry_id)
            return LaganCaseRef(existing.ref, created=False, due=self._due(existing))
        interaction = self.wire.call("createInteraction", Channel=self.mapping.channel,
                                     Verified=False, PartyID=self._party(enquiry))
        ref = str(self.wire.call("createCase", **case_request(
            self.mapping, enquiry, destination, target, int(interaction))))
        self._add_external_reference(ref, enquiry_id)
        due = self._due(self._details(ref)) if self.mapping.due_date == "read_back" else None
        log.info("lagan create_case %s: opened case %s", enquiry.reference, ref)
        return LaganCaseRef(ref, created=True, due=due)

    def add_note(self, case_ref: str, note: Note) -> None:
        self.wire.call("createNotes", ParentId=_case_number(case_ref),
                       ParentType=self.mapping.note_parent_type,
                       NoteDetails={"Text": note_text(self.mapping, note)})

    def get_case(self, case_ref: str) -> LaganCaseSnapshot:
        case = self._details(case_ref)
        notes = officer_notes(case, self.mapping)
        return LaganCaseSnapshot(case.ref, external_ref(case, self.mapping), case.crm_status,
                                 notes[-1].text.strip() if notes else None, case.modified,
                                 due=case.due.date() if case.due else None)

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate]:
        start = _parse_cursor(since)
        cut = start - timedelta(seconds=self.settings.overlap_seconds) if start else None
        cases = self._search(cut)
        cases.sort(key=lambda c: c.modified or datetime.min.replace(tzinfo=UTC))
        log.info("lagan fetch_updates: %d cases changed", len(cases))
        high = start
        for case in cases:
            if case.modified is not None:
                high = case.modified if high is None else max(high, case.modified)
            cursor = high.strftime(_CURSOR) if high else (since or "")
            yield from updates_for(case, self.mapping, cursor)

    def health(self) -> None:
        self._search(None, limit=1)

    def close(self) -> None:
        self.wire.close()

    # -- optional capability: `crm-bridge connector check` --------------------------------------
    def check(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        findings: list[Finding] = []
        try:
            self.wire.service()
            findings.append(Finding(f"FL WSDL at {self.wire.wsdl}", True, "read and understood"))
            self._search(None, limit=1)
            findings.append(Finding(f"FL at {self.settings.url}", True,
                                    f"accepts the bridge's login ({self.settings.auth})"))
        except (TransientError, AuthError, PermanentError) as exc:
            what = "the WSDL" if not findings else "the login"
            return [*findings, Finding(f"FL at {self.settings.url}", False,
                                       f"{what} failed: {exc}")]
        for destination in destinations:
            subject = f"service '{destination.id}' (crm_target '{destination.crm_target}')"
            target = (self.mapping.classifications.get(destination.crm_target)
                      or self.mapping.classifications.get(destination.id))
            if target is None:
                findings.append(Finding(subject, False, "has no ClassificationEventCode: add "
                                        f"'{destination.crm_target}: {{code: N, queue: Q}}' "
                                        "under classifications in mappings/lagan.yaml"))
            elif target.queue is None:
                findings.append(Finding(subject, False, f"classification {target.code} has no "
                                        "queue: add queue: in mappings/lagan.yaml"))
            else:
                findings.append(Finding(subject, True, f"classification {target.code}, "
                                        f"queue '{target.queue}'"))
        return findings

    def setup(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        """FL's classifications and queues are made by Lagan's administrators, not the API."""
        return self.check(destinations)

    # -- helpers ------------------------------------------------------------------------------
    def _search(self, since: datetime | None, *, title: str | None = None,
                limit: int | None = None) -> list[CaseView]:
        criteria: dict[str, Any] = {"RaisedByUser": {"UserID": self.mapping.raised_by_user}}
        if title:
            criteria["Title"] = title
        if since is not None:
            criteria["LastModifiedDateFrom"] = since
        if limit:
            criteria["ResultsLimit"] = limit
        found = self.wire.call("searchAndRetrieveCaseDetails", FWTCaseSearch=criteria,
                               Option=[self.mapping.detail_option])
        return [view(item) for item in (found or [])]

    def _find(self, enquiry_id: str) -> CaseView | None:
        since = datetime.now(UTC) - timedelta(days=self.settings.search_window_days)
        title = self.mapping.marker(enquiry_id) if self.settings.search_by_title else None
        for case in self._search(since, title=title):
            if external_ref(case, self.mapping, enquiry_id) == enquiry_id:
                return case
        return None

    def _party(self, enquiry: Enquiry) -> dict[str, Any] | None:
        if not self.mapping.party:
            return None
        search = party_search_request(self.mapping, enquiry)
        if search is not None:
            found = self.wire.call("searchForParty", **search) or []
            for brief in found:
                return {"ObjectType": brief.ObjectID.ObjectType,
                        "ObjectReference": list(brief.ObjectID.ObjectReference)}
        new = self.wire.call("createIndividual", **individual_request(self.mapping, enquiry))
        return {"ObjectType": new.ObjectType, "ObjectReference": list(new.ObjectReference)}

    def _add_external_reference(self, ref: str, enquiry_id: str) -> None:
        self.wire.call("addCaseExternalReference", CaseID=_case_number(ref),
                       ExternalReference=enquiry_id)

    def _due(self, case: CaseView) -> date | None:
        """FL's due date, when the mapping reads it back (``due_date: read_back``)."""
        if self.mapping.due_date != "read_back":
            return None
        log.info("lagan case %s: FL's due date is %s", case.ref,
                 case.due.date().isoformat() if case.due else "not set")
        return case.due.date() if case.due else None

    def _details(self, case_ref: str) -> CaseView:
        _case_number(case_ref)
        return view(self.wire.call("retrieveCaseDetails", CaseReference=case_ref,
                                   Option=[self.mapping.detail_option]))


def _case_number(case_ref: str) -> int:
    """FL takes the case reference as a number in CaseID and ParentId."""
    if not case_ref.strip().isdigit():
        raise PermanentError(f"'{case_ref}' is not a Lagan case reference (a number)")
    return int(case_ref)


def _parse_cursor(since: str | None) -> datetime | None:
    if not since:
        return None
    try:
        return datetime.strptime(since, _CURSOR).replace(tzinfo=UTC)
    except ValueError:
        log.warning("lagan: cursor %r is not an FL timestamp; reading every case again", since)
        return None
