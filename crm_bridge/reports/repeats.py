"""Repeat issues and hot spots: the same problem raised more than once in a period.

Repeat issues are enquiries linked as the same issue as another (the portal's duplicate
links, which a purge keeps). Hot spots (``hot_spots``) are places where one category of
problem was raised at least twice: enquiries grouped by the database on ward, category and
location, then folded on the place as the duplicate check reads it (``place_key``: the
street a location names and its town, so '14 Main St., Tillicoultry' and 'outside the
Co-op, Main Street, Tillicoultry' are one place; a location naming no street keeps its words
without house numbers or any other word holding a digit), so a place is a street at most. A
purge removes the location, so hot spots come only from enquiries whose personal data is
still held; ``places_held`` says how many that was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, union

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.places import coordinates, locality, normalise, streets
from crm_bridge.reports.engine import NONE_KEY, label
from crm_bridge.reports.period import Period
from crm_bridge.store.tables import enquiries, enquiry_links

__all__ = ["HotSpot", "HotSpots", "Repeats", "hot_spots", "place_key", "repeat_issues"]

_c = enquiries.c


@dataclass(frozen=True)
class HotSpot:
    place: str  # a street and town at most, title case
    ward_id: str
    ward: str
    category_id: str
    category: str
    count: int


@dataclass
class Repeats:
    received: int = 0
    linked: int = 0  # enquiries received in the period linked as the same issue as another
    places_held: int = 0  # enquiries in the period whose location is still held
    hot_spots: list[HotSpot] = field(default_factory=list)  # most enquiries first

    def as_dict(self) -> dict[str, object]:
        return {"received": self.received, "linked_as_repeat": self.linked,
                "places_held": self.places_held,
                "hot_spots": [spot.__dict__ for spot in self.hot_spots]}


@dataclass
class HotSpots:
    received: int = 0  # enquiries received in the period
    places_held: int = 0  # of which the location is still held
    spots: list[HotSpot] = field(default_factory=list)  # most enquiries first


def place_key(location: str | None) -> str:
    """A location as the duplicate check reads its place: the street it names (the first
    in alphabetical order if several) and its town; a point, its cell of a thousandth of a
    degree (about 110 m north-south, 60 m east-west in Scotland), so the report names an
    area, not a doorstep; else its words without house numbers."""
    point = coordinates(location)
    if point is not None:
        return f"near {point[0]:.3f}, {point[1]:.3f}"
    named = streets(location)
    if named:
        return " ".join(filter(None, (min(named), locality(location))))
    return " ".join(word for word in normalise(location).split()
                    if not any(ch.isdigit() for ch in word))


def hot_spots(conn: Connection, period: Period, config: CouncilConfig,
              at_least: int = 2) -> HotSpots:
    """Repeat issues by place and category: each (ward, category, place) with ``at_least``
    enquiries received in ``period``, most first; the scrutiny report's hot spots."""
    start, end = period.bounds(config.council.timezone)
    places: dict[tuple[str, str, str], int] = {}
    found = HotSpots()
    query = (select(_c.ward_id, _c.category_id, _c.location, func.count().label("n"))
             .where(_c.received_at >= start, _c.received_at < end)
             .group_by(_c.ward_id, _c.category_id, _c.location))
    for row in conn.execute(query):
        found.received += row.n
        if row.location is None:
            continue
        found.places_held += row.n
        key = (row.ward_id or NONE_KEY, row.category_id, place_key(row.location))
        if key[2]:
            places[key] = places.get(key, 0) + row.n
    found.spots = [HotSpot(place.title(), ward, label(config, "ward", ward), category,
                           label(config, "category", category), count)
                   for (ward, category, place), count in places.items() if count >= at_least]
    found.spots.sort(key=lambda s: (-s.count, s.ward, s.category, s.place))
    return found


def repeat_issues(conn: Connection, config: CouncilConfig, period: Period,
                  at_least: int = 2) -> Repeats:
    """Repeat issues and the hot spots with ``at_least`` enquiries in ``period``."""
    start, end = period.bounds(config.council.timezone)
    links = enquiry_links.c
    # From the (small) links table to the enquiries, not a look-up per enquiry.
    either = union(select(links.enquiry_id.label("id")).where(links.unlinked_at.is_(None)),
                   select(links.linked_id.label("id")).where(links.unlinked_at.is_(None))
                   ).subquery()
    linked_count = conn.execute(
        select(func.count()).select_from(either.join(enquiries, _c.id == either.c.id))
        .where(_c.received_at >= start, _c.received_at < end)).scalar_one()
    spots = hot_spots(conn, period, config, at_least)
    return Repeats(spots.received, int(linked_count), spots.places_held, spots.spots)
