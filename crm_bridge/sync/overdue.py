"""Mark enquiries whose response date has passed with no response: once each.

The query reads only open enquiries not yet marked (index ``ix_enquiries_overdue_scan``:
overdue, status, target date), so its cost follows what became overdue, not the size of
the history. On PostgreSQL the rows are locked in id order first, the order pull writes
them in, so the two steps (single-runners each, possibly in different processes) never
deadlock; the update is conditional, so a row is marked, and its history written, once.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, bindparam, select, update

from crm_bridge.models import OPEN_STATUSES
from crm_bridge.store.enquiries import add_history_rows, history_row
from crm_bridge.store.tables import enquiries

__all__ = ["mark_overdue"]

_OPEN = sorted(s.value for s in OPEN_STATUSES)
_MARK = (update(enquiries)
         .where(enquiries.c.id == bindparam("_id"), enquiries.c.overdue.is_(False))
         .values(overdue=True, updated_at=bindparam("_now")))


def mark_overdue(engine: Engine, today: date, now: datetime) -> int:
    """Flag open enquiries whose target date is before ``today`` (council-local)."""
    e = enquiries.c
    query = (select(e.id, e.target_date)
             .where(e.overdue.is_(False), e.status.in_(_OPEN), e.target_date < today)
             .order_by(e.id))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE
        rows = conn.execute(query).all()
        if not rows:
            return 0
        conn.execute(_MARK, [{"_id": row.id, "_now": now} for row in rows])
        add_history_rows(conn, [
            history_row(row.id, now, "overdue", "sync",
                        f"no response by the target date {row.target_date.isoformat()}")
            for row in rows
        ])
    return len(rows)
