"""Enquiry totals grouped the ways reports count them, from the facts a purge keeps.

Reads only columns that survive ``crm-bridge purge`` (ward, category, service, member,
received, target and response dates, status), so a report over a period gives the same
totals before and after personal data is removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, case, func, select

from crm_bridge.store.enquiries import EnquiryFilter
from crm_bridge.store.tables import enquiries

__all__ = ["Totals", "enquiry_totals"]


@dataclass
class Totals:
    """Counts of enquiries received in a period, by each grouping a report shows."""

    total: int = 0
    by_ward: Counter[str] = field(default_factory=Counter)
    by_category: Counter[str] = field(default_factory=Counter)
    by_service: Counter[str] = field(default_factory=Counter)
    by_member: Counter[str] = field(default_factory=Counter)
    by_month: Counter[str] = field(default_factory=Counter)  # YYYY-MM, council-local
    by_status: Counter[str] = field(default_factory=Counter)
    by_outcome: Counter[str] = field(default_factory=Counter)  # on_time | late | no_response

    def as_dict(self) -> dict[str, object]:
        return {name: (dict(sorted(value.items())) if isinstance(value, Counter) else value)
                for name, value in self.__dict__.items()}


def enquiry_totals(conn: Connection, timezone: str, received_from: date | None = None,
                   received_to: date | None = None) -> Totals:
    """Totals of enquiries received between the two council-local days (inclusive).

    Counted by the database: one query grouped by every column a total is by (and the
    local day received, and whether the answer came by the target date), folded here; the
    rows it returns are the distinct combinations, not the enquiries.
    """
    from crm_bridge.reports.sqlday import local_day

    c = enquiries.c
    where = EnquiryFilter(received_from=received_from, received_to=received_to,
                          timezone=timezone)
    now = datetime.now(UTC)
    bounds = conn.execute(where.apply(select(func.min(c.received_at),
                                             func.max(c.responded_at)))).one()
    if bounds[0] is None:
        return Totals()
    start = bounds[0] - timedelta(days=1)
    end = max(now, bounds[1] or now) + timedelta(days=1)
    received = local_day(c.received_at, conn.dialect.name, timezone, start, end)
    responded = local_day(c.responded_at, conn.dialect.name, timezone, start, end)
    outcome = case((c.responded_at.is_(None), "no_response"),
                   (responded <= c.target_date, "on_time"), else_="late")
    columns = (c.ward_id, c.category_id, c.service_id, c.member_id, c.status)
    query = where.apply(select(*columns, received.label("day"), outcome.label("outcome"),
                               func.count().label("n"))
                        ).group_by(*columns, received, outcome)
    totals = Totals()
    for row in conn.execute(query):
        totals.total += row.n
        totals.by_ward[row.ward_id or "-"] += row.n
        totals.by_category[row.category_id] += row.n
        totals.by_service[row.service_id] += row.n
        totals.by_member[row.member_id] += row.n
        totals.by_month[str(row.day)[:7]] += row.n
        totals.by_status[row.status] += row.n
        totals.by_outcome[row.outcome] += row.n
    return totals
