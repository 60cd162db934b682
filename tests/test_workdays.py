"""WorkingCalendar: day 0 is the local day of receipt; Scottish holidays and closures skipped."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import holidays
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from crm_bridge.workdays import UK_REGIONS, WorkingCalendar, is_known_region

CLOSURES = (
    date(2026, 12, 29),
    date(2026, 12, 30),
    date(2026, 12, 31),
    date(2027, 12, 29),
    date(2027, 12, 30),
    date(2027, 12, 31),
)

SCOTLAND = WorkingCalendar("Europe/London", "GB-SCT")
COUNCIL = WorkingCalendar("Europe/London", "GB-SCT", CLOSURES)

# No example database in the working tree, no deadline for the first, uncached holiday year.
PROPERTIES = settings(database=None, deadline=None, max_examples=200)
DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
SPANS = st.integers(min_value=0, max_value=120)


# --- the day of receipt ---------------------------------------------------------------


def test_receipt_just_after_midnight_bst_is_that_local_day() -> None:
    # 00:30 BST on 1 July is 23:30 UTC on 30 June.
    assert COUNCIL.local_date(datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == date(2026, 7, 1)


def test_receipt_in_winter_is_the_utc_day() -> None:
    assert COUNCIL.local_date(datetime(2026, 1, 15, 23, 30, tzinfo=UTC)) == date(2026, 1, 15)


def test_receipt_in_another_offset_is_converted() -> None:
    received = datetime(2026, 7, 1, 8, 0, tzinfo=timezone(timedelta(hours=10)))  # 23:00 BST 30 June
    assert COUNCIL.local_date(received) == date(2026, 6, 30)


def test_naive_instant_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        COUNCIL.local_date(datetime(2026, 7, 1, 0, 30))


# --- which days are working days -----------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 1, 1), "New Year's Day"),
        (date(2026, 1, 2), "2 January, a Scottish bank holiday"),
        (date(2026, 4, 3), "Good Friday"),
        (date(2026, 8, 3), "first Monday of August: the Scottish summer holiday"),
        (date(2026, 11, 30), "St Andrew's Day"),
        (date(2026, 12, 25), "Christmas Day, a Friday"),
        (date(2026, 12, 28), "Boxing Day (a Saturday) observed on the Monday"),
        (date(2027, 1, 1), "New Year's Day, a Friday"),
        (date(2027, 1, 4), "2 January (a Saturday) observed on the Monday"),
        (date(2026, 7, 4), "a Saturday"),
        (date(2026, 7, 5), "a Sunday"),
    ],
)
def test_not_a_working_day(day: date, why: str) -> None:
    assert not SCOTLAND.is_working_day(day), why


@pytest.mark.parametrize(
    ("day", "why"),
    [
        (date(2026, 4, 6), "Easter Monday is not a Scottish bank holiday"),
        (date(2026, 8, 31), "the last Monday of August is not a Scottish bank holiday"),
        (date(2026, 12, 24), "Christmas Eve"),
        (date(2026, 12, 29), "not a bank holiday: only the council closes"),
        (date(2026, 7, 1), "an ordinary Wednesday"),
    ],
)
def test_working_day_in_scotland(day: date, why: str) -> None:
    assert SCOTLAND.is_working_day(day), why


def test_england_differs_on_easter_and_august() -> None:
    england = WorkingCalendar("Europe/London", "GB-ENG")
    assert not england.is_working_day(date(2026, 4, 6))
    assert not england.is_working_day(date(2026, 8, 31))
    assert england.is_working_day(date(2026, 8, 3))
    assert england.is_working_day(date(2026, 11, 30))


@pytest.mark.parametrize("day", CLOSURES)
def test_council_closure_days_are_not_working_days(day: date) -> None:
    assert SCOTLAND.is_working_day(day)
    assert not COUNCIL.is_working_day(day)


# --- counting -------------------------------------------------------------------------


def test_day_zero_is_the_day_of_receipt() -> None:
    assert COUNCIL.add_working_days(date(2026, 7, 1), 0) == date(2026, 7, 1)
    assert COUNCIL.add_working_days(date(2026, 7, 1), 1) == date(2026, 7, 2)
    assert COUNCIL.add_working_days(date(2026, 7, 1), 10) == date(2026, 7, 15)


@pytest.mark.parametrize("received", [date(2026, 7, 4), date(2026, 7, 5)])
def test_weekend_receipt_counts_monday_as_day_one(received: date) -> None:
    assert COUNCIL.add_working_days(received, 1) == date(2026, 7, 6)
    assert COUNCIL.add_working_days(received, 5) == date(2026, 7, 10)


def test_bank_holiday_receipt_counts_next_working_day_as_day_one() -> None:
    assert COUNCIL.add_working_days(date(2026, 8, 3), 1) == date(2026, 8, 4)


def test_christmas_and_new_year_substitute_days_are_skipped() -> None:
    # 25 Fri, 28 Mon (Boxing Day observed), then 29-31 working without closures.
    assert SCOTLAND.add_working_days(date(2026, 12, 24), 1) == date(2026, 12, 29)
    # 1 Jan Fri, 4 Jan Mon (2 January observed).
    assert SCOTLAND.add_working_days(date(2026, 12, 31), 1) == date(2027, 1, 5)


def test_closure_days_are_skipped() -> None:
    # 25, 28 bank holidays; 29-31 closed; 1 and 4 January bank holidays.
    assert COUNCIL.add_working_days(date(2026, 12, 24), 1) == date(2027, 1, 5)
    assert COUNCIL.add_working_days(date(2026, 12, 23), 5) == date(2027, 1, 8)


def test_easter_monday_counts_in_scotland() -> None:
    # Thursday 2 April; Good Friday off; Easter Monday is day 1.
    assert SCOTLAND.add_working_days(date(2026, 4, 2), 1) == date(2026, 4, 6)


def test_august_holidays() -> None:
    assert SCOTLAND.add_working_days(date(2026, 7, 31), 1) == date(2026, 8, 4)
    assert SCOTLAND.add_working_days(date(2026, 8, 28), 1) == date(2026, 8, 31)


def test_st_andrews_day_is_skipped() -> None:
    assert SCOTLAND.add_working_days(date(2026, 11, 27), 1) == date(2026, 12, 1)


def test_subtract_and_between() -> None:
    assert COUNCIL.subtract_working_days(date(2027, 1, 5), 1) == date(2026, 12, 24)
    assert COUNCIL.subtract_working_days(date(2026, 7, 6), 1) == date(2026, 7, 3)
    assert COUNCIL.add_working_days(date(2026, 7, 6), -1) == date(2026, 7, 3)
    assert COUNCIL.working_days_between(date(2026, 12, 24), date(2027, 1, 8)) == 4
    assert COUNCIL.working_days_between(date(2027, 1, 8), date(2026, 12, 24)) == -4
    assert COUNCIL.working_days_between(date(2026, 7, 4), date(2026, 7, 5)) == 0


# --- properties --------------------------------------------------------------------


@PROPERTIES
@given(received=DAYS, days=st.integers(min_value=1, max_value=120))
def test_target_is_a_later_working_day_n_working_days_on(received: date, days: int) -> None:
    target = COUNCIL.add_working_days(received, days)
    assert COUNCIL.is_working_day(target)
    assert target > received
    assert COUNCIL.working_days_between(received, target) == days


@PROPERTIES
@given(start=DAYS, days=SPANS)
def test_add_then_subtract_is_identity_on_working_days(start: date, days: int) -> None:
    assume(COUNCIL.is_working_day(start))
    there = COUNCIL.add_working_days(start, days)
    assert COUNCIL.subtract_working_days(there, days) == start


@PROPERTIES
@given(first=DAYS, second=DAYS)
def test_between_is_antisymmetric(first: date, second: date) -> None:
    assert COUNCIL.working_days_between(first, second) == -COUNCIL.working_days_between(
        second, first
    )


@PROPERTIES
@given(
    instant=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    )
)
def test_local_date_is_the_london_calendar_day(instant: datetime) -> None:
    local = instant.astimezone(COUNCIL.zone)
    assert COUNCIL.local_date(instant) == local.date()
    assert COUNCIL.local_date(instant) - instant.date() in (timedelta(0), timedelta(days=1))


@pytest.mark.parametrize("region", sorted(UK_REGIONS))
def test_each_region_the_config_takes_without_asking_is_in_the_holidays_package(
    region: str,
) -> None:
    """The config accepts these without loading the package; it must have every one."""
    country, _, subdivision = region.partition("-")
    assert holidays.country_holidays(country, subdiv=subdivision, years=2026)
    assert is_known_region(region)


def test_a_region_beyond_the_uk_is_asked_of_the_holidays_package() -> None:
    assert is_known_region("IE")
    assert is_known_region("DE-BY")
    assert not is_known_region("GB-SC")
    assert not is_known_region("XX")
