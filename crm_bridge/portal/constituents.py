"""A constituent's history: their other enquiries, earlier and still open, found by the person
keys of migration 0015 (the same e-mail, the same phone number, or the same name with the same
postcode), whoever logged them.

What the viewer may see (``access.policy.can_view``) is listed with its status; the rest is
only counted: "2 more held by another member", with no reference, member or detail, so a
councillor knows to ask members' services without learning another controller's casework.
The caller audits the listed enquiries as read (the portal: ``record_many``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, or_, select

from crm_bridge.access.policy import Principal, can_view
from crm_bridge.models import OPEN_STATUSES
from crm_bridge.personkeys import keys_of
from crm_bridge.portal.finder import newest
from crm_bridge.portal.queries import Row, rows_where
from crm_bridge.store.tables import enquiries

__all__ = ["MOST", "History", "constituent_history"]

MOST = 500  # matches read at most (newest first): past that, counts say "500 or more"
SHOWN = 20  # visible matches listed
_OPEN = {s.value for s in OPEN_STATUSES}
_c = enquiries.c


@dataclass
class History:
    """The matches: those the viewer may see (newest first, at most ``SHOWN`` listed) with
    why each matched, and counts of all of them and of those held by another member."""

    rows: list[Row] = field(default_factory=list)
    reasons: dict[str, str] = field(default_factory=dict)  # enquiry id -> "same e-mail" …
    total: int = 0  # matches the viewer may see
    open: int = 0  # of which still open
    hidden: int = 0  # matches held by another member (no details)
    hidden_open: int = 0
    asked: bool = False  # enough details were given to look
    capped: bool = False  # MOST matches read: there may be more

    @property
    def any(self) -> bool:
        return bool(self.total or self.hidden)

    def ids(self) -> list[str]:
        return [row.id for row in self.rows]

    def as_json(self, today: Any) -> dict[str, Any]:
        return {"total": self.total, "open": self.open, "hidden": self.hidden,
                "hidden_open": self.hidden_open, "more_than_counted": self.capped,
                "items": [{**row.as_json(today), "matched_by": self.reasons[row.id]}
                          for row in self.rows]}


def _reason(row: Any, email: str | None, phone: str | None, name: str | None,
            postcode: str | None) -> str:
    why = []
    if email and row.email_key == email:
        why.append("same e-mail")
    if phone and row.phone_key == phone:
        why.append("same phone")
    if name and postcode and row.name_key == name and row.postcode_key == postcode:
        why.append("same name and postcode")
    return ", ".join(why)


def constituent_history(conn: Connection, who: Principal, *, name: str | None,
                        email: str | None, phone: str | None, postcode: str | None,
                        exclude: str | None = None) -> History:
    """The other enquiries of the person with these details, as ``who`` may know of them."""
    keys = keys_of(name, email, phone, postcode)
    ways = []
    if keys.email_key:
        ways.append(_c.email_key == keys.email_key)
    if keys.phone_key:
        ways.append(_c.phone_key == keys.phone_key)
    if keys.name_key and keys.postcode_key:
        ways.append(and_(_c.name_key == keys.name_key, _c.postcode_key == keys.postcode_key))
    found = History(asked=bool(ways))
    if not ways or not who.sees_enquiries:
        return found
    where = or_(*ways) if len(ways) > 1 else ways[0]
    if exclude is not None:
        where = and_(where, _c.id != exclude)
    matches = conn.execute(
        select(_c.id, _c.member_id, _c.ward_id, _c.consent_to_share, _c.status, _c.email_key,
               _c.phone_key, _c.name_key, _c.postcode_key)
        .where(where).order_by(*newest(conn, True)).limit(MOST)).all()
    found.capped = len(matches) >= MOST
    listed: list[str] = []
    for row in matches:
        is_open = row.status in _OPEN
        if can_view(who, row.member_id, row.ward_id, bool(row.consent_to_share)):
            found.total += 1
            found.open += is_open
            if len(listed) < SHOWN:
                listed.append(row.id)
                found.reasons[row.id] = _reason(row, keys.email_key, keys.phone_key,
                                                keys.name_key, keys.postcode_key)
        else:
            found.hidden += 1
            found.hidden_open += is_open
    if listed:
        by_id = {r.id: r for r in rows_where(conn, _c.id.in_(listed), (_c.reference,),
                                             len(listed))}
        found.rows = [by_id[i] for i in listed if i in by_id]
    return found
