"""Router: category (and ward) → service, with target and warning dates in working days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crm_bridge.config import CouncilConfig, load_config
from crm_bridge.errors import InputError
from crm_bridge.models import ServiceDestination
from crm_bridge.routing import Router

EXAMPLE = Path(__file__).resolve().parents[1] / "config.example.yaml"
CONFIG: CouncilConfig = load_config(EXAMPLE, environ={}).config
ROUTER = Router(CONFIG)

PROPERTIES = settings(database=None, deadline=None, max_examples=200)
DAYS = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))


def service(
    response_days: int, warning_days: int | None = None, service_id: str = "test"
) -> ServiceDestination:
    return ServiceDestination(
        id=service_id,
        name="Test service",
        crm_target="Test",
        response_days=response_days,
        warning_days=warning_days,
        contact="test@clacks.example.gov.uk",
    )


# --- which service -------------------------------------------------------------------


def test_category_routes_to_its_service() -> None:
    assert ROUTER.service_for("street-lighting", "clacks-west").id == "lighting"
    assert ROUTER.service_for("missed-bin", None).id == "waste"


def test_ward_override_routes_to_the_area_office() -> None:
    assert ROUTER.service_for("housing-repair", "clacks-north").id == "housing-repairs-hillfoots"
    assert ROUTER.service_for("damp-mould", "clacks-north").id == "housing-repairs-hillfoots"


@pytest.mark.parametrize("ward", ["clacks-west", "clacks-central", "clacks-east", None])
def test_other_wards_use_the_default_service(ward: str | None) -> None:
    assert ROUTER.service_for("housing-repair", ward).id == "housing-repairs"


def test_unknown_category_names_the_field_and_suggests() -> None:
    with pytest.raises(InputError) as info:
        ROUTER.service_for("street-lightng", "clacks-west")
    assert info.value.field == "category"
    assert info.value.message == (
        "unknown category 'street-lightng' (did you mean 'street-lighting'?)"
    )
    assert str(info.value).startswith("category: unknown category 'street-lightng'")


def test_unknown_category_from_route() -> None:
    with pytest.raises(InputError, match=r"^category: unknown category 'potholes'"):
        ROUTER.route("potholes", None, datetime(2026, 7, 1, 9, tzinfo=UTC))


# --- dates -------------------------------------------------------------------------------


def test_receipt_after_midnight_bst_counts_from_that_day() -> None:
    route = ROUTER.route("pothole", "clacks-west", datetime(2026, 6, 30, 23, 30, tzinfo=UTC))
    assert route.service.id == "roads"
    assert route.received_on == date(2026, 7, 1)
    assert route.target_date == date(2026, 7, 15)  # 10 working days
    assert route.warning_date == date(2026, 7, 10)  # roads: 3 working days before


def test_warning_defaults_to_the_calendar_setting() -> None:
    # lighting sets no warning_days: the calendar's 2 applies.
    route = ROUTER.route("street-lighting", None, datetime(2026, 7, 1, 9, tzinfo=UTC))
    assert route.target_date == date(2026, 7, 15)
    assert route.warning_date == date(2026, 7, 13)


def test_saturday_receipt_counts_monday_as_day_one() -> None:
    route = ROUTER.route("missed-bin", "clacks-south", datetime(2026, 7, 4, 10, tzinfo=UTC))
    assert route.received_on == date(2026, 7, 4)
    assert route.target_date == date(2026, 7, 10)  # waste: 5 days, Mon 6 is day 1
    assert route.warning_date == date(2026, 7, 9)


def test_christmas_bank_holidays_and_closure_days_are_skipped() -> None:
    route = ROUTER.route("fly-tipping", "clacks-east", datetime(2026, 12, 23, 15, tzinfo=UTC))
    # 24 Dec is day 1; 25, 28 bank holidays; 29-31 closed; 1, 4 Jan bank holidays.
    assert route.target_date == date(2027, 1, 8)
    assert route.warning_date == date(2027, 1, 7)


def test_first_monday_of_august_skipped() -> None:
    route = ROUTER.route("planning-enforcement", None, datetime(2026, 7, 27, 9, tzinfo=UTC))
    assert route.service.id == "planning"
    assert route.target_date == date(2026, 8, 25)  # 20 working days, 3 Aug off
    assert route.warning_date == date(2026, 8, 18)  # 5 working days before


def test_ward_override_carries_its_own_deadline() -> None:
    received = datetime(2026, 7, 1, 9, tzinfo=UTC)
    route = ROUTER.route("housing-repair", "clacks-north", received)
    assert route.service.id == "housing-repairs-hillfoots"
    assert route.target_date == date(2026, 7, 15)


def test_warning_never_before_day_of_receipt() -> None:
    # One working day to respond, the calendar's 2-day heads-up would fall before receipt.
    route = ROUTER.dates(service(1), date(2026, 7, 1))
    assert route.target_date == date(2026, 7, 2)
    assert route.warning_date == date(2026, 7, 1)


def test_warning_on_the_day_of_the_target() -> None:
    route = ROUTER.dates(service(5, warning_days=0), date(2026, 7, 1))
    assert route.warning_date == route.target_date == date(2026, 7, 8)


def test_extension_adds_working_days() -> None:
    plain = ROUTER.dates(service(5), date(2026, 7, 1))
    extended = ROUTER.dates(service(5), date(2026, 7, 1), extra_days=5)
    assert plain.target_date == date(2026, 7, 8)
    assert extended.target_date == date(2026, 7, 15)
    assert extended.warning_date == date(2026, 7, 13)


# --- properties --------------------------------------------------------------------------


@PROPERTIES
@given(
    received_on=DAYS,
    response_days=st.integers(min_value=1, max_value=120),
    warning_days=st.one_of(st.none(), st.integers(min_value=0, max_value=60)),
)
def test_route_dates_are_consistent(
    received_on: date, response_days: int, warning_days: int | None
) -> None:
    route = ROUTER.dates(service(response_days, warning_days), received_on)
    calendar = ROUTER.calendar
    assert calendar.is_working_day(route.target_date)
    assert route.target_date > received_on
    assert calendar.working_days_between(received_on, route.target_date) == response_days
    assert received_on <= route.warning_date <= route.target_date


@PROPERTIES
@given(
    category=st.sampled_from([c.id for c in CONFIG.categories]),
    ward=st.sampled_from([None, *(w.id for w in CONFIG.wards)]),
    received_at=st.datetimes(
        min_value=datetime(2024, 1, 1), max_value=datetime(2030, 12, 31), timezones=st.just(UTC)
    ),
)
def test_every_category_routes_from_any_ward(
    category: str, ward: str | None, received_at: datetime
) -> None:
    route = ROUTER.route(category, ward, received_at)
    assert CONFIG.service(route.service.id) is route.service
    local = received_at.astimezone(ROUTER.calendar.zone).date()
    assert route.received_on == local
    assert route.received_on - received_at.date() in (timedelta(0), timedelta(days=1))
    assert route.received_on <= route.warning_date <= route.target_date
    assert (
        ROUTER.calendar.working_days_between(route.received_on, route.target_date)
        == route.service.response_days
    )
