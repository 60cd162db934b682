"""The stored enquiries worth comparing with a new one, read in a few index ranges.

Each branch is one query an index serves (SQLite walks one range per query; an OR of them
makes it scan): the same ward, category and time window (``ix_enquiries_ward_category``,
whose ``consent_to_share`` column is pinned with IN so the range stays one seek per value);
the same postcode (``ix_enquiries_constituent_postcode``); the same UPRN
(``ix_enquiries_constituent_uprn``, migration 0013); for a location written as a point,
those whose points lie in a box ``distance_metres`` around it (``ix_enquiries_point``,
migration 0016), in any ward. Rows already purged hold no place or
description, so they are left out. The access policy is applied by the caller, per row.

When only a candidate at the same place can reach the threshold (``compare.place_needed``),
the ward's rows must also mention one of the new enquiry's place names (the first five
letters of each word naming its streets or place, so 'Beauclerk' finds 'Beauclerc') in
their location, address or description: the database drops the rest of a busy ward's
category before Python compares what is left.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Select,
    and_,
    bindparam,
    literal_column,
    or_,
    select,
)

from crm_bridge.duplicates.compare import Facts
from crm_bridge.places import METRES_PER_DEGREE, place_words, streets
from crm_bridge.store.listed import Row, row_of
from crm_bridge.store.tables import enquiries

__all__ = ["Candidate", "Row", "candidates", "place_terms"]

_c = enquiries.c
_COLUMNS = (_c.id, _c.reference, _c.member_id, _c.ward_id, _c.category_id, _c.service_id,
            _c.status, _c.target_date, _c.overdue, _c.received_at, _c.constituent_name,
            _c.location, _c.consent_to_share, _c.description, _c.constituent_address,
            _c.constituent_postcode, _c.constituent_uprn, _c.latitude, _c.longitude)
_PLACE_COLUMNS = (_c.location, _c.constituent_address, _c.description)
PER_BRANCH = 500
"""At most this many rows per branch, newest first: a busy ward's two months of one
category is a few hundred."""


@dataclass(frozen=True)
class Candidate:
    stored: Any  # the result row
    facts: Facts  # as the check compares it

    @property
    def row(self) -> Row:
        """As lists show it; made only when asked (most candidates are no match)."""
        return row_of(self.stored)


def _candidate(r: Any) -> Candidate:
    return Candidate(r, Facts(r.category_id, r.ward_id, r.description, r.received_at,
                              r.location, r.constituent_address, r.constituent_postcode,
                              r.constituent_uprn))


def place_terms(new: Facts) -> list[str]:
    """What a row at the same place as ``new`` mentions: the first five letters of each word
    naming the streets it names (in its location, address or description) or its place."""
    here = new.location or new.address
    named = streets(here) | streets(new.description)
    words = {w for street in named for w in street.split()[:-1] if len(w) >= 3}
    return sorted({w[:5] for w in words | place_words(here)})


def candidates(conn: Connection, new: Facts, categories: set[str], window_days: int,
               exclude: str | None = None, place_only: bool = False,
               distance_metres: int = 0) -> list[Candidate]:
    """Enquiries in ``categories`` received within ``window_days`` of ``new`` in its ward
    (``place_only``: mentioning one of its place names), at its postcode, at its UPRN or
    (when its location is a point) within ``distance_metres`` of it; each once."""
    values: dict[str, Any] = {
        "categories": sorted(categories),
        "start": new.received_at - timedelta(days=window_days + 1),
        "end": new.received_at + timedelta(days=window_days + 1)}
    queries: list[Select[Any]] = []
    if new.ward_id:
        terms = place_terms(new) if place_only else []
        if not place_only or terms:
            values["ward"] = new.ward_id
            values.update({f"term{i}": f"%{term}%" for i, term in enumerate(terms)})
            queries.append(_in_ward(len(terms) if place_only else None))
    if new.postcode:
        values["postcode"] = _postcode(new.postcode)
        queries.append(_query("postcode"))
    if new.uprn:
        values["uprn"] = new.uprn
        queries.append(_query("uprn"))
    point = new.point
    if point is not None and distance_metres > 0:
        values.update(_box(point, distance_metres))
        queries.append(_near(conn.dialect.name == "sqlite"))
    found: dict[str, Candidate] = {}
    for query in queries:
        for r in conn.execute(query, values):
            if r.id != exclude and r.id not in found:
                found[r.id] = _candidate(r)
    return list(found.values())


def _select(branch: ColumnElement[bool], received: Any = _c.received_at) -> Select[Any]:
    return (select(*_COLUMNS)
            .where(branch, _c.category_id.in_(bindparam("categories", expanding=True)),
                   received >= bindparam("start"), received <= bindparam("end"),
                   _c.purged_at.is_(None))
            .order_by(received.desc()).limit(PER_BRANCH))


@lru_cache(maxsize=32)
def _in_ward(terms: int | None) -> Select[Any]:
    """The ward's branch; with ``terms``, only rows naming one of that many place terms.
    Built once per shape (a check is a few milliseconds; building it anew was a tenth)."""
    in_ward = and_(_c.ward_id == bindparam("ward"), _c.consent_to_share.in_([True, False]))
    if terms is not None:
        in_ward = and_(in_ward, or_(*(column.ilike(bindparam(f"term{i}"))
                                      for i in range(terms) for column in _PLACE_COLUMNS)))
    return _select(in_ward)


@lru_cache(maxsize=2)
def _query(key: str) -> Select[Any]:
    """The same postcode, or the same UPRN."""
    column = _c.constituent_postcode if key == "postcode" else _c.constituent_uprn
    return _select(column == bindparam(key))


def _box(point: tuple[float, float], metres: int) -> dict[str, float]:
    """The bounds of a box ``metres`` each way around ``point`` (a little more east-west,
    where a degree of longitude is shorter); ``compare`` measures the true distance."""
    latitude, longitude = point
    north = metres / METRES_PER_DEGREE
    east = metres / (METRES_PER_DEGREE * max(math.cos(math.radians(latitude)), 0.01))
    return {"south": latitude - north, "north": latitude + north,
            "west": longitude - east, "east": longitude + east}


@lru_cache(maxsize=2)
def _near(sqlite: bool) -> Select[Any]:
    """Within the box: one range of the point index, then the longitude tested. On SQLite
    the date is written ``+received_at`` so that, with ANALYZE statistics, it does not read
    the whole window by date (tens of thousands of rows in a large store) instead of the
    few hundred index entries in the box's band of latitude."""
    received = (literal_column("+enquiries.received_at", _c.received_at.type) if sqlite
                else _c.received_at)
    return _select(and_(_c.latitude.between(bindparam("south"), bindparam("north")),
                        _c.longitude.between(bindparam("west"), bindparam("east"))), received)


def _postcode(value: str) -> str:
    """As the store holds it: 'FK10 1AB' (upper case, one space before the inward code)."""
    compact = "".join(value.split()).upper()
    return f"{compact[:-3]} {compact[-3:]}" if len(compact) > 4 else compact
