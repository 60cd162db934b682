"""Mark enquiries whose response date has passed with no response: once each."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select

from crm_bridge.models import OPEN_STATUSES
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.tables import enquiries

__all__ = ["mark_overdue"]


def mark_overdue(engine: Engine, today: date, now: datetime) -> int:
    """Flag open enquiries whose target date is before ``today`` (council-local)."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(enquiries.c.id, enquiries.c.target_date).where(
                enquiries.c.overdue.is_(False),
                enquiries.c.target_date < today,
                enquiries.c.status.in_([s.value for s in OPEN_STATUSES]),
            )
        ).all()
        for row in rows:
            set_fields(conn, row.id, now, overdue=True)
            add_history(conn, row.id, now, "overdue", "sync",
                        f"no response by the target date {row.target_date.isoformat()}")
    return len(rows)
