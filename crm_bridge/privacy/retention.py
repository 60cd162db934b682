"""Which enquiries' personal data has outlived its retention period (``retention:``)."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from crm_bridge.config.schema import RetentionSettings
from crm_bridge.models import Status
from crm_bridge.store.tables import enquiries

__all__ = ["Expired", "expired", "months_before"]


def months_before(moment: datetime, months: int) -> datetime:
    """``moment`` less whole calendar months (31 March less one month: 28/29 February)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    month += 1
    return moment.replace(year=year, month=month,
                          day=min(moment.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True)
class Expired:
    id: str
    reference: str
    crm_ref: str | None
    months: int


def expired(conn: Connection, retention: RetentionSettings, now: datetime) -> list[Expired]:
    """Closed enquiries, not yet purged, closed more than their period before ``now``."""
    shortest = min([retention.closed_months, *retention.services.values(),
                    *retention.categories.values()])
    c = enquiries.c
    rows = conn.execute(
        select(c.id, c.reference, c.crm_ref, c.category_id, c.service_id, c.closed_at)
        .where(c.status == Status.CLOSED.value, c.purged_at.is_(None),
               c.closed_at < months_before(now, shortest))
        .order_by(c.closed_at, c.reference))
    found = []
    for row in rows:
        months = retention.months_for(row.category_id, row.service_id)
        if row.closed_at < months_before(now, months):
            found.append(Expired(row.id, row.reference, row.crm_ref, months))
    return found
