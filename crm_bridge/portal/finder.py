"""Search that finds what members type, ranked: a postcode with or without its space or only
its outward code ("FK10", "fk10 2"), an e-mail address, a phone number in any format, the
constituent's address, a street with its abbreviation ("ochil rd" finds Ochil Road), a name
in either order ("paterson jean") or a little misspelt ("Patterson" finds Paterson).

The words are read as every kind they could be (``kinds``); each kind is a condition on the
enquiries table that an index serves (the person keys of migration 0015, or on SQLite the
full-text index, used when it narrows: ``_narrowing``). Results are ranked by tier, newest
first within a tier:

0. exact: the reference, a whole postcode, an e-mail address, a phone number;
1. the name, exactly, in any order ("paterson jean", "Paterson, Jean");
2. the person or the place: the name holding each word (unless a street word was typed),
   a partial postcode, the words in the location or the constituent's address (street
   words spelt out or abbreviated);
3. the words anywhere: reference, name, description, location, address (substrings);
4. a name spelt a little differently: candidates sharing the Soundex code of each word,
   kept when rapidfuzz rates every word at least ``FUZZY_MIN`` % like one of the name's.

Every query runs once per ``policy.visible_branches`` scope, so nothing the searcher may not
see is read into a result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    literal_column,
    or_,
    select,
    text,
    type_coerce,
)
from sqlalchemy.types import NullType

from crm_bridge.access.policy import Principal, can_view, visible_branches
from crm_bridge.personkeys import (
    email_key,
    name_words,
    phone_key,
    postcode_key,
    soundex,
)
from crm_bridge.places import spellings
from crm_bridge.portal.queries import COUNT_CAP, Row, rows_where
from crm_bridge.portal.queries import _conditions as filter_conditions
from crm_bridge.portal.queries import search as filtered_search
from crm_bridge.store.enquiries import EnquiryFilter
from crm_bridge.store.tables import enquiries

__all__ = ["FUZZY_MIN", "Kind", "kinds", "newest", "search"]

FUZZY_MIN = 80  # % (rapidfuzz ratio) each word typed must reach against one of the name's
FUZZY_CANDIDATES = 500  # newest Soundex candidates scored, per scope
FTS_SELECTIVE = 2000  # index matches, at most, read as rowids
FTS_BOUNDED = 50_000  # index matches, at most, for the index to narrow at all

_c = enquiries.c
_REFERENCE = re.compile(r"[A-Z]{2,6}-\d{4}-\d{6}")
_OUTCODE = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?")
_PARTIAL = re.compile(r"([A-Z]{1,2}\d[A-Z\d]?)\s+(\d[A-Z]?)")
_PARTIAL_COMPACT = re.compile(r"[A-Z]{1,2}\d[A-Z\d]?\d[A-Z]?")
_PHONE = re.compile(r"[\d\s()+\-.]+")
_NAME_LIKE = re.compile(r"[^\W\d_](?:[^\W\d_]|['’\- .,])*")  # letters and name punctuation
_RAW_RECEIVED = type_coerce(_c.received_at, NullType()).label("received_at")
_WORD_COLUMNS = (_c.reference, _c.constituent_name, _c.description, _c.location,
                 _c.constituent_address)
_PLACE_COLUMNS = (_c.location, _c.constituent_address)


@dataclass(frozen=True)
class Kind:
    """One way the words may match: a tier, a condition, and (SQLite) a full-text query
    naming the rows the condition can hold, to narrow by when few rows match it."""

    name: str
    tier: int
    condition: ColumnElement[bool]
    fts: str | None = None
    few: bool = False  # an exact key: its rows are read and sorted, never a walk by date


def newest(conn: Connection, few: bool) -> tuple[Any, ...]:
    """Newest first. For a condition few rows meet (a key, the index's rowids), written so
    that SQLite reads those rows by their index and sorts them: without statistics (no
    ANALYZE) it would otherwise walk every enquiry by date, hoping to stop early."""
    if few and conn.dialect.name == "sqlite":
        return (text("+enquiries.received_at DESC"), text("+enquiries.reference DESC"))
    return (_c.received_at.desc(), _c.reference.desc())


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _contains(column: Any, value: str, postgres: bool) -> ColumnElement[bool]:
    pattern = f"%{_escape(value)}%"
    found: ColumnElement[bool] = (column.ilike(pattern, escape="\\") if postgres
                                  else column.like(pattern, escape="\\"))
    return found


def _starts(column: Any, prefix: str) -> ColumnElement[bool]:
    """An index range for ``prefix`` (keys are plain ASCII)."""
    return and_(column >= prefix, column < prefix[:-1] + chr(ord(prefix[-1]) + 1))


def _whole_word(column: Any, word: str) -> ColumnElement[bool]:
    """``word`` is one of the space-separated words of a key column."""
    w = _escape(word)
    return or_(column == word, column.like(f"{w} %", escape="\\"),
               column.like(f"% {w}", escape="\\"), column.like(f"% {w} %", escape="\\"))


def _phrase(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


def _fts(columns: tuple[Any, ...], *phrases: str, all_: bool = False) -> str | None:
    """An FTS5 query: any (or ``all_``) of the phrases, in ``columns``; None when a phrase is
    shorter than the trigram index can look up."""
    if not phrases or any(len(p) < 3 for p in phrases):
        return None
    joined = (" AND " if all_ else " OR ").join(_phrase(p) for p in phrases)
    return "{" + " ".join(col.name for col in columns) + "} : (" + joined + ")"


def _postcode_kinds(words: str) -> list[Kind]:
    upper = " ".join(words.upper().split())
    compact = upper.replace(" ", "")
    full = postcode_key(compact)
    if full is not None:
        return [Kind("postcode", 0, _c.postcode_key == full, few=True)]
    spaced = _PARTIAL.fullmatch(upper)  # "FK8 4": FK8, not FK84
    if _OUTCODE.fullmatch(compact) and not spaced:
        return [Kind("postcode district", 2, _c.outcode_key == compact)]
    if spaced:
        return [Kind("partial postcode", 2, and_(_c.outcode_key == spaced.group(1), _starts(
            _c.postcode_key, spaced.group(1) + spaced.group(2))))]
    if _PARTIAL_COMPACT.fullmatch(compact):
        return [Kind("partial postcode", 2, _starts(_c.postcode_key, compact))]
    return []


def kinds(words: str, postgres: bool) -> list[Kind]:
    """Every kind of match the words could be, best tier first."""
    words = " ".join(words.split())
    found: list[Kind] = []
    if _REFERENCE.fullmatch(words.upper()):
        found.append(Kind("reference", 0, _c.reference == words.upper(), few=True))
    email = email_key(words) if " " not in words else None
    if email is not None:
        found.append(Kind("email", 0, _c.email_key == email, few=True))
    phone = phone_key(words) if _PHONE.fullmatch(words) else None
    if phone is not None:
        found.append(Kind("phone", 0, _c.phone_key == phone, few=True))
    found += _postcode_kinds(words)
    names = name_words(words)
    places = spellings(words)
    street = len(places) > 1  # a street word was typed ("ochil rd")
    if names and not any(ch.isdigit() for ch in words):
        found.append(Kind("name", 1, _c.name_key == " ".join(sorted(names)),
                          few=True))
        if not street:  # "ochil rd" is a place: its words in a name would only add noise
            each = and_(*(_whole_word(_c.name_key, w) for w in names))
            longer = [w for w in names if len(w) > 2]  # the index narrows by these
            found.append(Kind("name words", 2, each,
                              _fts((_c.name_key,), *longer, all_=True)))
    if places:
        found.append(Kind("place", 2, or_(*(_contains(col, p, postgres) for p in places
                                            for col in _PLACE_COLUMNS)),
                          _fts(_PLACE_COLUMNS, *places)))
    columns = _WORD_COLUMNS if any(ch.isdigit() for ch in words) else _WORD_COLUMNS[1:]
    found.append(Kind("words", 3, or_(*(_contains(col, words, postgres) for col in columns)),
                      _fts(columns, words)))
    return found


_FTS_ROWIDS = text("SELECT rowid FROM enquiries_fts WHERE enquiries_fts MATCH :fts_match "
                   "LIMIT :cap")
_FTS_COUNT = text("SELECT count(*) FROM (SELECT rowid FROM enquiries_fts "
                  "WHERE enquiries_fts MATCH :fts_match LIMIT :cap)")
_FTS_MATCH = text("enquiries.rowid IN "
                  "(SELECT rowid FROM enquiries_fts WHERE enquiries_fts MATCH :fts_match)")
_ROWID: ColumnElement[int] = literal_column("enquiries.rowid")
_NONE = object()  # the index holds no row for the kind


@dataclass(frozen=True)
class _Few:
    """The index's few rows for a kind (at most FTS_SELECTIVE)."""

    clause: ColumnElement[bool]


def _narrowing(conn: Connection, fts_query: str | None) -> Any:
    """How the full-text index narrows a kind: few rows (at most FTS_SELECTIVE) as their
    rowids, read once for every scope's query; up to FTS_BOUNDED as the index's match (SQLite
    then reads and sorts those rows: bounded, where walking the newest enquiries could read
    the whole table when the searcher's scope holds none); more (a common word, "road"):
    None, walk the newest enquiries until enough match."""
    if conn.dialect.name != "sqlite" or fts_query is None:
        return None
    rowids = list(conn.execute(_FTS_ROWIDS, {"fts_match": fts_query,
                                             "cap": FTS_SELECTIVE + 1}).scalars())
    if len(rowids) <= FTS_SELECTIVE:
        return _Few(_ROWID.in_(rowids)) if rowids else _NONE
    counted = conn.execute(_FTS_COUNT, {"fts_match": fts_query, "cap": FTS_BOUNDED + 1})
    if int(counted.scalar_one()) <= FTS_BOUNDED:
        return _FTS_MATCH.bindparams(fts_match=fts_query)
    return None


@dataclass
class _Hit:
    tier: int
    received: Any
    reference: str
    score: float = 0.0


def _fuzzy(conn: Connection, words: str, scopes: list[Any], filters: list[Any],
           found: dict[str, _Hit]) -> None:
    """Tier 4: names a little misspelt. Candidates share each typed word's Soundex code
    (through the full-text index on SQLite); rapidfuzz decides."""
    if not _NAME_LIKE.fullmatch(words):
        return
    typed = [w for w in name_words(words) if len(w) > 2]
    if not typed or len(typed) > 4:
        return
    codes = sorted({soundex(w) for w in typed})
    if conn.dialect.name == "sqlite":
        narrow: Any = _FTS_MATCH.bindparams(fts_match=_fts((_c.name_sound,), *codes, all_=True))
    else:
        narrow = and_(*(_c.name_sound.like(f"%{code}%") for code in codes))
    for scope in scopes:
        query = (select(_RAW_RECEIVED, _c.reference, _c.id, _c.name_key)
                 .where(scope, *filters, narrow, _c.name_key.is_not(None))
                 .order_by(*newest(conn, True))
                 .limit(FUZZY_CANDIDATES))
        for row in conn.execute(query):
            if row.id in found:
                continue
            have = row.name_key.split()
            score = min(max(fuzz.ratio(w, h) for h in have) for w in typed)
            if score >= FUZZY_MIN:
                found[row.id] = _Hit(4, row.received_at, row.reference, score)


def _few_visible(conn: Connection, who: Principal, filters: list[Any],
                 condition: list[Any]) -> list[Any]:
    """A key's rows (or the index's few), newest first, kept when ``can_view`` allows: one
    read by the key's index, where a query per scope could let SQLite (without ANALYZE
    statistics) prefer the scope's index and read a member's every enquiry."""
    query = (select(_RAW_RECEIVED, _c.reference, _c.id, _c.member_id, _c.ward_id,
                    _c.consent_to_share).where(*filters, *condition)
             .order_by(*newest(conn, True)).limit(FTS_SELECTIVE))
    return [row for row in conn.execute(query)
            if can_view(who, row.member_id, row.ward_id, bool(row.consent_to_share))]


def search(conn: Connection, who: Principal, where: EnquiryFilter, page: int, per_page: int,
           zone: ZoneInfo) -> tuple[list[Row], int]:
    """One page of matches, ranked (see the module's docstring), and how many there are,
    counted up to COUNT_CAP + 1. Without words: the filters' matches, newest first."""
    if not where.text or not where.text.strip():
        return filtered_search(conn, who, where, page, per_page, zone)
    words = " ".join(where.text.split())
    filters = filter_conditions(conn, replace(where, text=None), zone)
    scopes = visible_branches(who)
    found: dict[str, _Hit] = {}
    for kind in kinds(words, conn.dialect.name == "postgresql"):
        condition: list[Any] = [kind.condition]
        narrow = _narrowing(conn, kind.fts)
        if narrow is _NONE:
            continue  # the index holds no such row: nothing to read
        if isinstance(narrow, _Few):
            condition.insert(0, narrow.clause)
        elif narrow is not None:
            condition.insert(0, narrow)
        if kind.few or isinstance(narrow, _Few):
            rows = _few_visible(conn, who, filters, condition)
        else:
            rows = [row for scope in scopes for row in conn.execute(
                select(_RAW_RECEIVED, _c.reference, _c.id).where(scope, *filters, *condition)
                .order_by(*newest(conn, narrow is not None)).limit(COUNT_CAP + 1))]
        for row in rows:
            hit = found.get(row.id)
            if hit is None or hit.tier > kind.tier:
                found[row.id] = _Hit(kind.tier, row.received_at, row.reference)
    if len(found) <= COUNT_CAP:
        _fuzzy(conn, words, scopes, filters, found)
    ranked = sorted(found.items(), key=lambda item: (item[1].received, item[1].reference),
                    reverse=True)
    ranked.sort(key=lambda item: (item[1].tier, -item[1].score))
    ranked = ranked[:COUNT_CAP + 1]
    wanted = [key for key, _ in ranked[(page - 1) * per_page:page * per_page]]
    if not wanted:
        return [], len(ranked)
    page_rows = {row.id: row for row in rows_where(conn, _c.id.in_(wanted), (_c.reference,),
                                                   per_page)}
    return [page_rows[key] for key in wanted if key in page_rows], len(ranked)
