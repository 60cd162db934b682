"""The scrutiny report over a large store: how long it takes, and its peak memory.

    python -m bench.report_scale [--enquiries 1000000] [--postgres] [--json]

Setup (not timed): a council folder from the example config, a store at head (SQLite in a
temporary folder; with ``--postgres``, a scratch database made on 127.0.0.1:5432 and dropped
afterwards), and ``--enquiries`` enquiries written in bulk (SQLite ``executemany``,
PostgreSQL ``COPY``), received evenly from 1 January 2025 to 30 November 2026 across the
example's members, categories and channels, most answered within 35 days, one in eight
still open, each at one of 300 streets. On SQLite the search index's insert trigger is
dropped first (the report never reads the index; filling it would triple the setup time).

Timed, in a fresh process (so its peak memory is the report's, not the setup's): opening
the bridge, then ``build_scrutiny`` for 2026H1 (figures, hot spots, HTML, CSV) without the
PDF, then the PDF alone. Before printing, the report's figures are checked against the
same figures counted here while the rows were made (received, closed at the end, answered
within target, median and 90th percentile working days, by category); the run fails if
they differ.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import create_engine, text

from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
FIRST = datetime(2025, 1, 1, tzinfo=UTC)
LAST = datetime(2026, 11, 30, tzinfo=UTC)
PERIOD = "2026H1"
ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ZONE = ZoneInfo("Europe/London")
_COLUMNS = ("id", "reference", "member_id", "logged_by", "channel", "constituent_name",
            "consent_to_share", "consent_recorded_by", "consent_recorded_at", "category_id",
            "service_id", "ward_id", "description", "location", "received_at", "target_date",
            "warning_date", "status", "responded_at", "closed_at", "overdue", "extension_days",
            "created_at", "updated_at")


def _council(root: Path, url: str) -> Path:
    source = example_config().read_text(encoding="utf-8")
    (root / "config.yaml").write_text(
        source.replace("url: sqlite:///crm-bridge.db", f"url: {url}"), encoding="utf-8")
    shutil.copytree(shipped_mappings(), root / "mappings")
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return root / "config.yaml"


def _fill(config_path: Path, count: int) -> dict[str, Any]:
    """Write ``count`` enquiries; return the figures the report must show for ``PERIOD``."""
    from crm_bridge.app import Bridge
    from crm_bridge.reports import calendar_of, parse_period

    bridge = Bridge.open(config_path)
    config = bridge.config
    calendar = calendar_of(config)
    ward_of = {m.id: (config.ward_of(m.id).id if config.ward_of(m.id) else None)  # type: ignore[union-attr]
               for m in config.members}
    members = [m.id for m in config.members]
    categories = [(c.id, c.service) for c in config.categories]
    services = {s.id: s.response_days for s in config.services}
    streets = [f"{n} Street {k}, Town {k % 7}" for k, n in
               ((k, random.Random(k).randint(1, 90)) for k in range(300))]
    channels = ["surgery", "email", "phone", "letter", "in_person"]
    rng = random.Random(2026)
    period = parse_period(PERIOD)
    start, end = period.bounds("Europe/London")
    expected: dict[str, Any] = {"received": 0, "closed": 0, "within": 0, "days": Counter(),
                                "by_category": Counter()}
    targets: dict[tuple[date, int], date] = {}
    pairs: dict[tuple[date, date], int] = {}
    span = (LAST - FIRST).total_seconds()
    dialect = bridge.engine.dialect.name
    raw = bridge.engine.raw_connection()
    try:
        cursor = raw.cursor()
        if dialect == "sqlite":  # the search index is not what is measured: fill without it
            cursor.execute("DROP TRIGGER IF EXISTS enquiries_fts_insert")
            cursor.execute("PRAGMA synchronous=OFF")
        batch: list[tuple[Any, ...]] = []
        for i in range(count):
            received = FIRST + timedelta(seconds=span * i / count + rng.random() * 60)
            member = rng.choice(members)
            category, service = rng.choice(categories)
            day = received.astimezone(ZONE).date()
            key = (day, services[service])
            if key not in targets:
                targets[key] = calendar.add_working_days(day, services[service])
            target = targets[key]
            responded = closed = None
            status = "in_progress"
            if rng.random() < 0.875 and received + timedelta(days=40) < NOW:
                responded = received + timedelta(days=rng.randint(0, 35), hours=rng.randint(1, 8))
                closed = responded + timedelta(days=1)
                status = "closed"
            if start <= received < end:
                expected["received"] += 1
                expected["by_category"][category] += 1
                if closed is not None and closed < end:
                    expected["closed"] += 1
                if responded is not None:
                    answered = responded.astimezone(ZONE).date()
                    expected["within"] += answered <= target
                    if (day, answered) not in pairs:
                        pairs[(day, answered)] = calendar.working_days_between(day, answered)
                    expected["days"][pairs[(day, answered)]] += 1
            batch.append((str(uuid.UUID(int=rng.getrandbits(128))), f"ENQ-{i:09d}", member,
                          "staff", rng.choice(channels), "(removed)", True, "staff", received,
                          category, service, ward_of[member], "(removed)",
                          rng.choice(streets), received, target, target, status, responded,
                          closed, False, 0, received, received))
            if len(batch) == 50_000:
                _write(cursor, dialect, batch)
                batch = []
        if batch:
            _write(cursor, dialect, batch)
        raw.commit()
    finally:
        raw.close()
        bridge.close()
    return expected


def _sqlite_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, date):
        return value.isoformat()
    return value


def _write(cursor: Any, dialect: str, batch: list[tuple[Any, ...]]) -> None:
    if dialect == "sqlite":
        marks = ", ".join("?" for _ in _COLUMNS)
        cursor.executemany(f"INSERT INTO enquiries ({', '.join(_COLUMNS)}) VALUES ({marks})",
                           [tuple(_sqlite_value(v) for v in row) for row in batch])
        return
    with cursor.copy(f"COPY enquiries ({', '.join(_COLUMNS)}) FROM STDIN") as copy:
        for row in batch:
            copy.write_row(row)


def _measure(config_path: Path, out: Path) -> dict[str, Any]:
    """In this (fresh) process: time the report, then the PDF; the figures it gave."""
    started = time.perf_counter()
    from crm_bridge.app import Bridge
    from crm_bridge.reports import build_report, parse_period
    from crm_bridge.reports import scrutiny as scrutiny_module

    bridge = Bridge.open(config_path)
    opened = time.perf_counter()
    make_pdf = scrutiny_module._pdf
    scrutiny_module._pdf = lambda page, path: (None, "timed apart")  # type: ignore[assignment]
    period = parse_period(PERIOD)
    result = scrutiny_module.build_scrutiny(bridge.engine, bridge.config, period, out, NOW)
    report_seconds = time.perf_counter() - opened
    peak_report = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    pdf_started = time.perf_counter()
    pdf, _why = make_pdf(result.html.read_text(encoding="utf-8"), out / "scrutiny.pdf")
    pdf_seconds = time.perf_counter() - pdf_started
    with bridge.engine.connect() as conn:
        total = build_report(conn, bridge.config, period, (), NOW).total.figures
        by_category = {row.key[0]: row.figures.received for row in build_report(
            conn, bridge.config, period, ("category",), NOW).rows if row.figures.received}
    bridge.close()
    return {
        "store": bridge.engine.dialect.name,
        "report_seconds": round(report_seconds, 2),
        "open_seconds": round(opened - started, 2),
        "pdf_seconds": round(pdf_seconds, 2) if pdf else None,
        "peak_rss_mb_report": round(peak_report),
        "peak_rss_mb_with_pdf": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "figures": {"received": total.received, "closed": total.closed_at_end,
                    "within": total.within_target, "median": total.median_days,
                    "p90": total.p90_days, "by_category": by_category},
    }


def _check(expected: dict[str, Any], got: dict[str, Any]) -> list[str]:
    from crm_bridge.reports import Figures

    want = Figures(days_to_respond=expected["days"])
    wanted = {"received": expected["received"], "closed": expected["closed"],
              "within": expected["within"], "median": want.median_days, "p90": want.p90_days,
              "by_category": dict(expected["by_category"])}
    return [f"{name}: report {got[name]} != counted {value}" for name, value in wanted.items()
            if got[name] != value]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--enquiries", type=int, default=1_000_000)
    parser.add_argument("--postgres", action="store_true",
                        help="a scratch database on 127.0.0.1:5432, dropped afterwards")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--keep", action="store_true",
                        help="SQLite: keep the filled council folder and say where")
    parser.add_argument("--measure", nargs=2, metavar=("CONFIG", "OUT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        print(json.dumps(_measure(Path(args.measure[0]), Path(args.measure[1]))))
        return 0
    root = Path(tempfile.mkdtemp(prefix="report-bench-"))
    scratch = f"crm_bridge_bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT") if args.postgres else None
    try:
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{scratch}"'))
            url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{scratch}"
        else:
            url = f"sqlite:///{root / 'bridge.db'}"
        config_path = _council(root, url)
        filled = time.perf_counter()
        expected = _fill(config_path, args.enquiries)
        fill_seconds = time.perf_counter() - filled
        if admin is not None:
            with create_engine(url, isolation_level="AUTOCOMMIT").connect() as conn:
                conn.execute(text("VACUUM ANALYZE enquiries"))
        done = subprocess.run([sys.executable, "-m", "bench.report_scale", "--measure",
                               str(config_path), str(root / "out")], capture_output=True,
                              text=True, check=False)
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        got = json.loads(done.stdout)
        problems = _check(expected, got.pop("figures"))
        if problems:
            print("the report's figures are wrong:\n  " + "\n  ".join(problems),
                  file=sys.stderr)
            return 1
        got.update({"enquiries": args.enquiries, "fill_seconds": round(fill_seconds, 1),
                    "received_in_period": expected["received"]})
        print(json.dumps(got) if args.json else
              f"{got['store']}: scrutiny report for {PERIOD} ({expected['received']:,} of "
              f"{args.enquiries:,} enquiries) in {got['report_seconds']} s, peak RSS "
              f"{got['peak_rss_mb_report']} MB; PDF {got['pdf_seconds']} s more (peak "
              f"{got['peak_rss_mb_with_pdf']} MB); figures checked")
        return 0
    finally:
        if args.keep and admin is None:
            print(f"kept {root}", file=sys.stderr)
        else:
            shutil.rmtree(root, ignore_errors=True)
        if admin is not None:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    sys.exit(main())
