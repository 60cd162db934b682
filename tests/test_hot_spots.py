"""Hot spots (``crm_bridge.reports.repeats.hot_spots``): the same kind of problem raised
again and again at one place in a period, a landmark and a house number on one street
counted together; what the scrutiny report lists."""

from __future__ import annotations

from sqlalchemy import insert
from support.report_council import row

from crm_bridge.app import Bridge
from crm_bridge.reports import parse_period
from crm_bridge.reports.repeats import hot_spots, repeat_issues
from crm_bridge.store.tables import enquiries


def test_hot_spots_fold_a_street_however_it_is_written(bridge: Bridge) -> None:
    with bridge.engine.begin() as conn:
        conn.execute(insert(enquiries), [
            row("2026-11-02T09:00", target="2026-11-16", location="14 Main St., Tillicoultry"),
            row("2026-11-03T09:00", target="2026-11-17",
                location="outside the Co-op, Main Street, Tillicoultry"),
            row("2026-11-04T09:00", target="2026-11-18", location="Main Street, Tillicoultry"),
            # Another street's lights: one only, not a hot spot.
            row("2026-11-05T09:00", target="2026-11-19", category="street-lighting",
                service="lighting", location="Main Street, Tillicoultry"),
            # Two at a landmark, in another ward.
            row("2026-11-06T09:00", target="2026-11-20", ward="clacks-west",
                member="cllr-morag-kinnaird", location="Delph Pond, Tullibody"),
            row("2026-11-09T09:00", target="2026-11-23", ward="clacks-west",
                member="cllr-morag-kinnaird", location="Delph Pond,  Tullibody"),
            # The same street in the next town: a place of its own.
            row("2026-11-10T09:00", target="2026-11-24", location="Main Street, Alva"),
            # December: outside the period.
            row("2026-12-01T09:00", target="2026-12-15", location="Main Street, Tillicoultry"),
            row("2026-11-11T09:00", target="2026-11-25", location=None),
            # Two pins 20 m apart in one cell of about 110 by 60 m; one 300 m away.
            row("2026-11-12T09:00", target="2026-11-26", location="56.15312, -3.73862"),
            row("2026-11-13T09:00", target="2026-11-27", location="56.15330,-3.73855"),
            row("2026-11-16T09:00", target="2026-11-30", location="56.15580, -3.73860")])
    november = parse_period("2026-11")
    with bridge.engine.connect() as conn:
        found = hot_spots(conn, november, bridge.config)
        three = hot_spots(conn, november, bridge.config, at_least=3)
        repeats = repeat_issues(conn, bridge.config, november)
    assert [(s.place, s.ward, s.category_id, s.count) for s in found.spots] == [
        ("Main Street Tillicoultry", "Clackmannanshire North", "pothole", 3),
        ("Near 56.153, -3.739", "Clackmannanshire North", "pothole", 2),
        ("Delph Pond Tullibody", "Clackmannanshire West", "pothole", 2)]
    assert (found.received, found.places_held) == (11, 10)
    assert [s.place for s in three.spots] == ["Main Street Tillicoultry"]
    assert repeats.hot_spots == found.spots  # what the reports use
