"""How enquiries become FL cases and FL case details become bridge updates.

The rules live in ``mappings/lagan.yaml``.

Nothing here talks to FL (``connectors/lagan_wire.py`` does): pure functions from the
bridge's models to FL request fields, and from FL's replies (zeep objects, read
tolerantly: fields added after 2012 may be missing) to ``CaseView``s and ``CaseUpdate``s.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from connectors.base import BaseMapping, CaseUpdate, Note
from crm_bridge.models import Enquiry, ServiceDestination, Status

__all__ = ["CaseView", "Classification", "LaganMapping", "case_request", "fingerprint",
           "individual_request", "note_text", "party_search_request", "status_event_id",
           "updates_for", "view"]

CaseField = Literal["description", "location", "constituent_postcode", "reference"]
PartyField = Literal["name", "email", "phone", "address", "postcode"]
_CASE_DEFAULT: tuple[CaseField, ...] = ("description",)
_PARTY_DEFAULT: tuple[PartyField, ...] = ("name", "email")


class Classification(BaseModel):
    """Where a service's cases go in FL."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: int = Field(description="ClassificationEventCode")
    queue: str | None = Field(default=None, description="Queue; omitted: FL's default for "
                                                        "the classification")


class LaganMapping(BaseMapping):
    """``mappings/lagan.yaml``; see the comments in that file for each key."""

    # Older mappings named the bridge's FL user here too; it is connector.username now. Still
    # read so an old mapping loads, and refused by the connector when it differs.
    raised_by_user: str | None = None
    classifications: dict[str, Classification]
    category_classifications: dict[str, Classification] = Field(default_factory=dict)
    closure_reasons: dict[str, Status] = Field(default_factory=dict)
    transient_error_codes: list[int] = Field(default_factory=list)
    auth_error_codes: list[int] = Field(default_factory=list)
    permanent_error_codes: list[int] = Field(default_factory=list)
    unplaced_code_runs: int = Field(default=5, ge=1, le=100)
    note_parent_type: int
    title: str = "{reference}: {category}"
    title_marker: str = "[bridge {external_id}]"
    case_fields: list[CaseField] = Field(default_factory=lambda: list(_CASE_DEFAULT))
    due_date: Literal["send", "read_back", "omit"] = "send"
    party: bool = True
    party_fields: list[PartyField] = Field(default_factory=lambda: list(_PARTY_DEFAULT))
    channel: str = "Web"
    detail_option: str = "all"
    note_headings: dict[str, str] = Field(default_factory=lambda: {
        "follow_up": "Follow-up from {author}",
        "duplicate_link": "Linked enquiry, noted by {author}",
        "duplicate_unlink": "Enquiry unlinked, noted by {author}"})

    @model_validator(mode="after")
    def _templates(self) -> LaganMapping:
        lists = {"transient_error_codes": self.transient_error_codes,
                 "auth_error_codes": self.auth_error_codes,
                 "permanent_error_codes": self.permanent_error_codes}
        seen: dict[int, str] = {}
        for name, codes in lists.items():
            for code in codes:
                if code in seen:
                    raise ValueError(f"ErrorCode {code} is in both {seen[code]} and {name}: "
                                     "keep it in one")
                seen[code] = name
        if "{external_id}" not in self.title_marker:
            raise ValueError("title_marker must hold {external_id}: the bridge finds its "
                             "cases by it when an external reference is missing")
        try:
            self.title.format(reference="", category="", location="", service="")
        except (KeyError, IndexError) as exc:
            raise ValueError(f"unknown field {exc} in title: use {{reference}} {{category}} "
                             "{location} {service}") from None
        return self

    def classification(self, enquiry: Enquiry,
                       destination: ServiceDestination) -> Classification | None:
        return (self.category_classifications.get(enquiry.category_id)
                or self.classifications.get(destination.crm_target)
                or self.classifications.get(destination.id))

    def bridge_status(self, crm_status: str) -> Status | None:
        """``closed: <reason>`` is judged by the reason's prefix first, then the status."""
        exact = super().bridge_status(crm_status)
        if exact is not None:
            return exact
        status, _, reason = crm_status.partition(": ")
        for prefix, mapped in self.closure_reasons.items():
            if reason and reason.lower().startswith(prefix.lower()):
                return mapped
        return super().bridge_status(status) if reason else None

    def marker(self, enquiry_id: str) -> str:
        return self.title_marker.format(external_id=enquiry_id)


# -- bridge → FL ------------------------------------------------------------------------------


def case_request(mapping: LaganMapping, enquiry: Enquiry, destination: ServiceDestination,
                 target: Classification, interaction_id: int | None) -> dict[str, Any]:
    """FWTCaseCreate's fields: only those the mapping lets leave the bridge, in any order
    (zeep writes them in the WSDL's sequence order)."""
    title = mapping.title.format(reference=enquiry.reference, category=enquiry.category_id,
                                 location=enquiry.location or "", service=destination.name)
    title = " ".join(title.split()).strip(" -:,")
    lines = []
    if "description" in mapping.case_fields:
        lines.append(enquiry.description)
    if "location" in mapping.case_fields and enquiry.location:
        lines.append(f"Location: {enquiry.location}")
    if "constituent_postcode" in mapping.case_fields and enquiry.constituent.postcode:
        lines.append(f"Postcode: {enquiry.constituent.postcode}")
    if "reference" in mapping.case_fields:
        lines.append(f"Bridge reference: {enquiry.reference}")
    request: dict[str, Any] = {
        "ClassificationEventCode": target.code,
        "Title": f"{title} {mapping.marker(str(enquiry.id))}",
        "Description": "\n".join(lines) or None,
        "Queue": target.queue,
        "InteractionID": interaction_id,
    }
    if mapping.due_date == "send":
        request["DueDate"] = datetime.combine(enquiry.target_date, datetime.min.time(), UTC)
    return {k: v for k, v in request.items() if v is not None}


def party_search_request(mapping: LaganMapping, enquiry: Enquiry) -> dict[str, Any] | None:
    person = enquiry.constituent
    request: dict[str, Any] = {"SearchType": "individual"}
    if "email" in mapping.party_fields and person.email:
        request["EmailAddress"] = person.email
    elif "name" in mapping.party_fields:
        request["Name"] = person.name.split()[-1]
        if "postcode" in mapping.party_fields and person.postcode:
            request["Postcode"] = person.postcode
    return request if len(request) > 1 else None


def individual_request(mapping: LaganMapping, enquiry: Enquiry) -> dict[str, Any]:
    person = enquiry.constituent
    names = person.name.split()
    request: dict[str, Any] = {"Name": [{"Forename": names[:-1], "Surname": names[-1],
                                         "Preferred": True}]}
    if {"address", "postcode"} & set(mapping.party_fields):
        postal: dict[str, Any] = {"Preferred": True}
        if "address" in mapping.party_fields and person.address:
            postal["AddressLine"] = [person.address]
        if "postcode" in mapping.party_fields and person.postcode:
            postal["Postcode"] = person.postcode
        if len(postal) > 1:
            request["ContactPostals"] = [postal]
    if "phone" in mapping.party_fields and person.phone:
        request["ContactPhones"] = [{"Number": person.phone, "DeviceType": "Phone",
                                     "Preferred": True}]
    if "email" in mapping.party_fields and person.email:
        request["ContactEmails"] = [{"EmailAddress": person.email, "Preferred": True}]
    return request


def note_text(mapping: LaganMapping, note: Note) -> str:
    heading = mapping.note_headings.get(note.kind, "{author}").format(author=note.author)
    return f"{heading}:\n\n{note.text}"


# -- FL → bridge ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FlNote:
    note_id: str
    text: str
    created: datetime | None
    user: str


@dataclass(frozen=True)
class CaseView:
    """The parts of an FWTCaseFullDetails the bridge reads."""

    ref: str
    status: str
    reason: str | None
    title: str
    raised_by: str
    external_refs: tuple[str, ...]
    modified: datetime | None
    due: datetime | None
    notes: tuple[FlNote, ...]
    closed: datetime | None = None  # the last closure, kept by FL on a reopened case (if)
    opened: datetime | None = None
    last_modified: datetime | None = None  # LastModifiedDate itself, when FL gives it

    @property
    def crm_status(self) -> str:
        """Status, with the closure reason when there is one: ``closed: Resolved - …``."""
        return f"{self.status}: {self.reason}" if self.reason else self.status


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _get(obj: Any, name: str) -> Any:
    return getattr(obj, name, None) if obj is not None else None


def view(details: Any) -> CaseView:
    core = details.CoreDetails
    refs = _get(_get(core, "ExternalReferences"), "ExternalReference") or []
    notes = []
    for note in _get(_get(details, "Notes"), "Note") or []:
        notes.append(FlNote(str(note.NoteID), note.Text or "", _utc(note.Created),
                            str(_get(_get(note, "CreatedBy"), "UserID") or "")))
    return CaseView(
        ref=str(core.CaseReference), status=str(core.Status or ""),
        reason=_get(core, "caseCloseureReason") or None, title=_get(core, "Title") or "",
        raised_by=str(_get(_get(core, "RaisedByUser"), "UserID") or ""),
        external_refs=tuple(str(r) for r in refs),
        modified=_utc(_get(core, "LastModifiedDate")) or _utc(_get(core, "Closed")),
        due=_utc(_get(core, "DueDate")), notes=tuple(notes), closed=_utc(_get(core, "Closed")),
        opened=_utc(_get(core, "Opened")), last_modified=_utc(_get(core, "LastModifiedDate")))


def external_ref(case: CaseView, mapping: LaganMapping, known: str | None = None) -> str | None:
    """The enquiry id on the case: its external reference, else the title marker's."""
    if known and (known in case.external_refs or mapping.marker(known) in case.title):
        return known
    prefix, _, suffix = mapping.title_marker.partition("{external_id}")
    if case.external_refs:
        return case.external_refs[0]
    start = case.title.rfind(prefix) if prefix else -1
    if start >= 0:
        rest = case.title[start + len(prefix):]
        return rest[: rest.find(suffix)] if suffix and suffix in rest else rest or None
    return None


def officer_notes(case: CaseView, bridge_user: str) -> list[FlNote]:
    """Notes written in FL by anyone but the bridge: the service's response to the enquiry."""
    return [n for n in case.notes if n.user != bridge_user and n.text.strip()]


def status_event_id(case: CaseView) -> str:
    """The status event's id: the status with its closure reason, and the case's last
    ``Closed`` date when it has one.

    FL's CoreDetails gives no time of the last status change, so the id must be made of
    what changes with a transition and with nothing else. The Closed date does: each
    closure has its own, so closed → reopened → closed again is two closures, and a
    reopened case that FL leaves its last Closed date on reads as a new "open". Not
    LastModifiedDate: every note (the bridge's own follow-ups too) and every external
    reference moves it, so the unchanged status would be applied again each time, and
    after an officer's reply that re-applied "in progress" would undo the bridge's
    "responded". What this cannot see: a return to an earlier status with no closure in
    between (in progress → open), or a reopen on a server that clears Closed.
    """
    stamp = f"@{case.closed.strftime('%Y-%m-%dT%H:%M:%S.%fZ')}" if case.closed else ""
    return f"lagan-{case.ref}-status-{case.crm_status}{stamp}"


def fingerprint(case: CaseView, bridge_user: str) -> str:
    """What the bridge reads from a case, in a few characters: the status event's id and
    the officers' notes (count and newest id). Equal fingerprints, nothing new to apply;
    pull keeps one per case when FL gives no LastModifiedDate to go by."""
    notes = officer_notes(case, bridge_user)
    digest = zlib.crc32(status_event_id(case).encode()) & 0xFFFFFFFF
    return f"{digest:08x}.{len(notes)}.{notes[-1].note_id if notes else ''}"


def status_time(case: CaseView) -> datetime:
    """When the case's present status can be said to hold from, at the latest.

    FL gives no time of a status change. A closure has its Closed date. Any other status
    held from no later than the case's opening, or its last closure (a reopen): that is
    the time it is given, so it never overtakes a response the officer wrote after it,
    and an "open" read today never undoes a note written yesterday.
    """
    if case.status.lower() == "closed" and case.closed:
        return case.closed
    times = [t for t in (case.opened, case.closed) if t is not None]
    return max(times) if times else datetime(1970, 1, 1, tzinfo=UTC)


def updates_for(case: CaseView, mapping: LaganMapping, cursor: str,
                bridge_user: str) -> list[CaseUpdate]:
    """The case's status (with its closure reason) and each officer's note, once each, in
    the order they happened: the event id names the status transition
    (``status_event_id``) or the note's id, so re-reading is harmless and each real
    transition is applied once; times as ``status_time`` and the notes' Created dates."""
    ext = external_ref(case, mapping)
    updates = [CaseUpdate(event_id=status_event_id(case),
                          case_ref=case.ref, external_ref=ext, occurred_at=status_time(case),
                          cursor=cursor, crm_status=case.crm_status)]
    for note in officer_notes(case, bridge_user):
        updates.append(CaseUpdate(event_id=f"lagan-{case.ref}-note-{note.note_id}",
                                  case_ref=case.ref, external_ref=ext,
                                  occurred_at=note.created or status_time(case),
                                  cursor=cursor, response=note.text.strip(),
                                  actor=note.user))
    updates.sort(key=lambda u: u.occurred_at)  # stable: a tie keeps the status first
    return updates
