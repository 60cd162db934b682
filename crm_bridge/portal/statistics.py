"""The portal's statistics page: the report engine's figures (``crm_bridge.reports``) as
tables a user may see, filtered by period, ward and service.

Who sees what (aggregates only: no names, no references, nothing about one constituent):

- **staff** see the council's figures, by ward, service and month, and by member for the
  members their staff group works for (``policy.staff_scope``), never for other members;
- a **member** sees their own figures beside their ward's (every enquiry filed in the ward,
  whoever logged it) and the council's, by service and month for their own; never another
  member's figures on their own, whatever the sharing arrangements;
- an **admin** sees none (as for enquiries).

Counts from 1 to N-1 are shown as "<N", and a percentage or median worked out from fewer
than N enquiries as "-" (N is ``reports.suppress_below``, the scrutiny report's rule), so
no constituent can be picked out of a small group.

One ``build_report`` call a period (two grouped SQL queries: the period and the previous
one, grouped by ward, member, service and the local days received and answered), kept for
five minutes (or until an enquiry or response arrives) by ``ReportCache`` and shared by
every user and filter; the tables are folded from its rows here. No per-enquiry audit
rows: nothing here is personal data.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from crm_bridge.access.policy import Principal
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.reports import Figures, Period, build_report, label, parse_period
from crm_bridge.store.tables import enquiries

__all__ = ["COLUMNS", "Filters", "ReportCache", "StatTable", "Statistics", "bar_value", "cell",
           "parse_filters", "statistics"]

_BY = ("ward", "member", "service", "month")

COLUMNS: tuple[tuple[str, str], ...] = (
    ("received", "Received"),
    ("previous_received", "Previous period"),
    ("responded", "Answered"),
    ("within_target_percent", "Answered within target %"),
    ("median_working_days", "Median working days to answer"),
    ("overdue_now", "Overdue now"),
    ("open_at_end", "Open at end of period"),
)
_COUNTS = {"received", "previous_received", "responded", "overdue_now", "open_at_end"}
_BASE = {"within_target_percent": "due", "median_working_days": "responded"}


@dataclass(frozen=True)
class Filters:
    period: Period
    ward: str | None = None
    service: str | None = None

    def query(self) -> dict[str, str]:
        """The filters as the page's query parameters (for the CSV links)."""
        params = {"period": self.period.label}
        if self.ward:
            params["ward"] = self.ward
        if self.service:
            params["service"] = self.service
        return params


@dataclass
class StatTable:
    """One table: rows of (label, figures this period, figures in the previous period)."""

    id: str
    title: str
    heading: str  # the first column's heading
    rows: list[tuple[str, Figures, Figures]] = field(default_factory=list)


@dataclass(frozen=True)
class Statistics:
    filters: Filters
    previous: Period
    tables: list[StatTable]
    suppress_below: int
    as_at: datetime  # when the figures were counted (see ``ReportCache``)


def parse_filters(config: CouncilConfig, params: Mapping[str, str], today_year: int,
                  member_view: bool) -> tuple[Filters, dict[str, str]]:
    """The page's filters from its query; errors (field -> message) for bad ones, which fall
    back to the default (this year, every ward, every service)."""
    errors: dict[str, str] = {}
    period = parse_period(str(today_year))
    text = (params.get("period") or "").strip()
    if text:
        try:
            period = parse_period(text, "period")
        except InputError:
            errors["period"] = ("Enter the period as a year (2026), a half (2026H1), a "
                                "quarter (2026Q3) or a month (2026-10)")
    ward = (params.get("ward") or "").strip() or None
    if ward is not None and (member_view or config.ward(ward) is None):
        errors["ward"] = "Choose a ward from the list"
        ward = None
    service = (params.get("service") or "").strip() or None
    if service is not None and config.service(service) is None:
        errors["service"] = "Choose a service from the list"
        service = None
    return Filters(period, ward, service), errors


Key = dict[str, str]


def _fold(rows: list[tuple[Key, Figures, Figures]], keep: Callable[[Key], bool],
          group: Callable[[Key], str]) -> dict[str, tuple[Figures, Figures]]:
    out: dict[str, tuple[Figures, Figures]] = {}
    for key, now, before in rows:
        if keep(key):
            figures, previous = out.setdefault(group(key), (Figures(), Figures()))
            figures.add(now)
            previous.add(before)
    return out


Rows = list[tuple[Key, Figures, Figures]]


@dataclass(frozen=True)
class _Cached:
    rows: Rows
    previous: Period
    at: datetime
    mark: tuple[object, ...]
    # The tables already folded from these rows, by what decides them (see ``statistics``).
    views: dict[tuple[object, ...], list[StatTable]] = field(default_factory=dict)


# The newest enquiry received and the newest response: an index look-up each. A new
# enquiry or response counts the period again at once; other changes (a closure) within
# the cache's time to live.
# (Two scalar subqueries: SQLite answers a lone max() from its index, two in one SELECT by
# reading the whole table.)
_CHANGED = select(select(func.max(enquiries.c.received_at)).scalar_subquery(),
                  select(func.max(enquiries.c.response_arrived_at)).scalar_subquery())


class ReportCache:
    """The engine's rows for a period, kept for ``ttl`` (and only for the same local day,
    which decides what is due and overdue, while no enquiry or response has arrived since),
    shared by every user and every filter: the
    filters are applied to the rows here, so one grouped query pair serves them all.
    Computed under a lock, so a burst of requests for a new period runs the queries once."""

    def __init__(self, ttl: timedelta = timedelta(minutes=5), size: int = 16) -> None:
        self.ttl, self.size = ttl, size
        self._held: OrderedDict[tuple[Period, str], _Cached] = OrderedDict()
        self._lock = threading.Lock()

    def rows(self, connect: Callable[[], AbstractContextManager[Connection]],
             config: CouncilConfig, period: Period, now: datetime,
             today: str) -> _Cached:
        key = (period, today)
        with self._lock, connect() as conn:
            mark = tuple(conn.execute(_CHANGED).one())
            found = self._held.get(key)
            if (found is None or found.mark != mark or now - found.at > self.ttl
                    or found.at > now):
                report = build_report(conn, config, period, _BY, now)
                found = _Cached([(dict(zip(_BY, r.key, strict=True)), r.figures, r.previous)
                                 for r in report.rows], report.previous_period, now, mark)
                self._held[key] = found
            self._held.move_to_end(key)
            while len(self._held) > self.size:
                self._held.popitem(last=False)
            return found


def statistics(cached: _Cached, config: CouncilConfig, who: Principal,
               filters: Filters) -> Statistics:
    """The tables ``who`` may see for ``filters``, from the period's rows (folded once per
    kind of viewer and filters, then kept with the rows)."""
    view = ((who.role, tuple(sorted(who.scope)), filters.ward, filters.service)
            if who.is_staff else (who.role, who.member_id, who.ward_id, filters.service))
    tables = cached.views.get(view)
    if tables is None:
        if len(cached.views) >= _VIEWS:
            cached.views.clear()
        tables = cached.views[view] = _tables(cached.rows, config, who, filters)
    return Statistics(filters, cached.previous, tables, config.reports.suppress_below,
                      cached.at)


_VIEWS = 512  # folded views kept per period (each a few kilobytes)


def _tables(rows: Rows, config: CouncilConfig, who: Principal,
            filters: Filters) -> list[StatTable]:

    def service_ok(k: Key) -> bool:
        return filters.service is None or k["service"] == filters.service

    def ward_ok(k: Key) -> bool:
        return filters.ward is None or k["ward"] == filters.ward

    def table(id_: str, title: str, heading: str, keep: Callable[[Key], bool],
              dimension: str) -> StatTable:
        folded = _fold(rows, keep, lambda k: k[dimension])
        return StatTable(id_, title, heading, [
            (label(config, dimension, key), *folded[key]) for key in sorted(folded)])

    def one(name: str, keep: Callable[[Key], bool]) -> tuple[str, Figures, Figures]:
        folded = _fold(rows, keep, lambda k: "all").get("all", (Figures(), Figures()))
        return (name, *folded)

    tables: list[StatTable]
    if who.is_staff:
        def chosen(k: Key) -> bool:
            return service_ok(k) and ward_ok(k)

        tables = [
            StatTable("summary", "All enquiries", "Enquiries", [one(_scope_words(
                config, filters), chosen)]),
            table("by-ward", "By ward", "Ward", chosen, "ward"),
            table("by-service", "By service", "Service", chosen, "service"),
            table("by-month", "By month received", "Month", chosen, "month"),
            table("by-member", "By member (the members your group works for)", "Member",
                  lambda k: chosen(k) and k["member"] in who.scope, "member"),
        ]
    else:
        me = who.member_id

        def mine(k: Key) -> bool:
            return service_ok(k) and k["member"] == me

        compared = [one("Your enquiries", mine)]
        if who.ward_id is not None:
            ward_name = label(config, "ward", who.ward_id)
            compared.append(one(f"All enquiries in {ward_name}",
                                lambda k: service_ok(k) and k["ward"] == who.ward_id))
        compared.append(one("All enquiries in the council", service_ok))
        tables = [
            StatTable("compared", "You, your ward and the council", "Enquiries", compared),
            table("by-service", "Your enquiries by service", "Service", mine, "service"),
            table("by-month", "Your enquiries by month received", "Month", mine, "month"),
        ]
    return tables


def _scope_words(config: CouncilConfig, filters: Filters) -> str:
    parts = ["All enquiries"]
    if filters.ward:
        parts.append(f"in {label(config, 'ward', filters.ward)}")
    if filters.service:
        parts.append(f"for {label(config, 'service', filters.service)}")
    return " ".join(parts)


def _values(figures: Figures, previous: Figures) -> dict[str, int | float | None]:
    return {**figures.as_dict(), "previous_received": previous.received}


def cell(figures: Figures, previous: Figures, column: str, suppress_below: int) -> str:
    """One figure as text, small counts suppressed (the scrutiny report's rule)."""
    values = _values(figures, previous)
    value = values[column]
    if column in _COUNTS and value is not None and 0 < int(value) < suppress_below:
        return f"<{suppress_below}"
    base = _BASE.get(column)
    if base is not None and int(values[base] or 0) < suppress_below:
        return "-"
    return "-" if value is None else str(value)


def bar_value(figures: Figures, suppress_below: int) -> int | None:
    """What a chart's bar shows: enquiries received; None (no bar) when suppressed."""
    received = figures.received
    return None if 0 < received < suppress_below else received

