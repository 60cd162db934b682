"""Reading and writing enquiries and their history. Functions take an open connection, so the
caller decides what one transaction holds (an enquiry and its outbox row go in together)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Select, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from crm_bridge.models import (
    OPEN_STATUSES,
    Consent,
    Constituent,
    Enquiry,
    HistoryEvent,
    Status,
)
from crm_bridge.store.tables import counters, enquiries, enquiry_history, enquiry_links

__all__ = [
    "EnquiryFilter",
    "add_history",
    "count_enquiries",
    "enquiry_row",
    "get_enquiry",
    "insert_enquiry",
    "list_enquiries",
    "next_number",
    "row_to_enquiry",
    "set_fields",
]


def next_number(conn: Connection, name: str) -> int:
    """Atomically take the next value of a named counter (safe across processes)."""
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(counters).values(name=name, value=0).on_conflict_do_nothing())
    result = conn.execute(
        update(counters)
        .where(counters.c.name == name)
        .values(value=counters.c.value + 1)
        .returning(counters.c.value)
    )
    return int(result.scalar_one())


def enquiry_row(enquiry: Enquiry, now: datetime) -> dict[str, Any]:
    """The enquiries-table row for a new enquiry."""
    person = enquiry.constituent
    return {
        "id": str(enquiry.id),
        "reference": enquiry.reference,
        "member_id": enquiry.member_id,
        "logged_by": enquiry.logged_by,
        "channel": enquiry.channel.value,
        "constituent_name": person.name,
        "constituent_address": person.address,
        "constituent_postcode": person.postcode,
        "constituent_email": person.email,
        "constituent_phone": person.phone,
        "constituent_uprn": person.uprn,
        "consent_to_share": enquiry.consent.to_share,
        "consent_recorded_by": enquiry.consent.recorded_by,
        "consent_recorded_at": enquiry.consent.recorded_at,
        "category_id": enquiry.category_id,
        "service_id": enquiry.service_id,
        "ward_id": enquiry.ward_id,
        "description": enquiry.description,
        "location": enquiry.location,
        "received_at": enquiry.received_at,
        "target_date": enquiry.target_date,
        "warning_date": enquiry.warning_date,
        "status": enquiry.status.value,
        "crm_ref": enquiry.crm_ref,
        "response": enquiry.response,
        "responded_at": enquiry.responded_at,
        "closed_at": enquiry.closed_at,
        "overdue": enquiry.overdue,
        "failure_reason": enquiry.failure_reason,
        "created_at": now,
        "updated_at": now,
    }


def insert_enquiry(conn: Connection, enquiry: Enquiry, now: datetime) -> None:
    conn.execute(enquiries.insert().values(enquiry_row(enquiry, now)))


def row_to_enquiry(
    row: Any, history: list[HistoryEvent] | None = None, linked: list[str] | None = None
) -> Enquiry:
    m = row._mapping
    return Enquiry(
        id=uuid.UUID(m["id"]),
        reference=m["reference"],
        member_id=m["member_id"],
        logged_by=m["logged_by"],
        channel=m["channel"],
        constituent=Constituent(
            name=m["constituent_name"],
            address=m["constituent_address"],
            postcode=m["constituent_postcode"],
            email=m["constituent_email"],
            phone=m["constituent_phone"],
            uprn=m["constituent_uprn"],
        ),
        consent=Consent(
            to_share=m["consent_to_share"],
            recorded_by=m["consent_recorded_by"],
            recorded_at=m["consent_recorded_at"],
        ),
        category_id=m["category_id"],
        service_id=m["service_id"],
        ward_id=m["ward_id"],
        description=m["description"],
        location=m["location"],
        received_at=m["received_at"],
        target_date=m["target_date"],
        warning_date=m["warning_date"],
        status=m["status"],
        crm_ref=m["crm_ref"],
        response=m["response"],
        responded_at=m["responded_at"],
        closed_at=m["closed_at"],
        overdue=m["overdue"],
        failure_reason=m["failure_reason"],
        linked=linked or [],
        history=history or [],
    )


def add_history(
    conn: Connection,
    enquiry_id: str,
    at: datetime,
    event: str,
    actor: str,
    detail: str = "",
    status: Status | None = None,
    crm_event_id: str | None = None,
) -> None:
    conn.execute(
        enquiry_history.insert().values(
            enquiry_id=enquiry_id,
            at=at,
            event=event,
            actor=actor,
            detail=detail,
            status=status.value if status else None,
            crm_event_id=crm_event_id,
        )
    )


def set_fields(conn: Connection, enquiry_id: str, now: datetime, **values: Any) -> None:
    conn.execute(
        update(enquiries).where(enquiries.c.id == enquiry_id).values(updated_at=now, **values)
    )


def get_enquiry(conn: Connection, reference_or_id: str) -> Enquiry | None:
    """One enquiry by its reference (``ENQ-2026-000123``) or id, with history and links."""
    key = reference_or_id.strip()
    if _looks_like_uuid(key):
        condition = enquiries.c.id == str(uuid.UUID(key))
    else:
        condition = enquiries.c.reference == key.upper()
    row = conn.execute(select(enquiries).where(condition)).first()
    if row is None:
        return None
    enquiry_id = row._mapping["id"]
    events = [
        HistoryEvent(at=h.at, event=h.event, actor=h.actor, detail=h.detail, status=h.status)
        for h in conn.execute(
            select(enquiry_history)
            .where(enquiry_history.c.enquiry_id == enquiry_id)
            .order_by(enquiry_history.c.at, enquiry_history.c.id)
        )
    ]
    linked = list(
        conn.execute(
            select(enquiries.c.reference)
            .join(enquiry_links, enquiry_links.c.linked_id == enquiries.c.id)
            .where(enquiry_links.c.enquiry_id == enquiry_id)
            .order_by(enquiries.c.reference)
        ).scalars()
    )
    return row_to_enquiry(row, events, linked)


def _looks_like_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class EnquiryFilter:
    """What `enquiry list`, the portal and reports narrow by; None means any."""

    member_id: str | None = None
    ward_id: str | None = None
    category_id: str | None = None
    service_id: str | None = None
    status: Status | None = None
    overdue: bool | None = None
    open_only: bool = False
    received_from: date | None = None
    received_to: date | None = None
    text: str | None = None

    def apply(self, query: Select[Any]) -> Select[Any]:
        c = enquiries.c
        for column, value in (
            (c.member_id, self.member_id),
            (c.ward_id, self.ward_id),
            (c.category_id, self.category_id),
            (c.service_id, self.service_id),
        ):
            if value is not None:
                query = query.where(column == value)
        if self.status is not None:
            query = query.where(c.status == self.status.value)
        if self.overdue is not None:
            query = query.where(c.overdue == self.overdue)
        if self.open_only:
            query = query.where(c.status.in_([s.value for s in OPEN_STATUSES]))
        if self.received_from is not None:
            query = query.where(func.date(c.received_at) >= self.received_from)
        if self.received_to is not None:
            query = query.where(func.date(c.received_at) <= self.received_to)
        if self.text:
            like = f"%{self.text.lower()}%"
            query = query.where(
                or_(
                    func.lower(c.description).like(like),
                    func.lower(c.location).like(like),
                    func.lower(c.reference).like(like),
                    func.lower(c.constituent_name).like(like),
                )
            )
        return query


def list_enquiries(
    conn: Connection, where: EnquiryFilter, limit: int = 100, offset: int = 0
) -> list[Enquiry]:
    """Newest first; without history (``get_enquiry`` gives one enquiry in full)."""
    query = where.apply(select(enquiries)).order_by(
        enquiries.c.received_at.desc(), enquiries.c.reference.desc()
    )
    return [row_to_enquiry(row) for row in conn.execute(query.limit(limit).offset(offset))]


def count_enquiries(conn: Connection, where: EnquiryFilter) -> int:
    return int(conn.execute(where.apply(select(func.count()).select_from(enquiries))).scalar_one())
