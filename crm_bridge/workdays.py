"""Working days for response deadlines: weekends, bank holidays and council closure days off.

Day 0 is the day of receipt in the council's timezone; the target is the Nth
working day after it, so an enquiry received on a Saturday counts Monday as
day 1. Bank holidays come from the ``holidays`` package (GB-SCT by default,
substitute days included); closure days come from the council's config.

The package is imported on the first question about a day, not with this module: finding a
country in it loads its table of every country (a tenth of a second), which a ``sync`` with
nothing due, or ``--help``, should not pay for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["UK_REGIONS", "WorkingCalendar", "is_known_region"]

UK_REGIONS = frozenset({"GB-ENG", "GB-NIR", "GB-SCT", "GB-WLS"})
"""The UK's bank holiday regions, all in the holidays package (a test asks it): a config
naming one is accepted without loading the package."""


def is_known_region(region: str) -> bool:
    """Whether the holidays package has ``region`` (a country, or country-subdivision)."""
    if region in UK_REGIONS:
        return True
    import holidays

    country, _, subdivision = region.partition("-")
    try:
        holidays.country_holidays(country, subdiv=subdivision or None)
    except NotImplementedError:
        return False
    return True


@lru_cache(maxsize=16)
def _bank_holidays(region: str, year: int) -> frozenset[date]:
    import holidays

    country, _, subdivision = region.partition("-")
    table = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(table.keys())


class WorkingCalendar:
    """Answers 'is this a working day' and adds or subtracts working days."""

    def __init__(
        self, timezone: str = "Europe/London", bank_holidays: str = "GB-SCT",
        closure_days: Iterable[date] = (),
    ) -> None:
        self.zone = ZoneInfo(timezone)
        self.region = bank_holidays
        self.closure_days = frozenset(closure_days)

    def local_date(self, instant: datetime) -> date:
        """The calendar day ``instant`` falls on in the council's timezone."""
        if instant.tzinfo is None:
            raise ValueError("instant must be timezone-aware")
        return instant.astimezone(self.zone).date()

    def is_working_day(self, day: date) -> bool:
        return (
            day.weekday() < 5
            and day not in self.closure_days
            and day not in _bank_holidays(self.region, day.year)
        )

    def add_working_days(self, start: date, days: int) -> date:
        """The ``days``-th working day after ``start`` (``start`` itself is day 0)."""
        if days < 0:
            return self.subtract_working_days(start, -days)
        current = start
        counted = 0
        while counted < days:
            current += timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def subtract_working_days(self, end: date, days: int) -> date:
        """The working day ``days`` working days before ``end``."""
        current = end
        counted = 0
        while counted < days:
            current -= timedelta(days=1)
            if self.is_working_day(current):
                counted += 1
        return current

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (negative if end < start)."""
        if end < start:
            return -self.working_days_between(end, start)
        return sum(
            1 for offset in range(1, (end - start).days + 1)
            if self.is_working_day(start + timedelta(days=offset))
        )
