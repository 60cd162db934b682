"""The portal's reads: dashboard lists and counts, search, one enquiry. Always narrowed by
``policy.visible_branches``, so no page or API route can forget who may see what.

Lists select only the columns a table shows (no address, e-mail or phone), which keeps
the dashboard quick with a hundred thousand enquiries in the store.

``search`` here is by filters, with words as a plain substring match; the portal's pages
and API search through ``finder.search`` (ranked kinds of match), which uses it for a
search without words.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    func,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.types import NullType

from crm_bridge.access.policy import (
    Principal,
    can_view,
    own_clause,
    shared_branches,
    visible_branches,
)
from crm_bridge.models import OPEN_STATUSES, Enquiry
from crm_bridge.store.enquiries import EnquiryFilter, get_enquiry
from crm_bridge.store.listed import Row
from crm_bridge.store.listed import row_of as _row
from crm_bridge.store.tables import attachments, crm_attachment_links, enquiries
from crm_bridge.sync.crm_files import usable_link

__all__ = [
    "COUNT_CAP",
    "Dashboard",
    "Row",
    "crm_files_of",
    "dashboard",
    "photos_of",
    "rows_where",
    "search",
    "visible_enquiry",
]

_OPEN = [s.value for s in OPEN_STATUSES]
_c = enquiries.c
_COLUMNS = (_c.id, _c.reference, _c.member_id, _c.ward_id, _c.category_id, _c.service_id,
            _c.status, _c.target_date, _c.overdue, _c.received_at, _c.constituent_name,
            _c.location, _c.consent_to_share)


def rows_where(conn: Connection, condition: ColumnElement[bool], order: Any,
               limit: int, offset: int = 0) -> list[Row]:
    query = select(*_COLUMNS).where(condition).order_by(*order).limit(limit).offset(offset)
    return [_row(r) for r in conn.execute(query)]


def _count(conn: Connection, condition: ColumnElement[bool]) -> int:
    return int(conn.execute(select(func.count()).select_from(enquiries).where(condition))
               .scalar_one())


@dataclass(frozen=True)
class Dashboard:
    mine: list[Row]
    mine_total: int
    mine_overdue: int
    shared: list[Row]
    shared_total: int


def dashboard(conn: Connection, who: Principal, today: date, limit: int = 25) -> Dashboard:
    """Open enquiries, earliest target first (so overdue ones lead), and those shared with
    the member (by ward colleagues, or by a sharing arrangement).

    For staff "mine" is the open enquiries of the members their staff group works for.
    """
    is_open = _c.status.in_(_OPEN)
    overdue = or_(_c.overdue.is_(True), _c.target_date < today)
    order = (_c.target_date, _c.reference)
    own = own_clause(who)
    mine: list[Row] = []
    mine_total = mine_overdue = 0
    if own is not None:
        mine_where = and_(own, is_open)
        mine = rows_where(conn, mine_where, order, limit)
        mine_total = _count(conn, mine_where)
        mine_overdue = _count(conn, and_(mine_where, overdue))
    shared: list[Row] = []
    shared_total = 0
    branches = shared_branches(who)
    if branches:
        shared_where = and_(or_(*branches) if len(branches) > 1 else branches[0], is_open)
        shared = rows_where(conn, shared_where, order, limit)
        shared_total = _count(conn, shared_where)
    return Dashboard(mine, mine_total, mine_overdue, shared, shared_total)


COUNT_CAP = 250  # ten pages: past that, a filter serves better than paging


def _conditions(conn: Connection, where: EnquiryFilter, zone: ZoneInfo,
                fts: bool = False) -> list[Any]:
    """``where`` as conditions the indexes can serve.

    Unlike ``EnquiryFilter.apply`` (kept for the CLI), dates are the council's local days
    turned into UTC instants, not ``date(received_at)`` (which no index can use and which
    reads the UTC day), and text is a plain LIKE, which SQLite already matches without
    regard to case (ILIKE on PostgreSQL); with ``fts`` (SQLite, a string few enquiries
    contain: see ``_selective``) narrowed first by the full-text index.
    """
    conditions: list[Any] = []
    for column, value in ((_c.member_id, where.member_id), (_c.ward_id, where.ward_id),
                          (_c.category_id, where.category_id),
                          (_c.service_id, where.service_id)):
        if value is not None:
            conditions.append(column == value)
    if where.status is not None:
        conditions.append(_c.status == where.status.value)
    if where.open_only:
        conditions.append(_c.status.in_(_OPEN))
    if where.received_from is not None:
        conditions.append(_c.received_at >= _local_midnight(where.received_from, zone))
    if where.received_to is not None:
        conditions.append(_c.received_at < _local_midnight(
            where.received_to + timedelta(days=1), zone))
    if where.text:
        escaped = where.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        columns = _text_columns(where.text)
        if conn.dialect.name == "postgresql":
            conditions.append(or_(*(col.ilike(pattern, escape="\\") for col in columns)))
        else:
            if fts:
                conditions.append(_FTS_MATCH.bindparams(fts_match=_fts_query(where.text,
                                                                             columns)))
            conditions.append(or_(*(col.like(pattern, escape="\\") for col in columns)))
    return conditions


# SQLite: migration 0006's trigram index (enquiries_fts) finds the rows containing the text,
# so only those are read and tested with the LIKE (which stays, and decides: the index folds
# case beyond ASCII as LIKE does not, so it may offer a few more, never fewer).
# Only worth it for a string few enquiries contain (a name, a reference, a street and
# number): for a common word ("pothole") matching the whole index costs more than walking
# the searcher's enquiries newest first until 251 match, so a capped look at the index
# decides (``_selective``: well under a millisecond either way).
_FTS_MATCH = text("enquiries.rowid IN "
                  "(SELECT rowid FROM enquiries_fts WHERE enquiries_fts MATCH :fts_match)")
_FTS_PROBE = text("SELECT count(*) FROM (SELECT rowid FROM enquiries_fts "
                  "WHERE enquiries_fts MATCH :fts_match LIMIT :cap)")
FTS_SELECTIVE = 2000  # matches in the whole store, at most, for the index to be used


def _selective(conn: Connection, words: str | None) -> bool:
    if conn.dialect.name != "sqlite" or words is None or len(words) < 3:
        return False  # the trigram index needs three characters
    query = _fts_query(words, _text_columns(words))
    found = conn.execute(_FTS_PROBE, {"fts_match": query, "cap": FTS_SELECTIVE + 1})
    return int(found.scalar_one()) <= FTS_SELECTIVE


def _text_columns(words: str) -> tuple[Any, ...]:
    # References are all digits and capitals: only worth matching when digits were typed.
    return _TEXT if any(ch.isdigit() for ch in words) else _TEXT[1:]


def _fts_query(words: str, columns: tuple[Any, ...]) -> str:
    """An FTS5 query: the text as one phrase (any character taken literally), in ``columns``."""
    return "{" + " ".join(col.name for col in columns) + "} : \"" + words.replace('"', '""') + '"'


_TEXT = (_c.reference, _c.constituent_name, _c.description, _c.location)
_RAW_RECEIVED = type_coerce(_c.received_at, NullType()).label("received_at")


def _local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)


def search(conn: Connection, who: Principal, where: EnquiryFilter, page: int, per_page: int,
           zone: ZoneInfo) -> tuple[list[Row], int]:
    """One page of matches, newest first, and how many there are, counted up to COUNT_CAP
    (past that the page says "more than 250"; pages stop there).

    One pass per scope branch: the newest COUNT_CAP + 1 matching ids, merged here; then the
    page's rows by id.
    """
    filters = _conditions(conn, where, zone, fts=_selective(conn, where.text))
    newest = (_c.received_at.desc(), _c.reference.desc())
    keys: list[tuple[Any, str, str]] = []
    for scope in visible_branches(who):
        # received_at as the driver gives it (SQLite: its fixed-width text, which sorts as
        # the times do, as the ORDER BY already relies on): up to 502 keys a search, and
        # turning each into an aware datetime only to compare them was a tenth of the time.
        query = (select(_RAW_RECEIVED, _c.reference, _c.id).where(scope, *filters)
                 .order_by(*newest).limit(COUNT_CAP + 1))
        keys.extend(tuple(r) for r in conn.execute(query))
    keys.sort(reverse=True)
    keys = keys[:COUNT_CAP + 1]
    wanted = [key[2] for key in keys[(page - 1) * per_page:page * per_page]]
    if not wanted:
        return [], len(keys)
    return rows_where(conn, _c.id.in_(wanted), newest, per_page), len(keys)


def visible_enquiry(conn: Connection, who: Principal, reference: str) -> Enquiry | None:
    """The enquiry if it exists and ``who`` may see it; None either way otherwise (so the
    answer never tells a member that an enquiry they may not see exists)."""
    if not who.sees_enquiries:
        return None
    found = get_enquiry(conn, reference)
    if found is None or not can_view(who, found.member_id, found.ward_id, found.consent.to_share):
        return None
    return found


def photos_of(conn: Connection, enquiry_id: str
              ) -> list[tuple[int, str, int, datetime | None]]:
    """(id, filename, size, when it was put on the CRM case) of an enquiry's photos."""
    return [(r.id, r.filename, r.size, r.sent_at) for r in conn.execute(
        select(attachments.c.id, attachments.c.filename, attachments.c.size,
               attachments.c.sent_at)
        .where(attachments.c.enquiry_id == enquiry_id).order_by(attachments.c.id))]


def crm_files_of(conn: Connection, enquiry_id: str) -> list[tuple[str, str, str, datetime]]:
    """(name, url, added by, added at) of the files officers put on the enquiry's CRM case,
    oldest first; the caller has checked the enquiry is the reader's to see."""
    links = crm_attachment_links.c
    return [(r.name, r.url, r.added_by, r.added_at) for r in conn.execute(
        select(links.name, links.url, links.added_by, links.added_at)
        .where(links.enquiry_id == enquiry_id).order_by(links.added_at, links.id))
        if usable_link(r.url)]  # checked when stored; again before it becomes an href
