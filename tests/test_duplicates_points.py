"""The duplicate check's distance: a location written as 'latitude, longitude' is a point,
kept in the store (migration 0016), and two points within ``duplicates.distance_metres`` are
one place, in any ward; further apart they are not, whatever the words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from alembic import command
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from support.constants import NOW
from support.duplicate_pairs import _pin

from crm_bridge.access.policy import Principal, UserRole
from crm_bridge.app import Bridge
from crm_bridge.duplicates import facts_of, find_duplicates
from crm_bridge.models import Enquiry
from crm_bridge.places import coordinates, metres_apart
from crm_bridge.portal.finder import search
from crm_bridge.privacy.rectify import refresh_keys
from crm_bridge.privacy.scrub import scrub
from crm_bridge.store.enquiries import EnquiryFilter
from crm_bridge.store.migrate import _alembic_config, upgrade
from crm_bridge.store.tables import enquiries

TILLY = (56.1531, -3.7386)
TEXT = "Street light flickering on and off all night"


def test_a_location_is_a_point_only_when_written_as_one() -> None:
    assert coordinates(" 56.1531 , -3.7386 ") == (56.1531, -3.7386)
    for not_a_point in ("12 Main Street, Alloa", "56.1531", "99.5, -3.7", "56.1, -181.0",
                        "56.1531, -3.7386, Alloa", "", None):
        assert coordinates(not_a_point) is None, not_a_point


@given(st.floats(min_value=0, max_value=5000), st.floats(min_value=50, max_value=60))
def test_a_distance_north_is_measured_as_written(metres: float, latitude: float) -> None:
    here, there = coordinates(_pin((latitude, -3.7), 0)), coordinates(_pin((latitude, -3.7),
                                                                           metres))
    assert here is not None and there is not None
    assert abs(metres_apart(here, there) - metres) <= 0.2  # six decimals: about 0.1 m


def _points(bridge: Bridge, reference: str) -> tuple[float | None, float | None]:
    with bridge.engine.connect() as conn:
        row = conn.execute(select(enquiries.c.latitude, enquiries.c.longitude)
                           .where(enquiries.c.reference == reference)).one()
    return row.latitude, row.longitude


def test_points_close_by_are_one_place_in_any_ward(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first = log(NOW - timedelta(days=2), category_id="street-lighting", description=TEXT,
                location=_pin(TILLY, 0))
    near = log(NOW - timedelta(days=1), member_id="cllr-morag-kinnaird",
               category_id="street-lighting", description="The street light is flickering "
               "all night", location=_pin(TILLY, 25))
    far = log(NOW - timedelta(days=1), category_id="street-lighting", description=TEXT,
              location=_pin(TILLY, 300))
    months_ago = log(NOW - timedelta(days=90), category_id="street-lighting", description=TEXT,
                     location=_pin(TILLY, 5))
    assert near.ward_id != first.ward_id
    assert _points(bridge, first.reference) == coordinates(first.location)
    new = log(NOW, category_id="street-lighting", description=TEXT,
              location=_pin(TILLY, 10))
    with bridge.engine.connect() as conn:
        found = find_duplicates(conn, None, facts_of(new), bridge.config.duplicates,
                                exclude=str(new.id), relative_to_now=False)
    # Equal scores, newest first. The far one shares the constituent's postcode (the
    # draft's), but two points 290 m apart are two places.
    assert [m.row.reference for m in found.matches] == [near.reference, first.reference]
    assert found.matches[0].reasons.startswith("15 m apart, same category, 1 day earlier")
    assert found.matches[1].reasons.startswith("10 m apart, same category, 2 days earlier")
    assert not {far.reference, months_ago.reference} & {m.row.reference for m in found.matches}


def test_purge_and_rectification_keep_the_point_with_its_location(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    pinned = log(location=_pin(TILLY, 0))
    with bridge.engine.begin() as conn:
        conn.execute(enquiries.update().where(enquiries.c.id == str(pinned.id))
                     .values(location="Main Street, Tillicoultry"))
        refresh_keys(conn, str(pinned.id))
    assert _points(bridge, pinned.reference) == (None, None)
    again = log(location=_pin(TILLY, 40))
    with bridge.engine.begin() as conn:
        scrub(conn, [str(again.id)], NOW)
    assert _points(bridge, again.reference) == (None, None)


def test_the_migration_fills_points_in_and_leaves_search_working(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    """Down to 0015 and up again: points are filled in from the stored locations, and on
    SQLite the search index still finds the rows (the columns were dropped in place)."""
    pinned = log(location=_pin(TILLY, 0))
    street = log(location="Main Street, Tillicoultry")
    config = _alembic_config()
    with bridge.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0015")
    upgrade(bridge.engine)
    assert _points(bridge, pinned.reference) == coordinates(pinned.location)
    assert _points(bridge, street.reference) == (None, None)
    staff = Principal(user_id=1, username="staff", name="Staff", role=UserRole.STAFF,
                      member_id=None, ward_id=None, session_id="s",
                      scope=frozenset({pinned.member_id}))
    with bridge.engine.connect() as conn:
        rows, total = search(conn, staff, EnquiryFilter(text="paterson jean"), 1, 25,
                             bridge.router.calendar.zone)
    assert total == 2 and {r.reference for r in rows} == {pinned.reference, street.reference}
