"""The scrutiny report: one self-contained printable HTML file with SVG charts, its CSV
tables and a PDF; small counts suppressed; no personal data; the same figures after a purge."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select
from support.report_council import NOW, PERSONAL, add_caseload, row

from crm_bridge.app import Bridge
from crm_bridge.config.report_settings import ReportSettings
from crm_bridge.privacy.purge import purge
from crm_bridge.reports import build_report, parse_period
from crm_bridge.reports.repeats import repeat_issues
from crm_bridge.reports.scrutiny import build_scrutiny
from crm_bridge.store.tables import enquiries, enquiry_links

pytestmark = pytest.mark.timeout(180)

NOVEMBER = parse_period("2026-11")


def _texts(out: Path) -> dict[str, str]:
    return {path.name: path.read_text(encoding="utf-8") for path in sorted(out.iterdir())
            if path.suffix in (".html", ".csv")}


def test_scrutiny_report_is_self_contained_suppressed_and_anonymous(
        bridge: Bridge, tmp_path: Path) -> None:
    add_caseload(bridge.engine)
    out = tmp_path / "scrutiny"
    result = build_scrutiny(bridge.engine, bridge.config, NOVEMBER, out, NOW)
    assert result.html == out / "scrutiny-2026-11.html"
    assert sorted(p.name for p in result.csv_files) == [
        f"scrutiny-2026-11-{name}.csv" for name in
        ("category", "hotspots", "month", "role", "service", "summary", "ward")]
    texts = _texts(out)
    page = texts["scrutiny-2026-11.html"]
    # Self-contained: nothing fetched, no script; four inline SVG charts; prints on A4.
    assert not re.search(r"https?:|//|src=|<script|<link|@import|url\(", page)
    assert page.count("<svg") == 4 and "size:A4" in page and "break-before:page" in page
    # Suppression (default threshold 5): 5 received shows; 3 closed and 1 MP's do not.
    summary = texts["scrutiny-2026-11-summary.csv"].splitlines()
    assert summary[1].split(",")[:6] == ["All enquiries", "5", "<5", "-", "<5", "<5"]
    role = {line.split(",")[0]: line.split(",") for line in
            texts["scrutiny-2026-11-role.csv"].splitlines()}
    assert role["MPs"][1] == "<5" and role["Councillors"][1] == "<5"
    assert "<td>&lt;5</td>" in page
    # No constituent's details, anywhere.
    for text in texts.values():
        for personal in PERSONAL:
            assert personal.lower() not in text.lower(), personal
    # A PDF of the same page (WeasyPrint is installed with the dev extra).
    assert result.pdf == out / "scrutiny-2026-11.pdf"
    assert result.pdf.read_bytes().startswith(b"%PDF")


def test_hot_spots_are_streets_above_the_threshold(bridge: Bridge, tmp_path: Path) -> None:
    add_caseload(bridge.engine)
    with bridge.engine.begin() as conn:
        conn.execute(enquiries.insert(), [
            row("2026-11-10T09:00", target="2026-11-24", location="14 Main St., Tillicoultry"),
            row("2026-11-11T09:00", target="2026-11-25", location="Alva Road", ward="clacks-west",
                member="cllr-morag-kinnaird")])
    config = bridge.config.model_copy(update={"reports": ReportSettings(suppress_below=3)})
    result = build_scrutiny(bridge.engine, config, NOVEMBER, tmp_path, NOW)
    spots = (tmp_path / "scrutiny-2026-11-hotspots.csv").read_text(encoding="utf-8")
    # Three 'Main Street, Tillicoultry' and one '14 Main St.' are one street: four potholes.
    assert spots.splitlines() == [
        "Place,Ward,Category,Enquiries",
        "Main Street Tillicoultry,Clackmannanshire North,Pothole or road surface,4"]
    page = result.html.read_text(encoding="utf-8")
    assert "Main Street Tillicoultry" in page and "14 Main" not in page
    assert "Alva Road" not in page  # once only: not a hot spot


def test_figures_are_the_same_after_a_purge(bridge: Bridge) -> None:
    add_caseload(bridge.engine)

    def figures() -> list[dict[str, object]]:
        with bridge.engine.connect() as conn:
            return [build_report(conn, bridge.config, NOVEMBER, by, NOW).as_dict()
                    for by in ((), ("ward", "category"), ("role",), ("month", "service"))]

    before = figures()
    with bridge.engine.connect() as conn:
        held_before = repeat_issues(conn, bridge.config, NOVEMBER)
    purge_at = NOW.replace(year=2029)
    done = purge(bridge.engine, bridge.loaded, bridge.connector, purge_at, "cli:dpo")
    assert len(done.references) == 7  # every closed enquiry: all but D
    assert figures() == before
    with bridge.engine.connect() as conn:
        held_after = repeat_issues(conn, bridge.config, NOVEMBER)
    # Hot spots need the place, which the purge removed: only the open one's is held.
    assert (held_before.places_held, held_after.places_held) == (5, 1)
    assert held_after.received == held_before.received == 5


def test_repeat_issues_count_linked_enquiries(bridge: Bridge) -> None:
    add_caseload(bridge.engine)
    with bridge.engine.begin() as conn:
        ids = {r.reference: r.id for r in conn.execute(
            select(enquiries.c.reference, enquiries.c.id).order_by(enquiries.c.received_at))}
        first, second, october = (ids[ref] for ref in sorted(ids)[1:3] + sorted(ids)[5:6])
        conn.execute(enquiry_links.insert(), [
            {"enquiry_id": first, "linked_id": second, "kind": "duplicate"},
            {"enquiry_id": second, "linked_id": first, "kind": "duplicate"},
            {"enquiry_id": october, "linked_id": first, "kind": "duplicate"}])
    with bridge.engine.connect() as conn:
        repeats = repeat_issues(conn, bridge.config, NOVEMBER)
    # Two November enquiries are linked (one also to an October one, not counted here).
    assert (repeats.received, repeats.linked) == (5, 2)
