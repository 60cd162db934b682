"""The council-local calendar day of a stored instant, computed by the database.

PostgreSQL knows time zones: ``(t AT TIME ZONE 'Europe/London')::date``. SQLite stores UTC
text and knows none, so the zone's UTC offsets over the span the report reads are worked
out here (every change of offset, found from ``zoneinfo``) and the day is
``date(t, '+N seconds')`` inside a CASE on those change instants: exact for every instant
in the span, and a handful of branches (two a year for Europe/London).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Integer, case, cast, func, literal, literal_column
from sqlalchemy.sql.elements import ColumnElement

from crm_bridge.store.types import UtcDateTime

__all__ = ["EPOCH", "date_number", "day_number", "local_day", "number_of", "offset_changes",
           "working_number"]

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


EPOCH = date(2000, 1, 3)
"""A Monday: days are numbered from it (day 0), so a day's weekday is its number mod 7."""
_EPOCH_SECONDS = 946857600  # 2000-01-03T00:00:00Z as a Unix time


def day_number(column: Any, dialect: str, timezone: str, start: datetime,
               end: datetime) -> ColumnElement[Any]:
    """The council-local day of instant ``column`` as a number of days since ``EPOCH``
    (exact for instants from ``start`` to ``end``)."""
    if dialect == "postgresql":
        return cast(local_day(column, dialect, timezone, start, end) - literal(EPOCH, Date),
                    Integer)
    changes = offset_changes(timezone, start.astimezone(UTC), end.astimezone(UTC))
    if len(changes) == 1:
        shift: ColumnElement[Any] = literal(changes[0][1])
    else:
        shift = case(*[(column < literal(changes[i + 1][0], _UTC_TIME), changes[i][1])
                       for i in range(len(changes) - 1)], else_=changes[-1][1])
    # Whole seconds, integer arithmetic: no rounding at midnight.
    seconds = cast(func.strftime("%s", column), Integer)
    return (seconds + shift - _EPOCH_SECONDS) // 86400


def date_number(column: Any, dialect: str) -> ColumnElement[Any]:
    """A DATE column as a number of days since ``EPOCH``."""
    if dialect == "postgresql":
        return cast(column - literal(EPOCH, Date), Integer)
    return (cast(func.strftime("%s", column), Integer) - _EPOCH_SECONDS) // 86400


def working_number(number: ColumnElement[Any], days_off: list[int]) -> ColumnElement[Any]:
    """Working days from ``EPOCH`` up to and including day ``number``: weekdays, less the
    weekdays in ``days_off`` (sorted day numbers of bank holidays and closure days) on or
    before it. The difference of two is ``WorkingCalendar.working_days_between``."""
    weekday = number % 7
    weekdays = (number // 7) * 5 + case((weekday < 5, weekday + 1), else_=5)
    if not days_off:
        return weekdays
    off = case(*[(number < day, index) for index, day in enumerate(days_off)],
               else_=len(days_off))
    return weekdays - off


def number_of(day: date) -> int:
    return (day - EPOCH).days
