"""Report periods: council-local days, from the first to the last inclusive.

Written as ``2026H1`` (January to June), ``2026H2``, ``2026Q3`` (a quarter), ``2026-10`` (a
month), ``2026`` (a year), or given as ``--from``/``--to`` days. A bad value raises
``InputError`` naming the flag it came from.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from crm_bridge.errors import InputError

__all__ = ["Period", "last_complete_half", "parse_day", "parse_period", "period_between"]

_HALF = re.compile(r"^(\d{4})H([12])$")
_QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")
_FORMS = "2026H1, 2026Q3, 2026-10 or 2026"


@dataclass(frozen=True)
class Period:
    """Enquiries received from ``first`` to ``last`` (council-local days, inclusive)."""

    first: date
    last: date
    label: str

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def previous(self) -> Period:
        """The period of the same length just before this one (the same span of months when
        this one is whole months, so 2026H1's previous period is 2025H2)."""
        months = _whole_months(self)
        if months:
            first = _add_months(self.first, -months)
            last = self.first - timedelta(days=1)
        else:
            last = self.first - timedelta(days=1)
            first = last - timedelta(days=self.days - 1)
        return Period(first, last, _label(first, last))

    def bounds(self, timezone: str) -> tuple[datetime, datetime]:
        """The UTC instants of the first day's local midnight and the day after the last's."""
        zone = ZoneInfo(timezone)
        start = datetime.combine(self.first, time(), tzinfo=zone).astimezone(UTC)
        end = datetime.combine(self.last + timedelta(days=1), time(), tzinfo=zone)
        return start, end.astimezone(UTC)


def parse_day(value: str, flag: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InputError(flag, f"'{value}' is not a day: write it as YYYY-MM-DD, "
                               "e.g. 2026-01-31") from None


def parse_period(value: str, flag: str = "--period") -> Period:
    """``2026H1``, ``2026Q3``, ``2026-10`` or ``2026`` as a period; ``flag`` names the source."""
    text = value.strip().upper()
    if match := _HALF.match(text):
        year, half = int(match[1]), int(match[2])
        first = date(year, 1 if half == 1 else 7, 1)
        return Period(first, _add_months(first, 6) - timedelta(days=1), text)
    if match := _QUARTER.match(text):
        year, quarter = int(match[1]), int(match[2])
        first = date(year, 3 * quarter - 2, 1)
        return Period(first, _add_months(first, 3) - timedelta(days=1), text)
    if match := _MONTH.match(text):
        year, month = int(match[1]), int(match[2])
        if not 1 <= month <= 12:
            raise InputError(flag, f"'{value}' has no month {month}: use 01 to 12")
        first = date(year, month, 1)
        return Period(first, _add_months(first, 1) - timedelta(days=1), text)
    if match := _YEAR.match(text):
        year = int(match[1])
        return Period(date(year, 1, 1), date(year, 12, 31), text)
    raise InputError(flag, f"'{value}' is not a period: use {_FORMS}")


def period_between(first: date, last: date) -> Period:
    if last < first:
        raise InputError("--to", f"{last.isoformat()} is before --from {first.isoformat()}")
    return Period(first, last, _label(first, last))


def last_complete_half(today: date) -> Period:
    """The most recent half-year that ended before ``today``."""
    if today.month > 6:
        return parse_period(f"{today.year}H1")
    return parse_period(f"{today.year - 1}H2")


def _add_months(day: date, months: int) -> date:
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def _whole_months(period: Period) -> int:
    """How many whole months the period spans, or 0 if it does not start and end on them."""
    if period.first.day != 1 or (period.last + timedelta(days=1)).day != 1:
        return 0
    after = period.last + timedelta(days=1)
    return (after.year - period.first.year) * 12 + after.month - period.first.month


def _label(first: date, last: date) -> str:
    """The short name of a whole half, quarter, month or year; else the two days."""
    months = _whole_months(Period(first, last, ""))
    if months == 6 and first.month in (1, 7):
        return f"{first.year}H{1 if first.month == 1 else 2}"
    if months == 3 and first.month % 3 == 1:
        return f"{first.year}Q{first.month // 3 + 1}"
    if months == 1:
        return f"{first:%Y-%m}"
    if months == 12 and first.month == 1:
        return str(first.year)
    return f"{first.isoformat()} to {last.isoformat()}"
