"""The report engine's figures on a small hand-made caseload, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from support.report_council import NOW, add_caseload

from crm_bridge.app import Bridge
from crm_bridge.errors import InputError
from crm_bridge.reports import build_report, parse_by, parse_period, period_between

pytestmark = pytest.mark.timeout(120)


def test_figures_by_hand(bridge: Bridge) -> None:
    add_caseload(bridge.engine)
    with bridge.engine.connect() as conn:
        report = build_report(conn, bridge.config, parse_period("2026-11"), (), now=NOW)
    total = report.total.figures
    assert report.previous_period.label == "2026-10"
    assert (total.received, total.closed_at_end, total.open_at_end) == (5, 3, 2)
    assert total.responded == 4
    assert dict(total.days_to_respond) == {2: 2, 10: 1, 13: 1}
    assert (total.median_days, total.p90_days) == (2, 13)
    assert (total.due, total.within_target, total.within_target_percent) == (5, 3, 60.0)
    assert total.overdue_now == 1
    assert report.total.previous.received == 2  # 30 Sep 23:30 UTC is 1 Oct in BST
    assert (report.total.change, report.total.change_percent) == (3, 150.0)


def test_by_role_and_ward(bridge: Bridge) -> None:
    add_caseload(bridge.engine)
    with bridge.engine.connect() as conn:
        report = build_report(conn, bridge.config, parse_period("2026-11"), ("role",), now=NOW)
        wards = build_report(conn, bridge.config, parse_period("2026-11"), ("ward", "channel"),
                             now=NOW)
    roles = {row.key: (row.labels, row.figures.received, row.previous.received)
             for row in report.rows}
    assert roles == {("councillor",): (("Councillors",), 4, 2), ("mp",): (("MPs",), 1, 0)}
    mp = next(row for row in report.rows if row.key == ("mp",))
    assert (mp.figures.median_days, mp.figures.within_target_percent) == (2, 100.0)
    assert {row.key: row.figures.received for row in wards.rows if row.figures.received} == {
        ("clacks-north", "surgery"): 3, ("clacks-north", "email"): 1, ("-", "letter"): 1}
    west = next(row for row in wards.rows if row.key == ("clacks-west", "surgery"))
    assert (west.figures.received, west.previous.received, west.change) == (0, 1, -1)


def test_period_parsing() -> None:
    assert (parse_period("2026H1").first, parse_period("2026H1").last) == (
        date(2026, 1, 1), date(2026, 6, 30))
    assert parse_period("2026q3").last == date(2026, 9, 30)
    assert parse_period("2026H1").previous().label == "2025H2"
    assert period_between(date(2026, 1, 10), date(2026, 1, 19)).previous().first == date(
        2025, 12, 31)
    with pytest.raises(InputError, match=r"^--period: '2026H3' is not a period"):
        parse_period("2026H3")
    with pytest.raises(InputError, match=r"^--to:"):
        period_between(date(2026, 2, 1), date(2026, 1, 1))
    with pytest.raises(InputError, match=r"^--by: cannot group by 'street'"):
        parse_by("ward,street")
