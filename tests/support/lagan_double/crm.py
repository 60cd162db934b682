"""The double's in-memory FL: cases, parties and notes, and the FL reply elements for them.

Request handlers take the validated request element (lxml) and return the reply element
(lxml), or raise ``FLFault``. Replies follow FLTypes.xsd: children unqualified, global
elements (CaseReference, FWTCaseFullDetails, ObjectType…) in the FLTypes namespace.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from lxml import etree

__all__ = ["FLT", "SITE_CODES", "STOCK_CODES", "Codes", "FLFault", "FlCase", "FlNote", "FlStore",
           "Handler"]

FLT = "http://www.lagan.com/wsdl/FLTypes"

# The double's ErrorCodes (a real site's are unknown: the bridge's mapping lists them).
NOT_FOUND = 1001
BAD_CLASSIFICATION = 1002
AUTH_FAILED = 10
BUSY = 30


@dataclass(frozen=True)
class Codes:
    """One personality's FWTException ErrorCodes."""

    not_found: int
    bad_classification: int
    auth_failed: int
    busy: int


STOCK_CODES = Codes(NOT_FOUND, BAD_CLASSIFICATION, AUTH_FAILED, BUSY)
SITE_CODES = Codes(not_found=4004, bad_classification=4005, auth_failed=2010, busy=9999)


class FLFault(Exception):
    """Answered as a SOAP Fault whose detail is FWTException{ErrorMessage, ErrorCode}."""

    def __init__(self, code: int, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass
class FlNote:
    note_id: int
    text: str
    created: datetime
    user: str


@dataclass
class FlCase:
    ref: str
    code: int
    raised_by: str
    title: str
    description: str
    queue: str
    opened: datetime
    modified: datetime
    due: str | None = None
    status: str = "open"
    closed: datetime | None = None
    reason: str | None = None
    external_refs: list[str] = field(default_factory=list)
    notes: list[FlNote] = field(default_factory=list)


Handler = Callable[[etree._Element, str], etree._Element]


def _now() -> datetime:
    return datetime.now(UTC)


def _ts(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _stamp(element: etree._Element, path: str) -> datetime | None:
    text = _text(element, path)
    return _parse_ts(text) if text else None


def _q(name: str) -> str:
    return f"{{{FLT}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None,
         qualified: bool = False) -> etree._Element:
    child = etree.SubElement(parent, _q(name) if qualified else name)
    if text is not None:
        child.text = text
    return child


def _text(element: etree._Element, path: str) -> str | None:
    found = element.find(path, namespaces={"flt": FLT})
    return None if found is None or found.text is None else found.text


class FlStore:
    """Everything the double's FL holds; one lock, since the HTTP server is threaded."""

    def __init__(self, classifications: dict[int, str] | None = None,
                 default_due_days: int | None = None, codes: Codes = STOCK_CODES,
                 search_cap: int | None = None, report_modified: bool = True,
                 modified_filter: bool = True, raise_as: str | None = None) -> None:
        """``default_due_days``: a case created without DueDate gets one that many days on,
        as FL does from a classification's service level (None: no due date).
        ``search_cap``: a search answers at most that many cases, whatever ResultsLimit
        says, oldest first. ``report_modified``: case details carry LastModifiedDate;
        ``modified_filter``: searches honour LastModifiedDateFrom/To. ``raise_as``: cases
        are raised as this FL user rather than the one that logged in."""
        self.codes = codes
        self.search_cap = search_cap
        self.report_modified = report_modified
        self.modified_filter = modified_filter
        self.raise_as = raise_as
        self.lock = threading.RLock()
        self.default_due_days = default_due_days
        self.cases: dict[str, FlCase] = {}
        self.parties: dict[str, dict[str, str]] = {}
        self.classifications = classifications  # None: any code is accepted
        self._case_ids = itertools.count(100001)
        self._ids = itertools.count(5001)

    # -- what a service officer does in the CRM ----------------------------------------------
    def set_status(self, ref: str, status: str) -> None:
        with self.lock:
            case = self.case(ref)
            case.status, case.modified = status, _now()

    def add_officer_note(self, ref: str, text: str, user: str = "officer.roads") -> None:
        with self.lock:
            case = self.case(ref)
            case.notes.append(FlNote(next(self._ids), text, _now(), user))
            case.modified = _now()

    def close(self, ref: str, reason: str) -> None:
        with self.lock:
            case = self.case(ref)
            case.status, case.reason = "closed", reason
            case.closed = case.modified = _now()

    def reopen(self, ref: str, status: str = "open", keep_closed: bool = True) -> None:
        """An officer reopens a closed case. Whether FL keeps the last ``Closed`` date on a
        reopened case is unknown, so a test picks: ``keep_closed=False`` drops it."""
        with self.lock:
            case = self.case(ref)
            case.status, case.reason, case.modified = status, None, _now()
            if not keep_closed:
                case.closed = None

    def add_case(self, title: str, external_ref: str | None = None, *, raised_by: str,
                 opened: datetime | None = None, code: int = 2001, queue: str = "Roads"
                 ) -> str:
        """A case opened in FL directly (for tests and benchmarks that need many)."""
        with self.lock:
            ref = str(next(self._case_ids))
            when = opened or _now()
            self.cases[ref] = FlCase(ref=ref, code=code, raised_by=raised_by, title=title,
                                     description="", queue=queue, opened=when, modified=when,
                                     external_refs=[external_ref] if external_ref else [])
        return ref

    def case(self, ref: str) -> FlCase:
        try:
            return self.cases[ref]
        except KeyError:
            raise FLFault(self.codes.not_found, f"Case {ref} not found") from None

    # -- FL operations -----------------------------------------------------------------------
    def handlers(self) -> dict[str, Handler]:
        return {
            "FWTCaseCreate": self.create_case,
            "FWTCaseFullDetailsRequest": self.retrieve,
            "FWTSearchAndRetrieveCase": self.search,
            "FWTNoteToParentRef": self.create_notes,
            "FWTCaseExternalReferenceRequest": self.add_external_reference,
            "FWTCaseClose": self.close_cases,
            "FWTPartySearch": self.search_party,
            "FWTIndividual": self.create_individual,
            "FWTInteractionCreate": self.create_interaction,
        }

    def create_case(self, request: etree._Element, user: str) -> etree._Element:
        code = int(_text(request, "ClassificationEventCode") or 0)
        if self.classifications is not None and code not in self.classifications:
            raise FLFault(self.codes.bad_classification,
                          f"Invalid classification event code {code}")
        with self.lock:
            ref = str(next(self._case_ids))
            now = _now()
            self.cases[ref] = FlCase(
                ref=ref, code=code, raised_by=self.raise_as or user,
                title=_text(request, "Title") or "",
                description=_text(request, "Description") or "",
                queue=_text(request, "Queue") or (self.classifications or {}).get(code, ""),
                opened=now, modified=now, due=_text(request, "DueDate") or self._due(now))
        reply = etree.Element(_q("CaseReference"))
        reply.text = ref
        return reply

    def retrieve(self, request: etree._Element, user: str) -> etree._Element:
        ref = _text(request, "flt:CaseReference") or ""
        with self.lock:
            return self._details(self.case(ref), _q("FWTCaseFullDetails"))

    def search(self, request: etree._Element, user: str) -> etree._Element:
        crit = request.find("flt:FWTCaseSearch", namespaces={"flt": FLT})
        assert crit is not None
        raised_by = _text(crit, "RaisedByUser/UserID")
        title = (_text(crit, "Title") or "").lower()
        frm, to = (_stamp(crit, "LastModifiedDateFrom"), _stamp(crit, "LastModifiedDateTo")) \
            if self.modified_filter else (None, None)
        after, before = _stamp(crit, "CreatedAfter"), _stamp(crit, "CreatedBefore")
        limits = [n for n in (int(_text(crit, "ResultsLimit") or 0), self.search_cap or 0) if n]
        limit = min(limits) if limits else 0
        reply = etree.Element(_q("FWTCaseFullDetailsList"), nsmap={"flt": FLT})
        with self.lock:
            found = [c for c in self.cases.values()
                     if (raised_by is None or c.raised_by == raised_by)
                     and (frm is None or c.modified >= frm)
                     and (to is None or c.modified <= to)
                     and (after is None or c.opened > after)
                     and (before is None or c.opened < before)
                     and title in c.title.lower()]
            for case in found[:limit] if limit else found:
                self._details(case, _q("FWTCaseFullDetails"), reply)
        return reply

    def _details(self, case: FlCase, tag: str,
                 parent: etree._Element | None = None) -> etree._Element:
        top = (etree.SubElement(parent, tag) if parent is not None
               else etree.Element(tag, nsmap={"flt": FLT}))
        core = _sub(top, "CoreDetails")
        _sub(core, "CaseReference", case.ref, qualified=True)
        _sub(core, "Status", case.status)
        _sub(core, "Opened", _ts(case.opened))
        if case.closed:
            _sub(core, "Closed", _ts(case.closed))
        user = _sub(core, "RaisedByUser")
        _sub(user, "UserID", case.raised_by)
        _sub(core, "Title", case.title)
        _sub(core, "Description", case.description)
        _sub(core, "Queue", case.queue)
        if case.due:
            _sub(core, "DueDate", case.due)
        if case.reason:
            _sub(core, "caseCloseureReason", case.reason)
        refs = _sub(core, "ExternalReferences")
        for ext in case.external_refs:
            _sub(refs, "ExternalReference", ext)
        if self.report_modified:
            _sub(core, "LastModifiedDate", _ts(case.modified))
        notes = _sub(top, "Notes")
        for note in case.notes:
            item = _sub(notes, "Note")
            _sub(item, "NoteID", str(note.note_id))
            _sub(item, "Text", note.text)
            _sub(item, "Created", _ts(note.created))
            by = _sub(item, "CreatedBy")
            _sub(by, "UserID", note.user)
        return top

    def create_notes(self, request: etree._Element, user: str) -> etree._Element:
        ref = _text(request, "ParentId") or ""
        with self.lock:
            self.case(ref).notes.append(
                FlNote(next(self._ids), _text(request, "NoteDetails/Text") or "", _now(), user))
            self.cases[ref].modified = _now()
        return self._int("FWTNoteToParentRefResponse")

    def add_external_reference(self, request: etree._Element, user: str) -> etree._Element:
        ref = _text(request, "CaseID") or ""
        with self.lock:
            case = self.case(ref)
            case.external_refs.append(_text(request, "ExternalReference") or "")
            case.modified = _now()
        return self._int("FWTCaseExternalReferenceResponse")

    def close_cases(self, request: etree._Element, user: str) -> etree._Element:
        for ref in request.findall("flt:CaseReference", namespaces={"flt": FLT}):
            self.close(ref.text or "", _text(request, "Reason/Title") or "")
        return self._int("FWTCaseCloseResponse")

    def search_party(self, request: etree._Element, user: str) -> etree._Element:
        email = (_text(request, "EmailAddress") or "").lower()
        name = (_text(request, "Name") or "").lower()
        reply = etree.Element(_q("FWTObjectBriefDetailsList"), nsmap={"flt": FLT})
        with self.lock:
            for party_id, party in self.parties.items():
                if (email and party["email"] == email) or (
                        not email and name and party["surname"] == name):
                    brief = _sub(reply, "ObjectBriefDetails")
                    oid = _sub(brief, "ObjectID")
                    _sub(oid, "ObjectType", "C1", qualified=True)
                    _sub(oid, "ObjectReference", party_id, qualified=True)
        return reply

    def create_individual(self, request: etree._Element, user: str) -> etree._Element:
        with self.lock:
            party_id = str(next(self._ids))
            self.parties[party_id] = {
                "surname": (_text(request, "Name/Surname") or "").lower(),
                "email": (_text(request, "ContactEmails/EmailAddress") or "").lower()}
        reply = etree.Element(_q("FLNewIndividualID"), nsmap={"flt": FLT})
        _sub(reply, "ObjectType", "C1", qualified=True)
        _sub(reply, "ObjectReference", party_id, qualified=True)
        return reply

    def create_interaction(self, request: etree._Element, user: str) -> etree._Element:
        reply = etree.Element(_q("InteractionID"))
        reply.text = str(next(self._ids))
        return reply

    def _due(self, opened: datetime) -> str | None:
        if self.default_due_days is None:
            return None
        due = (opened + timedelta(days=self.default_due_days)).replace(
            hour=17, minute=0, second=0, microsecond=0)
        return _ts(due)

    @staticmethod
    def _int(name: str) -> etree._Element:
        reply = etree.Element(_q(name))
        reply.text = "0"
        return reply
