"""The ``lagan`` connector: enquiries as cases in Lagan / Verint CRM, over its "FL" SOAP service.

Each service destination (``crm_target``) maps to a ClassificationEventCode and Queue in
``mappings/lagan.yaml``. Creating a case follows FL's own order: find or create the
constituent as a party (``searchForParty`` / ``createIndividual``), open an interaction,
``createCase`` with only the fields the mapping lets leave the bridge, then
``addCaseExternalReference`` with the enquiry's id. The id is also put in the title as a
marker, because FWTCaseSearch cannot search external references: before creating, the
bridge searches its own cases (RaisedByUser, opened in the last search_window_days, the
title) and matches either. So a create whose reply was lost after FL committed it is
found, and its external reference added, rather than opened twice.

Changes come back by ``searchAndRetrieveCaseDetails`` over the bridge's cases (RaisedByUser
is the bridge's own FL user, ``connector.username``): modified since the cursor (minus an
overlap) when FL honours a LastModified search, else all of them; searches are split so
none exceeds the server's cap (``lagan_pull``), and each case is compared with the
fingerprint the cursor holds for it, so only what changed is reported: its status with
its closure reason, and each note an officer wrote (the response), under event ids that
make re-reading harmless, in the order they happened.

The wire client (``lagan_wire``: zeep, auth, error translation) is kept apart from the
mapping (``lagan_mapping``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
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
    fingerprint,
    individual_request,
    note_text,
    officer_notes,
    party_search_request,
    updates_for,
    view,
)
from connectors.lagan_pull import CaseReader, PullState
from connectors.lagan_wire import AuthStyle, ErrorCodes, LaganWire
from crm_bridge.errors import (
    ConfigError,
    ConfigIssue,
    PermanentError,
)
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["LaganCaseRef", "LaganCaseSnapshot", "LaganConnector", "LaganSettings"]

log = logging.getLogger(__name__)



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
    binding: str | None = Field(default=None, description="the WSDL binding to call FL "
                                "through, when the WSDL has several for FL's port type")
    auth: AuthStyle = "token"
    username: str = Field(min_length=1, description="the bridge's own FL user: it logs in "
                          "as it and finds its cases by it (RaisedByUser)")
    password: SecretStr
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    overlap_seconds: int = Field(default=300, ge=0, le=86_400)
    search_window_days: int = Field(default=30, ge=1, le=3650, description="how far back a "
                                    "create looks for a case it may already have opened")
    search_by_title: bool = Field(default=True, description="narrow that search by the title "
                                  "marker (off: read every bridge case in the window)")
    search_page_size: int = Field(default=100, ge=10, le=5000, description="cases asked of "
                                  "one search (ResultsLimit); keep it at or under the server's "
                                  "own cap, which a reply does not show")
    check_test_case: bool = Field(default=False, description="`connector check` opens a "
                                  "test case, finds it as pull does, then closes it")
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
        self.user = settings.username
        old = self.mapping.raised_by_user
        if old is not None and old != settings.username:
            raise ConfigError(issues=[ConfigIssue(
                "mappings/lagan.yaml", None, "raised_by_user",
                f"'{old}' differs from connector.username '{settings.username}': the bridge's "
                "FL user is set once, as connector.username; delete raised_by_user")])
        wsdl = str(context.base_dir / settings.wsdl) if settings.wsdl else None
        self.wire = LaganWire(
            settings.url, auth=settings.auth, username=settings.username,
            password=settings.password.get_secret_value(), auth_url=settings.flauth_url(),
            wsdl=wsdl, codes=ErrorCodes(self.mapping.transient_error_codes,
                                        self.mapping.auth_error_codes,
                                        self.mapping.permanent_error_codes,
                                        self.mapping.unplaced_code_runs),
            timeout=(settings.connect_timeout_seconds, settings.timeout_seconds),
            verify=settings.ca_bundle or settings.verify_tls, proxy=settings.proxy,
            binding=settings.binding)
        self.last_read: dict[str, int] = {}  # the last pull's figures, for logs and benchmarks

    # -- the Connector protocol -------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> LaganCaseRef:
        """Look the case up by the enquiry's id first, unless ``fresh`` (no earlier try)."""
        target = self.mapping.classification(enquiry, destination)
        if target is None:
            raise PermanentError(f"mappings/lagan.yaml has no classification for service "
                                 f"'{destination.crm_target}': add it under classifications")
        enquiry_id = str(enquiry.id)
        existing = None if fresh else self._find(enquiry_id)
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
        notes = officer_notes(case, self.user)
        return LaganCaseSnapshot(case.ref, external_ref(case, self.mapping), case.crm_status,
                                 notes[-1].text.strip() if notes else None, case.modified,
                                 due=case.due.date() if case.due else None)

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate]:
        state = PullState.parse(since)
        started = datetime.now(UTC)
        criteria = self._criteria()
        windowed = state.since is not None and self._modified_search_works()
        if windowed:
            assert state.since is not None
            criteria["LastModifiedDateFrom"] = state.since - timedelta(
                seconds=self.settings.overlap_seconds)
        reader = CaseReader(self._search_raw, self.settings.search_page_size, state.cap,
                            state.proven)
        cases, edges = reader.read(criteria, () if windowed else state.edges)
        changed = [(c, fp) for c in cases
                   if state.prints.get(c.ref) != (fp := fingerprint(c, self.user))]
        changed.sort(key=lambda pair: pair[0].modified or pair[0].opened or started)
        self.last_read = {"cases": len(cases), "changed": len(changed),
                          "searches": reader.searches, "windowed": int(windowed)}
        log.info("lagan fetch_updates: %d cases read in %d searches, %d changed", len(cases),
                 reader.searches, len(changed))
        # The next window starts from FL's own high-water mark when it gives LastModifiedDate,
        # else from this pull's start by the bridge's clock (overlap_seconds covers skew).
        modified = [c.last_modified for c in cases if c.last_modified is not None]
        final = PullState(since=max([*modified, *([state.since] if state.since else [])])
                          if modified else (started if cases else state.since),
                          edges=state.edges if windowed else edges,
                          cap=reader.cap, proven=reader.proven)
        yield from _with_cursors(changed, state, final, self.mapping, self.user)

    def health(self) -> None:
        self._search_raw({**self._criteria(), "ResultsLimit": 1})

    def close(self) -> None:
        self.wire.close()

    # -- optional capability: `crm-bridge connector check` --------------------------------------
    def check(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        from connectors.lagan_check import check

        return check(self, destinations)

    def setup(self, destinations: Sequence[ServiceDestination]) -> list[Finding]:
        """FL's classifications and queues are made by Lagan's administrators, not the API."""
        return self.check(destinations)

    def unplaced_codes(self) -> dict[str, str]:
        """ErrorCodes FL answered in this run that the mapping does not place, each with what
        to do (not FL's words, which may quote what was sent: ``wire`` keeps those)."""
        seen = dict.fromkeys(self.wire.unplaced, "not placed in the mapping")
        for code in self.wire.cleared_by_login:
            seen.setdefault(code, "cleared by logging in again: add it to auth_error_codes")
        return seen

    # -- helpers ------------------------------------------------------------------------------
    def _criteria(self) -> dict[str, Any]:
        return {"RaisedByUser": {"UserID": self.user}}

    def _search_raw(self, criteria: dict[str, Any]) -> list[CaseView]:
        found = self.wire.call("searchAndRetrieveCaseDetails", FWTCaseSearch=criteria,
                               Option=[self.mapping.detail_option])
        return [view(item) for item in (found or [])]

    def _modified_search_works(self) -> bool:
        """Whether FL honours a search by LastModifiedDateFrom: asked for cases modified
        after tomorrow, a server that ignores the criterion answers with some."""
        probe = {**self._criteria(), "ResultsLimit": 1,
                 "LastModifiedDateFrom": datetime.now(UTC) + timedelta(days=1)}
        try:
            works = not self._search_raw(probe)
        except (TypeError, PermanentError):  # a WSDL from before LastModifiedDate*, or
            works = False                      # a server that refuses the criterion
        if not works and self.last_read.get("windowed", 1):
            log.info("lagan: FL does not search by LastModifiedDateFrom; reading every "
                     "bridge case")
        return works

    def _find(self, enquiry_id: str) -> CaseView | None:
        """The case a run opened for the enquiry, if any: searched among the bridge's cases
        opened in the last ``search_window_days`` (by the title marker too, unless off)."""
        criteria = self._criteria()
        criteria["CreatedAfter"] = datetime.now(UTC) - timedelta(
            days=self.settings.search_window_days)
        if self.settings.search_by_title:
            criteria["Title"] = self.mapping.marker(enquiry_id)
        reader = CaseReader(self._search_raw, self.settings.search_page_size)
        for case in reader.read(criteria)[0]:
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


CHECKPOINT = 100
"""Changed cases between two cursors that name their fingerprints (the rest carry the last
one's): a crash re-reads at most this many, and cursors are not rebuilt for every case."""


def _with_cursors(changed: Sequence[tuple[CaseView, str]], state: PullState, final: PullState,
                  mapping: LaganMapping, user: str) -> Iterator[CaseUpdate]:
    """Each changed case's updates. Only a case's last update may carry a cursor that holds
    its new fingerprint (pull saves the cursor of a batch's last update, and a batch may
    end inside a case); the others carry the cursor before it, so resuming from any saved
    cursor reads that case again rather than skipping what it had not applied."""
    head, body = state.head(), state.body()
    cursor = head + body
    for position, (case, fp) in enumerate(changed):
        updates = updates_for(case, mapping, cursor, user)
        body += f"{case.ref}={fp},"
        if position == len(changed) - 1:
            cursor = final.head() + body
        elif (position + 1) % CHECKPOINT == 0:
            cursor = head + body
        updates[-1] = replace(updates[-1], cursor=cursor)
        yield from updates


def _case_number(case_ref: str) -> int:
    """FL takes the case reference as a number in CaseID and ParentId."""
    if not case_ref.strip().isdigit():
        raise PermanentError(f"'{case_ref}' is not a Lagan case reference (a number)")
    return int(case_ref)
