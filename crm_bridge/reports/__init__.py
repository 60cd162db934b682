"""Reports: volumes and response performance by ward, member, role, category, service, area,
month and channel, for `crm-bridge report`, the scrutiny report and the portal's statistics.

Public API (stable; import from here):

``parse_period(text, flag="--period") -> Period``
    ``2026H1``, ``2026Q3``, ``2026-10`` or ``2026``. ``period_between(first, last)`` for
    ``--from``/``--to``; ``parse_day(text, flag)``; ``last_complete_half(today)``. A bad
    value raises ``InputError`` naming ``flag``.
``Period(first, last, label)``
    Council-local days, inclusive. ``.previous()`` is the period of the same length just
    before (2026H1 -> 2025H2); ``.bounds(timezone)`` the UTC instants it spans.
``parse_by(text_or_list, flag="--by") -> tuple[str, ...]``
    Dimensions from ``DIMENSIONS``: ward, member, role, category, service, area, month,
    channel (any combination).
``build_report(conn, config, period, by=(), now=None) -> Report``
    Enquiries *received* in ``period``. ``now`` (default: the clock) decides what is due
    and overdue today. Two grouped SQL queries (this period and the previous one).
``Report``: ``period``, ``previous_period``, ``by``, ``rows: list[ReportRow]`` (sorted by
    key), ``total: ReportRow``, ``as_at`` (today's date), ``as_dict()`` (JSON-ready).
``ReportRow``: ``key`` (ids, one per dimension; ``NONE_KEY`` "-" when there is none, e.g.
    an MP's enquiry has no ward), ``labels`` (names from the config), ``figures`` and
    ``previous`` (``Figures``), ``change`` and ``change_percent`` (received vs previous).
``Figures``: ``received``, ``open_at_end``, ``closed_at_end`` (at the end of the period's
    last day), ``responded``, ``due`` (answered, or past the target date today),
    ``within_target`` and ``within_target_percent`` (of those due; an agreed extension
    moves the target date), ``median_days`` and ``p90_days`` (working days from receipt to
    answer, nearest rank), ``overdue_now``, ``days_to_respond`` (Counter: working days ->
    answers), ``as_dict()``.
``label(config, dimension, key) -> str``: the name people know a group by.

In their own modules (not imported here, so the engine stays light):
``crm_bridge.reports.repeats.repeat_issues(conn, config, period) -> Repeats``: enquiries
    linked as duplicates, and hot spots (the same place and category twice or more) from
    the data still held.
``crm_bridge.reports.scrutiny.build_scrutiny(engine, config, period, out_dir, now=None)
    -> ScrutinyResult``: the six-monthly report for the Scrutiny Committee (HTML, the CSV
    tables it was built from, a PDF when a library can make one).

How working days are counted: the database groups enquiries by (local day received, local
day answered); each distinct pair is turned into working days once in Python with the
council's ``WorkingCalendar`` (so bank holidays and closure days count exactly as they do
for deadlines), weighted by its count. Distinct pairs are a few thousand per period however
many enquiries there are. Every figure reads only columns a purge keeps, so a report is the
same before and after `crm-bridge purge`; hot spots need the location, which a purge
removes, so they come only from enquiries whose personal data is still held.
"""

from __future__ import annotations

from crm_bridge.reports.engine import (
    DIMENSIONS,
    NONE_KEY,
    Figures,
    Report,
    ReportRow,
    build_report,
    calendar_of,
    label,
    parse_by,
)
from crm_bridge.reports.period import (
    Period,
    last_complete_half,
    parse_day,
    parse_period,
    period_between,
)

__all__ = [
    "DIMENSIONS",
    "NONE_KEY",
    "Figures",
    "Period",
    "Report",
    "ReportRow",
    "build_report",
    "calendar_of",
    "label",
    "last_complete_half",
    "parse_by",
    "parse_day",
    "parse_period",
    "period_between",
]
