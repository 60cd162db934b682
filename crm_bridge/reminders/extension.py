"""A member-agreed extension of an enquiry's response date, with the reason on record.

The CLI (`crm-bridge enquiry extend`) and the portal both call ``extend_deadline``. The
new dates are the service's own rule with the extra working days added
(``Router.dates(service, received_on, extension_days)``), so weekends, bank holidays and
closure days count exactly as they do for a new enquiry, and extensions add up. In one
transaction it moves the dates, records the reason in the history, clears the overdue
flag, cancels heads-ups and reminders still pending for the old date, and queues a note
for the CRM case so the service officer sees the new date where they work.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy import Engine, select

from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.models import OPEN_STATUSES
from crm_bridge.reminders.ledger import cancel_pending_for
from crm_bridge.reminders.schedule import SERVICE_KINDS
from crm_bridge.routing import Router
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import enquiries

__all__ = ["MAX_DAYS", "MAX_REASON", "Extension", "extend_deadline"]

MAX_DAYS = 60
MAX_REASON = 500


@dataclass(frozen=True)
class Extension:
    """What an extension changed, for the CLI's line and the portal's confirmation page."""

    reference: str
    days: int
    total_days: int
    previous_target: date
    target_date: date
    warning_date: date
    reason: str


def _long(day: date) -> str:
    return f"{day:%A} {day.day} {day:%B %Y}"


def extend_deadline(engine: Engine, router: Router, reference: str, days: int, reason: str,
                    actor: str, now: datetime | None = None) -> Extension:
    """Move the response date of an open enquiry ``days`` working days later.

    Raises NotFoundError for an unknown reference and InputError (naming ``days``,
    ``reason`` or ``reference``) for anything the member or staff can correct.
    """
    now = now or datetime.now(UTC)
    if not 1 <= days <= MAX_DAYS:
        raise InputError("days", f"must be a whole number of working days from 1 to {MAX_DAYS}")
    reason = " ".join(reason.split())
    if not reason:
        raise InputError("reason", "say why the member agreed to more time")
    if len(reason) > MAX_REASON:
        raise InputError("reason", f"must be at most {MAX_REASON} characters")
    key = reference.strip()
    e = enquiries.c
    with engine.begin() as conn:
        row = conn.execute(
            select(e.id, e.reference, e.status, e.service_id, e.received_at, e.target_date,
                   e.extension_days, e.crm_ref)
            .where(e.id == str(uuid.UUID(key)) if _is_uuid(key) else e.reference == key.upper())
        ).first()
        if row is None:
            raise NotFoundError(f"no enquiry '{reference}': check the reference "
                                "(like ENQ-2026-000123)")
        if row.status not in {s.value for s in OPEN_STATUSES}:
            raise InputError("reference", f"{row.reference} is {row.status.replace('_', ' ')}: "
                             "its response has arrived, so there is no date to extend")
        service = router.config.service(row.service_id)
        if service is None:
            raise InputError("reference", f"{row.reference}'s service '{row.service_id}' is no "
                             "longer in the config: reassign the enquiry first")
        total = (row.extension_days or 0) + days
        route = router.dates(service, router.calendar.local_date(row.received_at), total)
        today = router.calendar.local_date(now)
        if route.target_date < today:
            raise InputError("days", f"{days} more working days gives {_long(route.target_date)}, "
                             "which has passed already: extend by more days")
        set_fields(conn, row.id, now, target_date=route.target_date,
                   warning_date=route.warning_date, extension_days=total, overdue=False)
        add_history(conn, row.id, now, "extended", actor,
                    f"response date moved from {row.target_date.isoformat()} to "
                    f"{route.target_date.isoformat()} (+{days} working days, agreed with the "
                    f"member): {reason}")
        cancel_pending_for(conn, row.id, SERVICE_KINDS,
                           f"the response date moved to {route.target_date.isoformat()}")
        enqueue(conn, row.id, "add_note", {
            "text": f"Response date extended to {_long(route.target_date)} "
                    f"(by {days} working days), agreed with the member. Reason: {reason}",
            "author": actor,
            "kind": "follow_up",
        }, now)
    return Extension(row.reference, days, total, row.target_date, route.target_date,
                     route.warning_date, reason)


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True
