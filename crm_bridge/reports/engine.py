"""The report engine: figures for enquiries received in a period, grouped, counted by SQL.

One grouped query per period (``GROUP BY`` the asked-for columns plus the local day received
and the local day responded) returns a few thousand rows however many enquiries there are;
Python adds them up per group and turns each distinct (received day, responded day) pair
into working days once (``WorkingCalendar``), which gives exact medians and 90th percentiles
from the weighted distribution. Role and area are folded from member and ward in Python
(the config says which member is which role and which ward is in which area); month comes
from the day received. Only columns a purge keeps are read, so figures stay the same after
one.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, case, func, or_, select
from sqlalchemy.sql.elements import ColumnElement

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.models import OPEN_STATUSES
from crm_bridge.reports.period import Period
from crm_bridge.reports.sqlday import local_day
from crm_bridge.store.tables import enquiries
from crm_bridge.workdays import WorkingCalendar

__all__ = ["DIMENSIONS", "NONE_KEY", "Figures", "Report", "ReportRow", "build_report",
           "calendar_of", "label", "parse_by"]

DIMENSIONS = ("ward", "member", "role", "category", "service", "area", "month", "channel")
"""What ``--by`` can group by (any combination, in the order given)."""

_c = enquiries.c
_COLUMN = {"ward": _c.ward_id, "member": _c.member_id, "role": _c.member_id,
           "category": _c.category_id, "service": _c.service_id, "area": _c.ward_id,
           "channel": _c.channel}
NONE_KEY = "-"
"""The key of enquiries with no value for a grouping (an MP's enquiry has no ward)."""


@dataclass
class Figures:
    """What a report says about a set of enquiries received in one period.

    ``received``: received in the period. ``closed_at_end``/``open_at_end``: of those, closed
    by the end of the period's last day, and not. ``due``: answered, or past their target
    date today (whether the target was met is known). ``within_target``: answered on or
    before the target date (an agreed extension moves the target date, so it counts as the
    target). ``overdue_now``: still waiting for an answer today, past the target date.
    ``days_to_respond``: answered enquiries by working days from receipt to the answer (the
    council's calendar: weekends, bank holidays and closure days are not working days).
    """

    received: int = 0
    closed_at_end: int = 0
    due: int = 0
    within_target: int = 0
    overdue_now: int = 0
    days_to_respond: Counter[int] = field(default_factory=Counter)

    @property
    def open_at_end(self) -> int:
        return self.received - self.closed_at_end

    @property
    def responded(self) -> int:
        return sum(self.days_to_respond.values())

    @property
    def within_target_percent(self) -> float | None:
        """Answered within target as a percentage of those due, one decimal; None if none."""
        return round(100 * self.within_target / self.due, 1) if self.due else None

    def percentile(self, share: float) -> int | None:
        """Nearest rank: the fewest working days within which ``share`` of answers came."""
        total = self.responded
        if not total:
            return None
        rank = max(1, math.ceil(share * total))
        seen = 0
        for days in sorted(self.days_to_respond):
            seen += self.days_to_respond[days]
            if seen >= rank:
                return days
        raise AssertionError("unreachable: rank <= total")

    @property
    def median_days(self) -> int | None:
        return self.percentile(0.5)

    @property
    def p90_days(self) -> int | None:
        return self.percentile(0.9)

    def add(self, other: Figures) -> None:
        self.received += other.received
        self.closed_at_end += other.closed_at_end
        self.due += other.due
        self.within_target += other.within_target
        self.overdue_now += other.overdue_now
        self.days_to_respond.update(other.days_to_respond)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received, "open_at_end": self.open_at_end,
            "closed_at_end": self.closed_at_end, "responded": self.responded,
            "due": self.due, "within_target": self.within_target,
            "within_target_percent": self.within_target_percent,
            "median_working_days": self.median_days, "p90_working_days": self.p90_days,
            "overdue_now": self.overdue_now,
        }


@dataclass
class ReportRow:
    """One group: its key (ids, one per ``by`` dimension), their labels, and its figures in
    the period and in the previous period."""

    key: tuple[str, ...]
    labels: tuple[str, ...]
    figures: Figures
    previous: Figures

    @property
    def change(self) -> int:
        """Enquiries received, this period less the previous one."""
        return self.figures.received - self.previous.received

    @property
    def change_percent(self) -> float | None:
        if not self.previous.received:
            return None
        return round(100 * self.change / self.previous.received, 1)


@dataclass
class Report:
    """Figures for ``period`` grouped by ``by`` (rows sorted by key), with the total, each
    beside the same figures for ``previous`` (the period of the same length before)."""

    period: Period
    previous_period: Period
    by: tuple[str, ...]
    rows: list[ReportRow]
    total: ReportRow
    as_at: date  # 'today' for overdue and due

    def as_dict(self) -> dict[str, Any]:
        def row(r: ReportRow) -> dict[str, Any]:
            return {"key": dict(zip(self.by, r.key, strict=True)),
                    "label": dict(zip(self.by, r.labels, strict=True)),
                    **r.figures.as_dict(),
                    "previous_received": r.previous.received, "change": r.change,
                    "change_percent": r.change_percent}

        return {"period": {"label": self.period.label, "from": self.period.first.isoformat(),
                           "to": self.period.last.isoformat()},
                "previous_period": {"label": self.previous_period.label,
                                    "from": self.previous_period.first.isoformat(),
                                    "to": self.previous_period.last.isoformat()},
                "as_at": self.as_at.isoformat(), "by": list(self.by),
                "total": row(self.total), "rows": [row(r) for r in self.rows]}


def parse_by(value: str | Iterable[str], flag: str = "--by") -> tuple[str, ...]:
    """``'ward,category'`` (or a list) as dimensions; an unknown one names the flag."""
    parts = value.split(",") if isinstance(value, str) else list(value)
    names = tuple(part.strip().lower() for part in parts if part.strip())
    for name in names:
        if name not in DIMENSIONS:
            raise InputError(flag, f"cannot group by '{name}': use one or more of "
                                   f"{', '.join(DIMENSIONS)}, separated by commas")
    if len(set(names)) != len(names):
        raise InputError(flag, "names a grouping twice")
    return names


def calendar_of(config: CouncilConfig) -> WorkingCalendar:
    return WorkingCalendar(config.council.timezone, config.calendar.bank_holidays,
                           config.calendar.closure_days)


def build_report(conn: Connection, config: CouncilConfig, period: Period,
                 by: Sequence[str] = (), now: datetime | None = None) -> Report:
    """Figures for enquiries received in ``period``, grouped by ``by``, and the previous
    period's beside them. ``now`` (default: the clock) decides what is due and overdue."""
    by = parse_by(by)
    if "area" in by and not config.reports.areas:
        raise InputError("--by", "area needs areas: list the wards of each area under "
                                 "reports: areas: in the config")
    now = now or datetime.now(UTC)
    calendar = calendar_of(config)
    today = calendar.local_date(now)
    previous = period.previous()
    current = _grouped(conn, config, calendar, period, by, now, today)
    before = _grouped(conn, config, calendar, previous, by, now, today)
    keys = sorted(set(current) | set(before))
    rows = [ReportRow(key, _labels(config, by, key), current.get(key, Figures()),
                      before.get(key, Figures())) for key in keys]
    total = ReportRow((), (), Figures(), Figures())
    for row in rows:
        total.figures.add(row.figures)
        total.previous.add(row.previous)
    return Report(period, previous, by, rows, total, today)


def _grouped(conn: Connection, config: CouncilConfig, calendar: WorkingCalendar,
             period: Period, by: tuple[str, ...], now: datetime,
             today: date) -> dict[tuple[str, ...], Figures]:
    timezone = config.council.timezone
    start, end = period.bounds(timezone)
    dialect = conn.dialect.name
    span_end = max(now, end) + timedelta(days=1)
    received_day = local_day(_c.received_at, dialect, timezone, start, span_end)
    responded_day = local_day(_c.responded_at, dialect, timezone, start, span_end)
    columns = sorted({_COLUMN[name].name for name in by if name in _COLUMN})
    group = [_c[name] for name in columns]

    def count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
        return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)

    answered = _c.responded_at.is_not(None)
    query = (
        select(*group, received_day.label("received_day"),
               responded_day.label("responded_day"), func.count().label("n"),
               count(and_(_c.closed_at.is_not(None), _c.closed_at < end)).label("closed"),
               count(or_(answered, _c.target_date < today)).label("due"),
               count(and_(answered, responded_day <= _c.target_date)).label("within"),
               count(and_(_c.status.in_([s.value for s in OPEN_STATUSES]),
                          _c.target_date < today)).label("overdue"))
        .where(_c.received_at >= start, _c.received_at < end)
        .group_by(*group, received_day, responded_day)
    )
    days: dict[tuple[date, date], int] = {}
    result: dict[tuple[str, ...], Figures] = {}
    for row in conn.execute(query):
        values = dict(zip(columns, row[:len(columns)], strict=True))
        received = _as_date(row.received_day)
        key = tuple(_key(config, name, values, received) for name in by)
        figures = result.setdefault(key, Figures())
        figures.received += row.n
        figures.closed_at_end += row.closed
        figures.due += row.due
        figures.within_target += row.within
        figures.overdue_now += row.overdue
        if row.responded_day is not None:
            pair = (received, _as_date(row.responded_day))
            if pair not in days:
                days[pair] = max(0, calendar.working_days_between(*pair))
            figures.days_to_respond[days[pair]] += row.n
    return result


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _key(config: CouncilConfig, name: str, values: dict[str, Any], received: date) -> str:
    if name == "month":
        return f"{received:%Y-%m}"
    value = values[_COLUMN[name].name]
    if name == "role":
        member = config.member(value)
        return member.role.value if member else NONE_KEY
    if name == "area":
        return config.reports.area_of(value) or NONE_KEY
    return value if value is not None else NONE_KEY


_ROLE_NAMES = {"councillor": "Councillors", "mp": "MPs", "msp": "MSPs", "mep": "MEPs"}


def label(config: CouncilConfig, name: str, key: str) -> str:
    """The name people know a group by (from the config), or its key."""
    if key == NONE_KEY:
        return {"ward": "No ward (MPs, MSPs, MEPs)", "area": "No area"}.get(name, "None")
    if name == "ward":
        ward = config.ward(key)
        return ward.name if ward else key
    if name == "member":
        member = config.member(key)
        return member.name if member else key
    if name == "role":
        return _ROLE_NAMES.get(key, key)
    if name == "category":
        category = config.category(key)
        return category.label if category else key
    if name == "service":
        service = config.service(key)
        return service.name if service else key
    if name == "area":
        area = next((a for a in config.reports.areas if a.id == key), None)
        return area.name if area else key
    if name == "channel":
        return key.replace("_", " ")
    return key


def _labels(config: CouncilConfig, by: tuple[str, ...], key: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(label(config, name, part) for name, part in zip(by, key, strict=True))
