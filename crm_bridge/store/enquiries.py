"""Reading and writing enquiries and their history. Functions take an open connection, so the
caller decides what one transaction holds (an enquiry and its outbox row go in together)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Connection, Select, bindparam, func, or_, select, update

from crm_bridge.models import (
    OPEN_STATUSES,
    Consent,
    Constituent,
    Enquiry,
    HistoryEvent,
    Status,
)
from crm_bridge.personkeys import keys_of
from crm_bridge.places import point_columns
from crm_bridge.store.tables import counters, enquiries, enquiry_history, enquiry_links
from crm_bridge.store.upsert import insert_for

__all__ = [
    "EnquiryFilter",
    "add_history",
    "add_history_rows",
    "count_enquiries",
    "enquiry_row",
    "get_enquiry",
    "history_row",
    "insert_enquiry",
    "list_enquiries",
    "next_number",
    "row_to_enquiry",
    "set_fields",
    "set_fields_rows",
]


# Statements built once and executed with parameters: SQLAlchemy then reuses the compiled
# form, instead of building, cache-keying and coercing a new statement for every row.
_INSERT_ENQUIRY = enquiries.insert()
_INSERT_HISTORY = enquiry_history.insert()
# SET takes the columns named in the parameters; the row is picked by ``_enquiry_id``.
_UPDATE_ENQUIRY = update(enquiries).where(enquiries.c.id == bindparam("_enquiry_id"))


@cache
def _take_number(dialect: str) -> Any:
    # One upsert, atomic on both back ends: the first use of a name takes 1.
    stmt = insert_for(dialect)(counters).values(name=bindparam("name"), value=1)
    return stmt.on_conflict_do_update(
        index_elements=[counters.c.name], set_={"value": counters.c.value + 1}
    ).returning(counters.c.value)


def next_number(conn: Connection, name: str) -> int:
    """Atomically take the next value of a named counter (safe across processes)."""
    stmt = _take_number(conn.dialect.name)
    return int(conn.execute(stmt, {"name": name}).scalar_one())


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
        **keys_of(person.name, person.email, person.phone, person.postcode).columns(),
        **point_columns(enquiry.location),
    }


def insert_enquiry(conn: Connection, enquiry: Enquiry, now: datetime) -> None:
    conn.execute(_INSERT_ENQUIRY, enquiry_row(enquiry, now))


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
        purged_at=m.get("purged_at"),
        archived_at=m.get("archived_at"),
    )


def history_row(
    enquiry_id: str,
    at: datetime,
    event: str,
    actor: str,
    detail: str = "",
    status: Status | None = None,
    crm_event_id: str | None = None,
) -> dict[str, Any]:
    """One enquiry_history row, for ``add_history_rows``."""
    return {
        "enquiry_id": enquiry_id,
        "at": at,
        "event": event,
        "actor": actor,
        "detail": detail,
        "status": status.value if status else None,
        "crm_event_id": crm_event_id,
    }


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
        _INSERT_HISTORY, history_row(enquiry_id, at, event, actor, detail, status, crm_event_id)
    )


def add_history_rows(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Several ``history_row``s in one statement (executemany)."""
    if rows:
        conn.execute(_INSERT_HISTORY, list(rows))


def set_fields(conn: Connection, enquiry_id: str, now: datetime, **values: Any) -> None:
    conn.execute(_UPDATE_ENQUIRY, {"updated_at": now, **values, "_enquiry_id": enquiry_id})


def set_fields_rows(
    conn: Connection, now: datetime, changes: Sequence[tuple[str, dict[str, Any]]]
) -> None:
    """``set_fields`` for several enquiries: one executemany per set of columns changed."""
    by_columns: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for enquiry_id, values in changes:
        by_columns.setdefault(tuple(sorted(values)), []).append(
            {"updated_at": now, **values, "_enquiry_id": enquiry_id}
        )
    for params in by_columns.values():
        conn.execute(_UPDATE_ENQUIRY, params)


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
            .where(enquiry_links.c.enquiry_id == enquiry_id,
                   enquiry_links.c.unlinked_at.is_(None))  # an unlinked pair keeps its row
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
    received_from: date | None = None  # council-local calendar days, inclusive
    received_to: date | None = None
    timezone: str = "Europe/London"
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
        # Days are the council's, not UTC's: compare instants so the index on received_at works.
        if self.received_from is not None:
            query = query.where(c.received_at >= _local_midnight(self.received_from,
                                                                 self.timezone))
        if self.received_to is not None:
            query = query.where(c.received_at < _local_midnight(
                self.received_to + timedelta(days=1), self.timezone))
        if self.text:
            escaped = self.text.lower().replace("\\", "\\\\").replace("%", "\\%")
            like = "%" + escaped.replace("_", "\\_") + "%"
            query = query.where(
                or_(
                    func.lower(c.description).like(like, escape="\\"),
                    func.lower(c.location).like(like, escape="\\"),
                    func.lower(c.reference).like(like, escape="\\"),
                    func.lower(c.constituent_name).like(like, escape="\\"),
                )
            )
        return query


def _local_midnight(day: date, timezone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(timezone)).astimezone(UTC)


def list_enquiries(
    conn: Connection, where: EnquiryFilter, limit: int = 100, offset: int = 0,
    visible: ColumnElement[bool] | None = None,
) -> list[Enquiry]:
    """Newest first; without history (``get_enquiry`` gives one enquiry in full). ``visible``
    narrows to what a principal may see (``access.policy.visible_clause``)."""
    query = where.apply(select(enquiries))
    if visible is not None:
        query = query.where(visible)
    query = query.order_by(
        enquiries.c.received_at.desc(), enquiries.c.reference.desc()
    )
    return [row_to_enquiry(row) for row in conn.execute(query.limit(limit).offset(offset))]


def count_enquiries(conn: Connection, where: EnquiryFilter) -> int:
    return int(conn.execute(where.apply(select(func.count()).select_from(enquiries))).scalar_one())
