"""Reading the bridge's FL cases so that none is missed: capped searches, and the pull cursor.

FL's case search has no paging and a server may cap how many cases one search returns
(the cap is site-specific, and a capped reply looks like any other). So every search asks
for at most ``page`` cases (``ResultsLimit``) over a window of creation dates
(``CreatedAfter``/``CreatedBefore``, which every case has: ``Opened``); a reply that is
full (``page`` cases, or the server's own lower cap once ``CaseReader`` has found it) is
not trusted to be all, and the window is split at the median ``Opened`` of what
came back (to the whole second) and searched again. Window edges are whole seconds and the
searches overlap them by a second, since whether FL's "after"/"before" include the edge,
and at what precision it compares, are unknown; each case is kept by the one window it
belongs to. So a window can be narrowed down to two seconds: more cases than ``page``
opened within two seconds cannot be told apart (a warning says so).

The pull cursor (``PullState``) holds, besides a LastModified high-water mark, one short
fingerprint per bridge case (``lagan_mapping.fingerprint``: status, closure, officers'
notes). When FL gives no LastModifiedDate, or ignores a search by it, a pull compares
each case with its fingerprint instead of trusting a window: only cases that changed
yield updates, so the bridge's work follows the changes (FL's reads then follow the
number of cases; see docs/lagan.md).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

from connectors.lagan_mapping import CaseView

__all__ = ["CaseReader", "PullState"]

log = logging.getLogger(__name__)

_TS = "%Y-%m-%dT%H:%M:%S.%fZ"
_EDGE = timedelta(seconds=1)
_PREFIX = "lagan-2 "
_MIN_CAP = 10  # a reply this small is never taken for a server's cap


def _ts(value: datetime | None) -> str | None:
    return value.strftime(_TS) if value else None


def _parse(text: Any) -> datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        return datetime.strptime(text, _TS).replace(tzinfo=UTC)
    except ValueError:
        return None


@dataclass
class PullState:
    """What the pull cursor holds: where the LastModified window starts, the creation-date
    edges that kept the last full read's windows under the cap, what is known of the
    server's cap (``CaseReader``), and each bridge case's fingerprint.

    Written as ``lagan-2 {json}\\n`` then ``ref=fingerprint,`` entries; a later entry for
    the same case wins, so the cursor of each update is the last one's plus a few entries.
    """

    since: datetime | None = None
    edges: list[datetime] = field(default_factory=list)
    cap: int = 0
    proven: int = 0
    prints: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, cursor: str | None) -> PullState:
        if not cursor:
            return cls()
        if not cursor.startswith(_PREFIX):  # the first cursor format: a timestamp alone
            since = _parse(cursor)
            if since is None:
                log.warning("lagan: the pull cursor is not one this version wrote; "
                            "reading every case again")
            return cls(since=since)
        head, _, body = cursor[len(_PREFIX):].partition("\n")
        try:
            data = json.loads(head)
        except ValueError:
            log.warning("lagan: the pull cursor is damaged; reading every case again")
            return cls()
        prints = {}
        for entry in body.split(","):
            ref, _, value = entry.partition("=")
            if ref and value:
                prints[ref] = value
        edges = [e for e in (_parse(t) for t in data.get("edges", [])) if e is not None]
        return cls(since=_parse(data.get("since")), edges=edges,
                   cap=int(data.get("cap") or 0), proven=int(data.get("proven") or 0),
                   prints=prints)

    def head(self) -> str:
        data = {"since": _ts(self.since), "edges": [_ts(e) for e in self.edges],
                "cap": self.cap, "proven": self.proven}
        return _PREFIX + json.dumps(data, separators=(",", ":")) + "\n"

    def body(self) -> str:
        return "".join(f"{ref}={value}," for ref, value in self.prints.items())


Search = Callable[[dict[str, Any]], list[CaseView]]


Window = tuple[datetime | None, datetime | None]


class CaseReader:
    """Every case a search matches, however many, in searches of at most ``page``.

    A server's own cap below ``page`` is not announced: a capped reply looks complete. So a
    reply of ``_MIN_CAP`` cases or more, larger than any proven complete so far, is checked
    once by searching its two halves: more cases between them than in the reply means the
    server capped it at that size (``cap``: from then on a reply that size is full); as
    many means it was complete (``proven``). Both are kept in the cursor, so the check is
    paid once, not on every pull.
    """

    def __init__(self, search: Search, page: int, cap: int = 0, proven: int = 0) -> None:
        self.search = search
        self.page = page
        self.cap = cap  # a server cap below page, once seen (0: none seen)
        self.proven = proven  # the largest reply shown to be complete
        self.searches = 0
        self.unsplittable = 0  # full windows whose cases all opened in the same instant

    def _full(self, count: int) -> bool:
        return count >= self.page or (self.cap > 0 and count >= self.cap)

    def read(self, criteria: dict[str, Any], edges: Iterable[datetime] = ()
             ) -> tuple[list[CaseView], list[datetime]]:
        """The cases, and the creation-date edges their windows ended up with (to start
        from next time)."""
        found: dict[str, CaseView] = {}
        bounds: list[datetime | None] = [None, *sorted(set(edges)), None]
        used: list[datetime] = []
        pending: list[tuple[Window, list[CaseView] | None]] = [
            (window, None) for window in pairwise(bounds)]
        while pending:
            (low, high), known = pending.pop(0)
            cases = known if known is not None else self._window(criteria, low, high)
            middle = _split(cases, low, high)
            if self._full(len(cases)) and middle is None:
                self.unsplittable += 1
                log.warning("lagan: %d or more cases opened within two seconds; some may "
                            "be missed until search_page_size is raised", len(cases))
            elif self._full(len(cases)) and middle is not None:
                pending[:0] = [((low, middle), None), ((middle, high), None)]
                continue
            elif len(cases) >= _MIN_CAP and len(cases) > self.proven and middle is not None:
                halves = self._window(criteria, low, middle), self._window(criteria, middle, high)
                if {c.ref for half in halves for c in half} - {c.ref for c in cases}:
                    self.cap = len(cases) if not self.cap else min(self.cap, len(cases))
                    log.info("lagan: FL caps a search at %d cases", self.cap)
                    pending[:0] = [((low, middle), halves[0]), ((middle, high), halves[1])]
                    continue
                self.proven = len(cases)
            for case in cases:
                if _inside(case, low, high):
                    found[case.ref] = case
            if high is not None:
                used.append(high)
        return list(found.values()), used

    def _window(self, criteria: dict[str, Any], low: datetime | None,
                high: datetime | None) -> list[CaseView]:
        window = dict(criteria, ResultsLimit=self.page)
        if low is not None:
            window["CreatedAfter"] = low - _EDGE
        if high is not None:
            window["CreatedBefore"] = high + _EDGE
        self.searches += 1
        return self.search(window)


def _inside(case: CaseView, low: datetime | None, high: datetime | None) -> bool:
    """Whether the case belongs to [low, high): windows overlap at the edges on the wire,
    so each case is kept by one window only (a case with no Opened, by every one)."""
    if case.opened is None:
        return True
    return (low is None or case.opened >= low) and (high is None or case.opened < high)


def _split(cases: list[CaseView], low: datetime | None,
           high: datetime | None) -> datetime | None:
    """A whole second strictly inside the window, near the median Opened of a full reply
    (None when the window cannot be narrowed further)."""
    opened = sorted(c.opened for c in cases if c.opened is not None
                    and _inside(c, low, high))
    if not opened:
        return None
    median = opened[len(opened) // 2].replace(microsecond=0)
    for middle in (median, median + _EDGE, median - _EDGE):
        if (low is None or middle > low) and (high is None or middle < high):
            return middle
    return None
