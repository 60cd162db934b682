"""Enquiry totals grouped the ways reports count them, from the facts a purge keeps.

Reads only columns that survive ``crm-bridge purge`` (ward, category, service, member,
received, target and response dates, status), so a report over a period gives the same
totals before and after personal data is removed.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

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
    """Totals of enquiries received between the two council-local days (inclusive)."""
    zone = ZoneInfo(timezone)
    c = enquiries.c
    where = EnquiryFilter(received_from=received_from, received_to=received_to,
                          timezone=timezone)
    query = where.apply(select(c.ward_id, c.category_id, c.service_id, c.member_id,
                               c.received_at, c.status, c.responded_at, c.target_date))
    totals = Totals()
    for row in conn.execute(query):
        totals.total += 1
        totals.by_ward[row.ward_id or "-"] += 1
        totals.by_category[row.category_id] += 1
        totals.by_service[row.service_id] += 1
        totals.by_member[row.member_id] += 1
        totals.by_month[f"{row.received_at.astimezone(zone):%Y-%m}"] += 1
        totals.by_status[row.status] += 1
        if row.responded_at is None:
            outcome = "no_response"
        elif row.responded_at.astimezone(zone).date() <= row.target_date:
            outcome = "on_time"
        else:
            outcome = "late"
        totals.by_outcome[outcome] += 1
    return totals
