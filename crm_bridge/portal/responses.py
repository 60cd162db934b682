"""The dashboard's "Responses since you last looked": the enquiries a user may see whose
CRM response reached the bridge after they last marked responses as read.

"Arrived" is ``enquiries.response_arrived_at``, the bridge's own clock when sync stored the
response (the CRM's ``responded_at`` can be earlier than the sync that brought it). An
account that has never marked responses as read sees those of the last ``FIRST_LOOK``.

Responses are marked read only by an explicit POST (the dashboard's button, or the API), never
by viewing the page, so a glance at the dashboard does not lose them. The POST carries the
arrival time of the newest response the page showed, so one that arrives between viewing and
pressing the button stays unread.

Narrowed by the access policy (staff: ``visible_branches``, one query per branch, as
search; members: ``can_view`` on their sharers' responses, see ``_members_keys``), so the
list and its count never show what the user may not see.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select, update

from crm_bridge.access.policy import Principal, can_view, visible_branches
from crm_bridge.portal.queries import Row, rows_where
from crm_bridge.store.tables import enquiries, users

__all__ = ["FIRST_LOOK", "LIST_CAP", "NewResponses", "mark_read", "new_response_count",
           "new_responses", "seen_at"]

FIRST_LOOK = timedelta(days=14)  # an account that never marked them read: the last fortnight
LIST_CAP = 50  # the dashboard lists the newest this many; the count is of them all
_c = enquiries.c


@dataclass(frozen=True)
class NewResponses:
    """The newest responses since ``since`` (``None``: the account never marked them read)."""

    rows: list[tuple[Row, datetime]]  # (enquiry, when its response arrived), newest first
    total: int
    since: datetime | None
    newest: datetime | None  # what "Mark as read" marks up to


def seen_at(conn: Connection, who: Principal) -> datetime | None:
    """When the account last marked responses as read."""
    found = conn.execute(select(users.c.responses_seen_at)
                         .where(users.c.id == who.user_id)).scalar_one_or_none()
    return found if isinstance(found, datetime) else None


def _after(conn: Connection, who: Principal, now: datetime) -> tuple[datetime, datetime | None]:
    seen = seen_at(conn, who)
    return (seen if seen is not None else now - FIRST_LOOK), seen


def new_responses(conn: Connection, who: Principal, now: datetime,
                  limit: int = LIST_CAP) -> NewResponses:
    """The responses the user has not marked read, newest first, and how many there are."""
    after, seen = _after(conn, who, now)
    if not who.sees_enquiries:
        return NewResponses([], 0, seen, None)
    keys: list[tuple[datetime, str]] = []
    total = 0
    if who.is_staff:
        for branch in visible_branches(who):  # disjoint: the counts add up
            where = and_(branch, _c.response_arrived_at > after)
            keys.extend((r.response_arrived_at, r.id) for r in conn.execute(
                select(_c.response_arrived_at, _c.id).where(where)
                .order_by(_c.response_arrived_at.desc()).limit(limit)))
            total += int(conn.execute(select(func.count()).select_from(enquiries)
                                      .where(where)).scalar_one())
    else:
        keys = _members_keys(conn, who, after)
        total = len(keys)
    keys.sort(reverse=True)
    keys = keys[:limit]
    if not keys:
        return NewResponses([], 0, seen, None)
    arrived = {enquiry_id: at for at, enquiry_id in keys}
    rows = rows_where(conn, _c.id.in_(list(arrived)),
                      (_c.response_arrived_at.desc(), _c.reference), limit)
    return NewResponses([(row, arrived[row.id]) for row in rows], total, seen, keys[0][0])


def new_response_count(conn: Connection, who: Principal, now: datetime, cap: int = 100) -> int:
    """How many responses the user has not marked read, counted up to ``cap`` (the header's
    badge says "99+" past that)."""
    if not who.sees_enquiries:
        return 0
    after, _ = _after(conn, who, now)
    if not who.is_staff:
        return min(cap, len(_members_keys(conn, who, after)))
    branches = visible_branches(who)
    inner = (select(_c.id).where(or_(*branches) if len(branches) > 1 else branches[0],
                                 _c.response_arrived_at > after).limit(cap).subquery())
    return int(conn.execute(select(func.count()).select_from(inner)).scalar_one())


def _members_keys(conn: Connection, who: Principal,
                  after: datetime) -> list[tuple[datetime, str]]:
    """(arrived, id) of the responses since ``after`` a member may see. The responses of
    the members whose enquiries they may see are read through the (member, arrival) index
    and each checked with ``can_view`` (the rule ``visible_branches`` writes in SQL): the
    ward branch's own WHERE leads SQLite to the ward index instead, reading every shared
    enquiry in the ward (~20 ms at 100,000 enquiries, on every page for the header)."""
    members = sorted({m for m in (who.member_id, *who.ward_sharers, *who.direct_sharers) if m})
    rows = conn.execute(select(_c.response_arrived_at, _c.id, _c.member_id, _c.ward_id,
                               _c.consent_to_share)
                        .where(_c.member_id.in_(members), _c.response_arrived_at > after))
    return [(r.response_arrived_at, r.id) for r in rows
            if can_view(who, r.member_id, r.ward_id, bool(r.consent_to_share))]


def mark_read(conn: Connection, who: Principal, upto: datetime) -> None:
    """Mark responses that arrived up to ``upto`` as read (never moves the mark back)."""
    u = users.c
    conn.execute(update(users).where(u.id == who.user_id, or_(
        u.responses_seen_at.is_(None), u.responses_seen_at < upto))
        .values(responses_seen_at=upto))
