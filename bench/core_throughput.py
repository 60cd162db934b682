"""Core throughput: enquiries per second through the embedded default, beside a plain-sqlite3 floor.

    python -m bench.core_throughput [--enquiries 10000] [--repeat 1] [--seed 1] [--json]
                                    [--keep DIR]

A fresh council directory (the example config, the shipped mappings, a store
brought to head by Alembic) is made in a temporary directory, then:

(a) intake: N enquiries are validated from form values (``draft_from``) and
    logged with ``log_enquiry``, each in its own transaction, as the portal
    and the CLI do: route, reference number, enquiry row, history row, outbox row;
(b) sync: one ``run_sync`` (push, pull, overdue) sends every enquiry to the
    local connector's embedded case store;
(c) a second ``run_sync`` that finds nothing to do.

The floors do the same durable writes with the stdlib ``sqlite3`` module: into a store
made by the bridge's own migrations (every table, index, the full-text index and its
triggers), with the engine's own PRAGMAs (``SQLITE_PRAGMAS``: journal, fsync policy), in
the same transactions. (a): per enquiry, the reference counter, the enquiry, history and
outbox rows. (b): per case, the case and its event in a local case store made from the
connector's own tables; per 100 cases, the enquiries marked sent, their history, their
outbox rows done. Both floors are checked, like the bridge, before figures are printed.
See bench/README.md for what each figure includes and leaves out.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import shutil
import sqlite3
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from connectors.local_store import _meta as local_store_metadata
from crm_bridge.app import Bridge
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.models import Channel, Role
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.engine import SQLITE_PRAGMAS, make_engine
from crm_bridge.store.migrate import upgrade
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.push import BATCH as PUSH_BATCH
from crm_bridge.sync.runner import STEPS, run_sync

GOAL_PER_SECOND = 2_000
# Every step of `crm-bridge sync` but e-mail: reminders talk to an SMTP server, not the CRM,
# and a benchmark must not send mail.
SYNC_STEPS = tuple(step for step in STEPS if step != "reminders")

# -- realistic, varied enquiries ------------------------------------------------------------

_FIRST = ["Agnes", "Bill", "Catherine", "Davie", "Effie", "Fergus", "Grace", "Hugh", "Isla",
          "Jamie", "Kenneth", "Lesley", "Malcolm", "Nessa", "Oliver", "Pamela", "Rab", "Senga"]
_LAST = ["Anderson", "Brown", "Campbell", "Douglas", "Ferguson", "Graham", "Hamilton", "Kerr",
         "MacLeod", "Murray", "Paterson", "Ross", "Scott", "Stewart", "Thomson", "Wilson"]
_STREETS = ["Bank Street", "Mar Street", "Drysdale Street", "Ochil Road", "Tullibody Road",
            "Main Street", "Hallpark", "Glebe Terrace", "Bridge Street", "Shillinghill"]
_TOWNS = [("Alloa", "FK10"), ("Tullibody", "FK10"), ("Sauchie", "FK10"), ("Alva", "FK12"),
          ("Tillicoultry", "FK13"), ("Dollar", "FK14"), ("Menstrie", "FK11"),
          ("Clackmannan", "FK10")]
_PROBLEMS = {
    "pothole": "a deep pothole that has already burst two tyres",
    "street-lighting": "three street lights out since last week; the path is pitch dark",
    "missed-bin": "the blue bin has been missed for the second fortnight running",
    "fly-tipping": "a mattress and building rubble dumped by the lane",
    "housing-repair": "a leaking roof in a council flat, water coming through the ceiling",
    "damp-mould": "black mould in the children's bedroom despite repeated visits",
    "noise": "loud music from a neighbouring flat every night after midnight",
    "dog-fouling": "dog fouling all along the path to the primary school",
    "pest-control": "rats seen in the back court near the bin store",
    "planning-enforcement": "an extension going up next door without any notice",
    "council-tax": "a council tax bill that ignores the single person discount",
    "parks": "broken swings at the play park, taped off for a month",
    "gritting": "the hill was not gritted and an elderly resident fell",
    "traffic-calming": "cars speeding past the nursery at school run times",
    "abandoned-vehicle": "a car with no plates left on the verge for six weeks",
    "antisocial-behaviour": "youths gathering and setting fires in the stairwell",
    "school-transport": "the school bus has not turned up three mornings this month",
}
_STAFF = ["members.services", "j.mcallister", "r.fleming"]


def make_forms(config: CouncilConfig, count: int, now: datetime, seed: int) -> list[dict[str, Any]]:
    """Form values as the portal would post them: members and categories rotate, the
    constituent details, channel, receipt time and consent vary."""
    rng = random.Random(seed)
    local = ZoneInfo(config.council.timezone)
    members = list(config.members)
    categories = [c.id for c in config.categories]
    wards = [w.id for w in config.wards]
    channels = list(Channel)
    forms = []
    for i in range(count):
        member = members[i % len(members)]
        category = categories[(i * 7 + i // len(members)) % len(categories)]
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        town, district = rng.choice(_TOWNS)
        postcode = f"{district} {rng.randint(1, 9)}{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}" \
                   f"{rng.choice('ABDEFGHJLNPQRSTUWXYZ')}"
        constituent: dict[str, Any] = {
            "name": f"{first} {last}",
            "address": f"{rng.randint(1, 120)} {rng.choice(_STREETS)}, {town}",
            "postcode": postcode if rng.random() < 0.9 else None,
        }
        if rng.random() < 0.6:
            constituent["email"] = f"{first}.{last}{rng.randint(1, 99)}@example.com".lower()
        if rng.random() < 0.5:
            constituent["phone"] = f"01259 {rng.randint(100000, 999999)}"
        if rng.random() < 0.2:
            constituent["uprn"] = str(rng.randint(10_000_000, 999_999_999))
        form: dict[str, Any] = {
            "member_id": member.id,
            "category_id": category,
            "description": f"Constituent reports {_PROBLEMS.get(category, 'a problem')} "
                           f"(case note {i}).",
            "constituent": constituent,
            "consent_to_share": rng.random() < 0.7,
            "channel": channels[i % len(channels)].value,
            "logged_by": member.name if rng.random() < 0.6 else rng.choice(_STAFF),
        }
        if rng.random() < 0.5:
            form["location"] = f"outside {rng.randint(1, 120)} {rng.choice(_STREETS)}"
        if member.role is not Role.COUNCILLOR:
            form["ward_id"] = rng.choice(wards)  # an MP's or MSP's enquiry is routed by ward
        if rng.random() < 0.7:
            # Logged after a surgery or from the post: received within the last two days,
            # given in local time with its offset (the working-day maths runs per date).
            received = now - timedelta(minutes=rng.randint(5, 48 * 60))
            form["received_at"] = received.astimezone(local)
        forms.append(form)
    return forms


# -- measuring --------------------------------------------------------------------------------


@dataclass
class Phase:
    name: str
    count: int
    seconds: float
    floor_seconds: float | None = None
    peak_rss_mb: float = 0.0

    @property
    def per_second(self) -> float:
        return self.count / self.seconds if self.seconds else 0.0

    @property
    def floor_per_second(self) -> float | None:
        if self.floor_seconds is None or not self.floor_seconds:
            return None
        return self.count / self.floor_seconds

    @property
    def ratio(self) -> float | None:
        """How many times the floor's time this phase took (1.0 = as fast as plain sqlite3)."""
        if self.floor_seconds is None or not self.floor_seconds:
            return None
        return self.seconds / self.floor_seconds


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB on Linux


@contextmanager
def timer() -> Iterator[list[float]]:
    box = [0.0]
    started = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - started


# -- the council directory --------------------------------------------------------------------


def make_council(directory: Path) -> Path:
    """What ``crm-bridge init`` makes: config.yaml, mappings/ and a store at head."""
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    shutil.copyfile(example_config(), config)
    mappings = directory / "mappings"
    mappings.mkdir(exist_ok=True)
    for source in sorted(shipped_mappings().glob("*.yaml")):
        shutil.copyfile(source, mappings / source.name)
    bridge = Bridge.open(config, check_schema=False)
    try:
        upgrade(bridge.engine)
    finally:
        bridge.close()
    return config


# -- the floors: the same durable writes, plain sqlite3 ----------------------------------------


def _sqlite(path: Path) -> sqlite3.Connection:
    """A stdlib connection with the bridge engine's own PRAGMAs, transactions by hand."""
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in SQLITE_PRAGMAS:
        conn.execute(f"PRAGMA {pragma}")
    return conn


def _rows(path: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    conn = sqlite3.connect(path)
    try:
        cursor = conn.execute(sql)
        names = [d[0] for d in cursor.description]
        return names, cursor.fetchall()
    finally:
        conn.close()


def _one(path: Path, sql: str) -> Any:
    return _rows(path, sql)[1][0][0]


def _insert_sql(table: str, columns: Sequence[str]) -> str:
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def _update_sql(table: str, columns: Sequence[str], key: str) -> str:
    return f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in columns)} WHERE {key} = ?"


# The reference counter as crm_bridge.store.enquiries.next_number takes it: one upsert.
_TAKE_NUMBER = ("INSERT INTO counters (name, value) VALUES (?, 1) ON CONFLICT (name) "
                "DO UPDATE SET value = value + 1 RETURNING value")


@dataclass
class IntakeRows:
    """The rows intake stored, read back as SQLite holds them, grouped per enquiry."""

    enquiry_columns: list[str]
    history_columns: list[str]
    outbox_columns: list[str]
    enquiries: list[tuple[Any, ...]]
    history: dict[str, list[tuple[Any, ...]]]
    outbox: dict[str, list[tuple[Any, ...]]]


def intake_rows(store: Path) -> IntakeRows:
    """Read right after intake, before sync changes them, in the order they were written
    (ids left to autoincrement, so the floor's outbox ids come out the same)."""
    enq_cols, enq_rows = _rows(store, "SELECT * FROM enquiries ORDER BY rowid")
    hist_cols, hist_rows = _without("id", *_rows(store, "SELECT * FROM enquiry_history "
                                                        "ORDER BY id"))
    out_cols, out_rows = _without("id", *_rows(store, "SELECT * FROM outbox ORDER BY id"))
    history: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in hist_rows:
        history[row[0]].append(row)
    outbox: dict[str, list[tuple[Any, ...]]] = defaultdict(list)
    for row in out_rows:
        outbox[row[0]].append(row)
    return IntakeRows(enq_cols, hist_cols, out_cols, enq_rows, history, outbox)


def floor_store(path: Path) -> None:
    """An empty store made as the bridge makes its own: Alembic's migrations to head, so
    the floor has every table, index, the FTS5 index of migration 0006 and its triggers."""
    engine = make_engine(f"sqlite:///{path}")
    try:
        upgrade(engine)
    finally:
        engine.dispose()


def intake_floor(rows: IntakeRows, floor_file: Path) -> float:
    """Per enquiry, one transaction: take a reference number, insert the enquiry (its FTS
    trigger fires), its history and outbox rows."""
    floor_store(floor_file)
    reference_at = rows.enquiry_columns.index("reference")
    insert_enquiry = _insert_sql("enquiries", rows.enquiry_columns)
    insert_history = _insert_sql("enquiry_history", rows.history_columns)
    insert_outbox = _insert_sql("outbox", rows.outbox_columns)
    conn = _sqlite(floor_file)
    try:
        with timer() as took:
            for row in rows.enquiries:
                year = str(row[reference_at]).split("-")[-2]
                conn.execute("BEGIN IMMEDIATE")
                conn.execute(_TAKE_NUMBER, (f"reference-{year}",)).fetchone()
                conn.execute(insert_enquiry, row)
                for h in rows.history[row[0]]:
                    conn.execute(insert_history, h)
                for o in rows.outbox[row[0]]:
                    conn.execute(insert_outbox, o)
                conn.execute("COMMIT")
    finally:
        conn.close()
    return took[0]


_SENT_COLUMNS = ("crm_ref", "failure_reason", "updated_at", "status")
_DONE_COLUMNS = ("state", "done_at", "attempts", "last_error")


def push_floor(store: Path, case_store: Path, floor_store_file: Path,
               floor_cases_file: Path) -> float:
    """What push wrote, in push's transactions: per case, the case and its 'created' event
    in a local case store made from the connector's own tables; per ``PUSH_BATCH`` cases,
    in the floor store (left by ``intake_floor``), the enquiries' reference and status,
    their 'sent' history rows, their outbox rows done."""
    case_cols, case_rows = _without("number", *_rows(case_store,
                                                     "SELECT * FROM cases ORDER BY number"))
    event_cols, event_rows = _without("seq", *_rows(
        case_store, "SELECT * FROM case_events WHERE kind = 'created' ORDER BY seq"))
    number_at = event_cols.index("number")
    external_at = case_cols.index("external_ref")
    _, sent = _rows(store, f"SELECT {', '.join(_SENT_COLUMNS)}, id FROM enquiries")
    sent_by_id = {row[-1]: row for row in sent}
    hist_cols, hist_rows = _without("id", *_rows(
        store, "SELECT * FROM enquiry_history WHERE event = 'sent' ORDER BY id"))
    history_by_id = {row[0]: row for row in hist_rows}
    _, done = _rows(store, f"SELECT {', '.join(_DONE_COLUMNS)}, id, enquiry_id FROM outbox "
                           "WHERE kind = 'create_case'")
    done_by_id = {row[-1]: row[:-1] for row in done}

    engine = make_engine(f"sqlite:///{floor_cases_file}")
    local_store_metadata.create_all(engine)  # as LocalCaseStore makes its file
    engine.dispose()
    insert_case = _insert_sql("cases", case_cols)
    insert_event = _insert_sql("case_events", event_cols)
    record_sent = _update_sql("enquiries", _SENT_COLUMNS, "id")
    insert_history = _insert_sql("enquiry_history", hist_cols)
    mark_done = _update_sql("outbox", _DONE_COLUMNS, "id")
    cases, bridge = _sqlite(floor_cases_file), _sqlite(floor_store_file)

    def record(enquiry_ids: list[str]) -> None:
        bridge.execute("BEGIN IMMEDIATE")
        bridge.executemany(record_sent, [sent_by_id[e] for e in enquiry_ids])
        bridge.executemany(insert_history, [history_by_id[e] for e in enquiry_ids])
        bridge.executemany(mark_done, [done_by_id[e] for e in enquiry_ids])
        bridge.execute("COMMIT")

    try:
        with timer() as took:
            opened: list[str] = []
            for case, event in zip(case_rows, event_rows, strict=True):
                cases.execute("BEGIN IMMEDIATE")
                number = cases.execute(insert_case, case).lastrowid
                cases.execute(insert_event, (*event[:number_at], number, *event[number_at + 1:]))
                cases.execute("COMMIT")
                opened.append(case[external_at])
                if len(opened) == PUSH_BATCH:
                    record(opened)
                    opened = []
            if opened:
                record(opened)
    finally:
        cases.close()
        bridge.close()
    return took[0]


def _without(column: str, columns: list[str], rows: list[tuple[Any, ...]]
             ) -> tuple[list[str], list[tuple[Any, ...]]]:
    at = columns.index(column)
    return ([c for c in columns if c != column], [(*r[:at], *r[at + 1:]) for r in rows])


# -- the run ------------------------------------------------------------------------------------


def verify(store: Path, case_store: Path, count: int) -> list[str]:
    """The work was done, by the bridge or by a floor: every enquiry stored with its
    reference number, indexed for search, sent once, recorded."""
    checks = [
        (store, "SELECT count(*) FROM enquiries", count),
        (store, "SELECT sum(value) FROM counters WHERE name LIKE 'reference-%'", count),
        (store, "SELECT count(*) FROM enquiries_fts_docsize", count),
        (store, "SELECT count(*) FROM enquiries_fts WHERE enquiries_fts MATCH 'constituent' "
                "AND rowid IN (SELECT rowid FROM enquiries)", count),
        (store, "SELECT count(*) FROM enquiries WHERE status = 'sent' AND crm_ref IS NOT NULL",
         count),
        (store, "SELECT count(*) FROM outbox WHERE state = 'done'", count),
        (store, "SELECT count(*) FROM enquiry_history WHERE event = 'logged'", count),
        (store, "SELECT count(*) FROM enquiry_history WHERE event = 'sent'", count),
        (case_store, "SELECT count(*) FROM cases", count),
        (case_store, "SELECT count(DISTINCT external_ref) FROM cases", count),
        (case_store, "SELECT count(*) FROM case_events WHERE kind = 'created'", count),
    ]
    problems = []
    for path, sql, expected in checks:
        got = _one(path, sql)
        if got != expected:
            problems.append(f"{path.name}: {sql}: expected {expected}, got {got}")
    return problems


def run(count: int, seed: int, workdir: Path) -> tuple[list[Phase], dict[str, Any]]:
    config_file = make_council(workdir / "council")
    store = workdir / "council" / "crm-bridge.db"
    case_store = workdir / "council" / "local-crm.db"
    bridge = Bridge.open(config_file)
    phases: list[Phase] = []
    extra: dict[str, Any] = {}
    try:
        config, engine, router = bridge.config, bridge.engine, bridge.router
        forms = make_forms(config, count, datetime.now(UTC), seed)

        with timer() as took:
            for form in forms:
                log_enquiry(engine, config, router, draft_from(form))
        intake = Phase("(a) intake: validate + log_enquiry", count, took[0])
        intake.peak_rss_mb = peak_rss_mb()
        stored = intake_rows(store)  # for the floor, as they were before sync

        connector, mapping = bridge.connector(), bridge.mapping()
        with timer() as took:
            first = run_sync(engine, connector, mapping, config, only=SYNC_STEPS,
                             deadline=Deadline(None))  # the whole run, timed
        sync = Phase("(b) sync: push to local connector", first.pushed, took[0])
        sync.peak_rss_mb = peak_rss_mb()

        with timer() as took:
            again = run_sync(engine, connector, mapping, config, only=SYNC_STEPS)
        idle = Phase("(c) sync again: nothing to do", again.pushed, took[0])
        idle.peak_rss_mb = peak_rss_mb()
        extra["first_sync"] = first.summary()
        extra["second_sync"] = again.summary()
    finally:
        bridge.close()

    floor, floor_cases = workdir / "floor-store.db", workdir / "floor-cases.db"
    intake.floor_seconds = intake_floor(stored, floor)
    sync.floor_seconds = push_floor(store, case_store, floor, floor_cases)
    extra["problems"] = verify(store, case_store, count) + [
        f"floor: {problem}" for problem in verify(floor, floor_cases, count)]
    phases += [intake, sync, idle]
    return phases, extra


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def render(phases: list[Phase], count: int) -> str:
    intake, sync, idle = phases
    total = Phase("end to end: (a) + (b)", count, intake.seconds + sync.seconds,
                  (intake.floor_seconds or 0) + (sync.floor_seconds or 0),
                  max(p.peak_rss_mb for p in phases))
    header = (f"{'phase':<40} {'count':>7} {'seconds':>9} {'per s':>9} "
              f"{'floor s':>9} {'floor/s':>9} {'x floor':>8} {'RSS MB':>7}")
    lines = [header, "-" * len(header)]
    for p in (*phases, total):
        per_second = f"{p.per_second:9.0f}" if p.count else f"{'-':>9}"
        lines.append(
            f"{p.name:<40} {p.count:>7} {p.seconds:>9.3f} {per_second} "
            f"{_fmt(p.floor_seconds, '9.3f'):>9} {_fmt(p.floor_per_second, '9.0f'):>9} "
            f"{_fmt(p.ratio, '7.1f') + ('x' if p.ratio is not None else ''):>8} "
            f"{p.peak_rss_mb:>7.0f}"
        )
    verdict = "met" if total.per_second >= GOAL_PER_SECOND else "NOT met"
    lines += [
        "-" * len(header),
        f"end to end: {total.per_second:,.0f} enquiries/s against a goal of "
        f"{GOAL_PER_SECOND:,}/s: {verdict}; {total.ratio:.1f}x the plain-sqlite3 floor "
        f"({total.floor_per_second or 0:,.0f}/s)",
        f"no-change sync: {idle.seconds * 1000:.0f} ms over a store of {count:,} enquiries",
        f"peak RSS: {total.peak_rss_mb:.0f} MB",
    ]
    return "\n".join(lines)


def best_of(runs: list[list[Phase]]) -> list[Phase]:
    """Each phase's fastest time, and each floor's, over the runs (timings only get slower
    from outside noise); the highest RSS."""
    best = []
    for same in zip(*runs, strict=True):
        floors = [p.floor_seconds for p in same if p.floor_seconds is not None]
        best.append(Phase(same[0].name, same[0].count, min(p.seconds for p in same),
                          min(floors) if floors else None, max(p.peak_rss_mb for p in same)))
    return best


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.core_throughput",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--enquiries", type=int, default=10_000, metavar="N",
                        help="how many enquiries to log and sync (default 10000)")
    parser.add_argument("--repeat", type=int, default=1, metavar="R",
                        help="run R times on fresh stores; report each phase's best (default 1)")
    parser.add_argument("--seed", type=int, default=1, help="for the varied drafts")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="work in DIR (must not exist) and keep it, to inspect the stores")
    args = parser.parse_args(argv)
    if args.enquiries < 1:
        parser.error("--enquiries must be at least 1")
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")
    if args.keep is not None and args.keep.exists():
        parser.error(f"--keep {args.keep} already exists")
    load = os.getloadavg()[0]
    runs: list[list[Phase]] = []
    problems: list[str] = []
    extra: dict[str, Any] = {}
    for number in range(1, args.repeat + 1):
        if args.keep is not None:
            phases, extra = run(args.enquiries, args.seed, args.keep / f"run-{number}")
        else:
            with tempfile.TemporaryDirectory(prefix="crm-bridge-bench-") as tmp:
                phases, extra = run(args.enquiries, args.seed, Path(tmp))
        runs.append(phases)
        problems += extra["problems"]
    phases = best_of(runs)
    environment = (f"Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
                   f"{os.cpu_count()} CPUs, load average {load:.1f} at the start")
    if args.json:
        intake, sync, _ = phases
        print(json.dumps({
            "enquiries": args.enquiries,
            "runs": args.repeat,
            "environment": environment,
            "phases": [{**asdict(p), "per_second": p.per_second, "ratio": p.ratio}
                       for p in phases],
            "end_to_end_per_second": args.enquiries / (intake.seconds + sync.seconds),
            "goal_per_second": GOAL_PER_SECOND,
            "peak_rss_mb": peak_rss_mb(),
            "first_sync": extra["first_sync"],
            "problems": problems,
        }, indent=2))
    else:
        runs_note = f", best of {args.repeat} runs" if args.repeat > 1 else ""
        print(f"crm-bridge core throughput: {args.enquiries:,} enquiries{runs_note} "
              f"({environment})")
        print(render(phases, args.enquiries))
        print(extra["first_sync"])
        for problem in problems:
            print(f"PROBLEM: {problem}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
