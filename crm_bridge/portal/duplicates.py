"""Possible duplicates, by exact-match rules (fuzzy matching can come later):

1. the same issue: same ward and category, received in the last ``duplicate_days``, and the
   same normalised location or the same constituent postcode;
2. the same person: the same postcode and normalised name, at any time.

Only enquiries the user may see are shown; a councillor's ward colleagues' matches that
they may not see are counted, with no details, so they know to ask members' services to
link them. Other controllers' casework (an MP's, say, filed in the ward) is not even counted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, select

from crm_bridge.places import normalise
from crm_bridge.portal.policy import Principal, can_view
from crm_bridge.portal.queries import Row, rows_where
from crm_bridge.store.tables import enquiries

__all__ = ["Duplicates", "find_duplicates", "normalise"]

_c = enquiries.c


@dataclass
class Duplicates:
    same_issue: list[Row] = field(default_factory=list)
    same_person: list[Row] = field(default_factory=list)
    hidden: int = 0  # ward colleagues' matches that this user may not see

    @property
    def any(self) -> bool:
        return bool(self.same_issue or self.same_person or self.hidden)

    def ids(self) -> list[str]:
        return [row.id for row in (*self.same_issue, *self.same_person)]


def find_duplicates(
    conn: Connection, who: Principal, *, ward_id: str | None, category_id: str | None,
    location: str | None, postcode: str | None, name: str | None, now: datetime, days: int,
    exclude: str | None = None,
) -> Duplicates:
    found = Duplicates()
    place = normalise(location)
    postcode = (postcode or "").strip().upper() or None
    if postcode and " " not in postcode and len(postcode) > 4:
        postcode = f"{postcode[:-3]} {postcode[-3:]}"
    seen: set[str] = {exclude} if exclude else set()
    if ward_id and category_id and (place or postcode):
        candidates = rows_where(conn, and_(
            _c.ward_id == ward_id, _c.category_id == category_id,
            _c.received_at >= now - timedelta(days=days)), (_c.received_at.desc(),), 200)
        postcodes = _postcodes(conn, [r.id for r in candidates]) if postcode else {}
        for row in candidates:
            same_place = bool(place) and normalise(row.location) == place
            same_postcode = postcode is not None and postcodes.get(row.id) == postcode
            if row.id in seen or not (same_place or same_postcode):
                continue
            seen.add(row.id)
            if can_view(who, row.member_id, row.ward_id, row.consent_to_share):
                found.same_issue.append(row)
            elif row.member_id in who.ward_sharers:
                found.hidden += 1
    person = normalise(name)
    if postcode and person:
        for row in rows_where(conn, _c.constituent_postcode == postcode,
                              (_c.received_at.desc(),), 200):
            if row.id in seen or normalise(row.constituent_name) != person:
                continue
            seen.add(row.id)
            if can_view(who, row.member_id, row.ward_id, row.consent_to_share):
                found.same_person.append(row)
    found.same_issue = found.same_issue[:10]
    found.same_person = found.same_person[:10]
    return found


def _postcodes(conn: Connection, ids: list[str]) -> dict[str, str | None]:
    if not ids:
        return {}
    rows = conn.execute(select(_c.id, _c.constituent_postcode).where(_c.id.in_(ids)))
    return {r.id: r.constituent_postcode for r in rows}
