"""The council-local calendar day of a stored instant, computed by the database.

PostgreSQL knows time zones: ``(t AT TIME ZONE 'Europe/London')::date``. SQLite stores UTC
text and knows none, so the zone's UTC offsets over the span the report reads are worked
out here (every change of offset, found from ``zoneinfo``) and the day is
``date(t, '+N seconds')`` inside a CASE on those change instants: exact for every instant
in the span, and a handful of branches (two a year for Europe/London).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, case, cast, func, literal, literal_column
from sqlalchemy.sql.elements import ColumnElement

from crm_bridge.store.types import UtcDateTime

__all__ = ["local_day", "offset_changes"]

_UTC_TIME = UtcDateTime()


def offset_changes(timezone: str, start: datetime, end: datetime) -> list[tuple[datetime, int]]:
    """``[(from_instant, offset_seconds), ...]`` covering ``start`` to ``end`` (UTC, aware):
    the first entry starts at ``start``; each later one where the offset changes."""
    zone = ZoneInfo(timezone)

    def offset(at: datetime) -> int:
        delta = at.astimezone(zone).utcoffset()
        return int(delta.total_seconds()) if delta else 0

    changes = [(start, offset(start))]
    day = start
    while day < end:
        following = min(day + timedelta(days=1), end)
        if offset(following) != offset(day):
            low, high = day, following  # the change is after low, at or before high
            while high - low > timedelta(minutes=1):
                middle = low + (high - low) / 2
                if offset(middle) == offset(low):
                    low = middle
                else:
                    high = middle
            high = high.replace(second=0, microsecond=0)
            changes.append((high, offset(following)))
        day = following
    return changes


def local_day(column: Any, dialect: str, timezone: str, start: datetime,
              end: datetime) -> ColumnElement[Any]:
    """An expression for the council-local day of ``column`` (a UTC instant column), exact for
    instants from ``start`` to ``end``; NULL stays NULL. SQLite gives 'YYYY-MM-DD' text."""
    if dialect == "postgresql":
        return cast(func.timezone(literal(timezone), column), Date)
    changes = offset_changes(timezone, start.astimezone(UTC), end.astimezone(UTC))

    def shifted(seconds: int) -> ColumnElement[Any]:
        return func.date(column, literal_column(f"'{seconds:+d} seconds'"))

    if len(changes) == 1:
        return shifted(changes[0][1])
    branches = [(column < literal(changes[i + 1][0], _UTC_TIME), shifted(changes[i][1]))
                for i in range(len(changes) - 1)]
    return case(*branches, else_=shifted(changes[-1][1]))
