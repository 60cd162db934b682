"""Repeat issues and hot spots: the same problem raised more than once in a period.

Repeat issues are enquiries linked as the same issue as another (the portal's duplicate
links, which a purge keeps). Hot spots are places where one category of problem was raised
at least twice: enquiries grouped by the database on ward, category and location, then
folded on the location as the duplicate check normalises it (lower case, abbreviations
spelt out), with house numbers and any other word holding a digit dropped so a place is a
street at most. A purge removes the location, so hot spots come only from enquiries whose
personal data is still held; ``places_held`` says how many that was.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import Connection, func, select, union

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.places import normalise
from crm_bridge.reports.engine import NONE_KEY, label
from crm_bridge.reports.period import Period
from crm_bridge.store.tables import enquiries, enquiry_links

__all__ = ["HotSpot", "Repeats", "place_key", "repeat_issues"]

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


def place_key(location: str | None) -> str:
    """A location as the duplicate check compares it, without house numbers."""
    return " ".join(word for word in normalise(location).split()
                    if not any(ch.isdigit() for ch in word))


def repeat_issues(conn: Connection, config: CouncilConfig, period: Period,
                  at_least: int = 2) -> Repeats:
    """Repeat issues and the hot spots with ``at_least`` enquiries in ``period``."""
    start, end = period.bounds(config.council.timezone)
    in_period = (_c.received_at >= start, _c.received_at < end)
    links = enquiry_links.c
    # From the (small) links table to the enquiries, not a look-up per enquiry.
    either = union(select(links.enquiry_id.label("id")).where(links.unlinked_at.is_(None)),
                   select(links.linked_id.label("id")).where(links.unlinked_at.is_(None))
                   ).subquery()
    linked_count = conn.execute(
        select(func.count()).select_from(either.join(enquiries, _c.id == either.c.id))
        .where(*in_period)).scalar_one()
    places: dict[tuple[str, str, str], int] = {}
    received = held = 0
    query = (select(_c.ward_id, _c.category_id, _c.location, func.count().label("n"))
             .where(*in_period).group_by(_c.ward_id, _c.category_id, _c.location))
    for row in conn.execute(query):
        received += row.n
        if row.location is None:
            continue
        held += row.n
        key = (row.ward_id or NONE_KEY, row.category_id, place_key(row.location))
        if key[2]:
            places[key] = places.get(key, 0) + row.n
    spots = [HotSpot(place.title(), ward, label(config, "ward", ward), category,
                     label(config, "category", category), count)
             for (ward, category, place), count in places.items() if count >= at_least]
    spots.sort(key=lambda s: (-s.count, s.ward, s.category, s.place))
    return Repeats(int(received), int(linked_count), int(held), spots)
