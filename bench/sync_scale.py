"""Sync at scale: a run that finds nothing must cost what changed (nothing), not the history.

    python -m bench.sync_scale [--enquiries 100000] [--sizes 1000,10000,100000]
                               [--store postgresql://...] [--keep DIR] [--json]

Setup (not timed): a council folder from the example config (reminders on, mailed into a
folder), a store at head, and ``--enquiries`` enquiries written in bulk, as four years of a
council would leave them: each with its case in the embedded CRM (the ``local`` connector),
its history and CRM events, its outbox row done; all but the last six weeks' closed, the
rest open in every state, some overdue. Two warm-up syncs then do what such a store owes
on first sight (the reminders due today).

Timed, with the clock fixed (``NOW``), every sync step including reminders:

(a) a sync with nothing to do, over the whole history (goal: ``GOAL_SECONDS``);
(b) for each size N: N officers' changes in the CRM (a reply to an open case, a re-closure
    of a closed one) pulled by one sync; then N new enquiries pushed by one sync; then
    again a sync with nothing to do. The sizes run one after another on the same store,
    which grows by N each time.

The table gives each sync's seconds, what it did, and milliseconds per change. Each timed
sync is checked before anything is printed: the seeded history is all there, every CRM
change was applied (its event recorded against its enquiry, the reply or closure in the
enquiry's status), every new enquiry was sent once (case reference, ``sent``, outbox row
done, one case in the CRM), and the syncs with nothing to do did nothing. A failed check
prints ``PROBLEM:`` and exits 1.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from connectors.local_store import _cases as local_cases
from connectors.local_store import _events as local_events
from crm_bridge.app import Bridge
from crm_bridge.models import Role, Status
from crm_bridge.resources import example_config, shipped_mappings
from crm_bridge.store.cursors import set_cursor
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import enquiries, enquiry_history, outbox
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.runner import run_sync

GOAL_SECONDS = 0.5
REPLY = "Repaired this week."
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)  # a Wednesday, after the digest hour
YEARS = 4
OPEN_DAYS = 42
CHUNK = 5000
_LOCAL = {Status.ACKNOWLEDGED: "new", Status.IN_PROGRESS: "open", Status.RESPONDED: "resolved",
          Status.CLOSED: "closed"}
_EVENTS = {"new": [], "open": ["open"], "resolved": ["open", "resolved"],
           "closed": ["open", "resolved", "closed"]}


def make_council(directory: Path, store: str | None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    config = directory / "config.yaml"
    text = example_config().read_text(encoding="utf-8")
    text = text.replace("  transport: smtp\n", "  transport: folder\n")
    text = text.replace("  max_per_run: 500\n", "  max_per_run: 100000\n")
    if store:
        text = text.replace("url: sqlite:///crm-bridge.db", f"url: {store}")
    config.write_text(text, encoding="utf-8")
    shutil.copytree(shipped_mappings(), directory / "mappings", dirs_exist_ok=True)
    engine = make_engine(store or f"sqlite:///{directory / 'crm-bridge.db'}")
    upgrade(engine)
    engine.dispose()
    return config


def _chunks(rows: Sequence[dict[str, Any]]) -> Iterator[Sequence[dict[str, Any]]]:
    for start in range(0, len(rows), CHUNK):
        yield rows[start:start + CHUNK]


class Seeder:
    """Enquiries, their CRM cases and history, written in bulk (executemany in chunks)."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.store = bridge.connector().desk()  # type: ignore[attr-defined]
        config = bridge.config
        self.members = [m for m in config.members if m.role is Role.COUNCILLOR]
        self.categories = [c.id for c in config.categories]
        self.routes: dict[tuple[str, str | None, Any], Any] = {}
        with bridge.engine.connect() as conn:
            self.number = int(conn.execute(select(func.count()).select_from(enquiries))
                              .scalar_one())
        with self.store.engine.connect() as conn:
            self.case_number = int(conn.execute(select(func.count()).select_from(local_cases))
                                   .scalar_one())
            self.seq = int(conn.execute(select(func.coalesce(func.max(local_events.c.seq), 0)))
                           .scalar_one())

    def _enquiry(self, received: datetime, status: Status, n: int) -> dict[str, Any]:
        member = self.members[n % len(self.members)]
        ward = self.bridge.config.ward_of(member.id)
        category = self.categories[(n * 7) % len(self.categories)]
        local = self.bridge.router.calendar.local_date(received)
        key = (category, ward.id if ward else None, local)
        if key not in self.routes:
            self.routes[key] = self.bridge.router.route(category, key[1], received)
        route = self.routes[key]
        self.number += 1
        closed = status is Status.CLOSED
        answered = status in (Status.RESPONDED, Status.CLOSED)
        return {
            "id": str(uuid.UUID(int=self.number)),
            "reference": f"ENQ-{2000 + self.number // 10**6}-{self.number % 10**6:06d}",
            "member_id": member.id, "logged_by": "members.services", "channel": "email",
            "constituent_name": f"Resident {self.number}", "constituent_address": None,
            "constituent_postcode": "FK10 1AA", "constituent_email": None,
            "constituent_phone": None, "constituent_uprn": None, "consent_to_share": n % 2 == 0,
            "consent_recorded_by": "members.services", "consent_recorded_at": received,
            "category_id": category, "service_id": route.service.id,
            "ward_id": ward.id if ward else None, "description": f"Problem number {n}",
            "location": None, "received_at": received, "target_date": route.target_date,
            "warning_date": route.warning_date, "status": status.value, "crm_ref": None,
            "response": "Dealt with." if answered else None,
            "responded_at": received + timedelta(days=5) if answered else None,
            "closed_at": received + timedelta(days=9) if closed else None,
            "overdue": not answered and route.target_date < NOW.date(),
            "failure_reason": None, "extension_days": 0, "created_at": received,
            "updated_at": received,
        }

    def history(self, total: int) -> None:
        """``total`` enquiries received over YEARS, sent and followed as the years left them."""
        span = timedelta(days=365 * YEARS)
        rows = []
        for n in range(total):
            received = NOW - span + span * (n + 0.5) / total
            recent = NOW - received < timedelta(days=OPEN_DAYS)
            status = ((Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.RESPONDED)[n % 3]
                      if recent else Status.CLOSED)
            rows.append(self._enquiry(received, status, n))
        self._write(rows, sent=True)

    def new(self, count: int) -> list[str]:
        """``count`` enquiries just logged: stored, with their outbox rows pending; their ids."""
        rows = [self._enquiry(NOW - timedelta(minutes=5), Status.LOGGED, n)
                for n in range(count)]
        self._write(rows, sent=False)
        return [row["id"] for row in rows]

    def _write(self, rows: list[dict[str, Any]], sent: bool) -> None:
        history: list[dict[str, Any]] = []
        jobs: list[dict[str, Any]] = []
        cases: list[dict[str, Any]] = []
        events: list[dict[str, Any]] = []
        for row in rows:
            at = row["received_at"]
            history.append({"enquiry_id": row["id"], "at": at, "event": "logged",
                            "actor": "members.services", "detail": "", "status": "logged",
                            "crm_event_id": None})
            jobs.append({"enquiry_id": row["id"], "kind": "create_case", "payload": {},
                         "state": "done" if sent else "pending", "attempts": int(sent),
                         "created_at": at, "done_at": at if sent else None})
            if not sent:
                continue
            self.case_number += 1
            row["crm_ref"] = f"LOC-{self.case_number:06d}"
            crm_status = _LOCAL[Status(row["status"])]
            cases.append({"number": self.case_number, "external_ref": row["id"],
                          "queue": "Roads", "title": row["reference"], "body": "-",
                          "status": crm_status, "due": None, "response": row["response"],
                          "created_at": at, "updated_at": at})
            self.seq += 1
            events.append({"seq": self.seq, "number": self.case_number, "at": at,
                           "kind": "created", "actor": "bridge", "body": "", "status": "new"})
            history.append({"enquiry_id": row["id"], "at": at, "event": "sent", "actor": "sync",
                            "detail": "", "status": "sent", "crm_event_id": None})
            for step, status in enumerate(["new", *_EVENTS[crm_status]]):
                # Never after NOW: a change dated later would make the officers' changes
                # below older than it, and rightly not applied as the newest.
                when = min(at + timedelta(days=step + 1), NOW - timedelta(minutes=1))
                if step:
                    self.seq += 1
                    events.append({"seq": self.seq, "number": self.case_number, "at": when,
                                   "kind": "status", "actor": "officer", "body": "",
                                   "status": status})
                history.append({"enquiry_id": row["id"], "at": when, "event": "status",
                                "actor": "officer", "detail": "", "status": status,
                                "crm_event_id": f"local-{self.seq}" if step else None})
        with self.bridge.engine.begin() as conn:
            for table, data in ((enquiries, rows), (enquiry_history, history), (outbox, jobs)):
                for chunk in _chunks(data):
                    conn.execute(table.insert(), list(chunk))
            if sent:
                set_cursor(conn, "pull:local", str(self.seq), NOW)
        with self.store.engine.begin() as conn:
            for table, data in ((local_cases, cases), (local_events, events)):
                for chunk in _chunks(data):
                    conn.execute(table.insert(), list(chunk))

    def officers(self, count: int) -> list[Change]:
        """``count`` changes in the CRM, newest cases first: a reply, or a re-closure."""
        with self.store.engine.connect() as conn:
            picked = conn.execute(select(local_cases.c.number, local_cases.c.status)
                                  .order_by(local_cases.c.number.desc()).limit(count)).all()
            # Sync's pushes add events too: number these after the CRM's newest.
            self.seq = int(conn.execute(select(func.coalesce(func.max(local_events.c.seq), 0)))
                           .scalar_one())
        events, changes = [], []
        for number, status in picked:
            reply = status in ("new", "open")
            self.seq += 1
            events.append({"seq": self.seq, "number": number, "at": NOW, "actor": "officer",
                           "kind": "response" if reply else "status",
                           "body": REPLY if reply else "",
                           "status": "resolved" if reply else "closed"})
            changes.append(Change(f"local-{self.seq}", f"LOC-{number:06d}", reply))
        with self.store.engine.begin() as conn:
            for chunk in _chunks(events):
                conn.execute(local_events.insert(), list(chunk))
        return changes


@dataclass(frozen=True)
class Change:
    """One officer's change made in the CRM, and what it must become in the bridge."""

    event_id: str
    crm_ref: str
    reply: bool


def _count(conn: Any, query: Any, column: Any, values: Sequence[str]) -> int:
    """``query`` (a count) over ``values`` of ``column``, a chunk at a time (SQL IN limits)."""
    return sum(int(conn.execute(query.where(column.in_(list(chunk)))).scalar_one())
               for chunk in _chunks(values))


def check_seeded(bridge: Bridge, seeder: Seeder, total: int) -> list[str]:
    with bridge.engine.connect() as conn:
        stored = conn.execute(select(func.count()).select_from(enquiries)).scalar_one()
        sent = conn.execute(select(func.count()).select_from(enquiries)
                            .where(enquiries.c.crm_ref.is_not(None))).scalar_one()
    with seeder.store.engine.connect() as conn:
        cases = conn.execute(select(func.count()).select_from(local_cases)).scalar_one()
    found, wanted = (stored, sent, cases), (total, total, total)
    return [] if found == wanted else [
        f"seeding: (enquiries, sent, cases) = {found}, wanted {wanted}"]


def check_pulled(bridge: Bridge, changes: Sequence[Change]) -> list[str]:
    """Every change applied once: its event recorded, replies and closures in the status."""
    h, e = enquiry_history.c, enquiries.c
    replies = [c.crm_ref for c in changes if c.reply]
    closures = [c.crm_ref for c in changes if not c.reply]
    count = select(func.count())
    with bridge.engine.connect() as conn:
        found = {
            "events recorded": _count(conn, count.select_from(enquiry_history), h.crm_event_id,
                                      [c.event_id for c in changes]),
            "replies": _count(conn, count.select_from(enquiries).where(
                e.status == Status.RESPONDED.value, e.response == REPLY), e.crm_ref, replies),
            "closures": _count(conn, count.select_from(enquiries).where(
                e.status == Status.CLOSED.value), e.crm_ref, closures),
        }
    wanted = {"events recorded": len(changes), "replies": len(replies),
              "closures": len(closures)}
    return [] if found == wanted else [f"pull of {len(changes)}: found {found}, wanted {wanted}"]


def check_pushed(bridge: Bridge, seeder: Seeder, ids: Sequence[str]) -> list[str]:
    """Every new enquiry sent once: its case reference, ``sent``, outbox done, one case."""
    e, o = enquiries.c, outbox.c
    count = select(func.count())
    with bridge.engine.connect() as conn:
        found = {
            "sent": _count(conn, count.select_from(enquiries).where(
                e.status == Status.SENT.value, e.crm_ref.is_not(None)), e.id, ids),
            "outbox done": _count(conn, count.select_from(outbox).where(o.state == "done"),
                                  o.enquiry_id, ids),
        }
    with seeder.store.engine.connect() as conn:
        found["cases"] = _count(conn, count.select_from(local_cases),
                                local_cases.c.external_ref, ids)
    wanted = dict.fromkeys(found, len(ids))
    return [] if found == wanted else [f"push of {len(ids)}: found {found}, wanted {wanted}"]


def sync(bridge: Bridge, at: datetime) -> tuple[float, SyncReport]:
    started = time.perf_counter()
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      now=at, base_dir=bridge.loaded.base_dir,
                      deadline=Deadline(None))  # the whole run, timed
    return time.perf_counter() - started, report


def quiet(bridge: Bridge, at: datetime, repeat: int = 5) -> float:
    """The median of ``repeat`` syncs that find nothing to do."""
    times = []
    for n in range(repeat):
        seconds, report = sync(bridge, at + timedelta(seconds=n))
        assert (report.pushed, report.updated, report.overdue, report.reminders) == (
            0, 0, 0, 0), report.summary()
        times.append(seconds)
    return statistics.median(times)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enquiries", type=int, default=100_000)
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--store", help="a PostgreSQL URL (default: SQLite in the folder)")
    parser.add_argument("--keep", type=Path, help="build the council here and keep it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    sizes = [int(size) for size in args.sizes.split(",") if size]
    folder = args.keep or Path(tempfile.mkdtemp(prefix="sync-scale-"))
    rows: list[dict[str, Any]] = []
    problems: list[str] = []
    try:
        bridge = Bridge.open(make_council(folder, args.store))
        seeder = Seeder(bridge)
        started = time.perf_counter()
        seeder.history(args.enquiries)
        seeded = time.perf_counter() - started
        problems += check_seeded(bridge, seeder, args.enquiries)
        warm = [sync(bridge, NOW)[1], sync(bridge, NOW + timedelta(seconds=1))[1]]
        at = NOW + timedelta(minutes=1)
        rows.append({"sync": f"nothing to do, {args.enquiries:,} enquiries", "changes": 0,
                     "seconds": quiet(bridge, at), "did": "-"})
        for size in sizes:
            at += timedelta(minutes=5)
            changes = seeder.officers(size)
            seconds, report = sync(bridge, at)
            problems += check_pulled(bridge, changes)
            rows.append({"sync": f"{size:,} changes in the CRM", "changes": size,
                         "seconds": seconds, "did": f"updated {report.updated}, "
                         f"mailed {report.reminders}"})
            at += timedelta(minutes=5)
            new = seeder.new(size)
            seconds, report = sync(bridge, at)
            problems += check_pushed(bridge, seeder, new)
            rows.append({"sync": f"{size:,} new enquiries", "changes": size,
                         "seconds": seconds, "did": f"pushed {report.pushed}, "
                         f"updated {report.updated}"})
            at += timedelta(minutes=5)
            rows.append({"sync": "then nothing to do", "changes": 0,
                         "seconds": quiet(bridge, at), "did": "-"})
        bridge.close()
    finally:
        if args.keep is None:
            shutil.rmtree(folder, ignore_errors=True)
    if problems:
        for problem in problems:
            print(f"PROBLEM: {problem}")
        return 1
    if args.json:
        json.dump({"enquiries": args.enquiries, "seed_seconds": seeded, "rows": rows,
                   "goal_seconds": GOAL_SECONDS}, sys.stdout, indent=2)
        print()
        return 0
    print(f"seeded {args.enquiries:,} enquiries in {seeded:.1f} s; warm-up mailed "
          f"{sum(r.reminders for r in warm)} messages\n")
    print(f"| {'sync':<34} | {'seconds':>8} | {'ms/change':>9} | what it did")
    print(f"|{'-' * 36}|{'-' * 10}|{'-' * 11}|{'-' * 30}")
    for row in rows:
        per = f"{1000 * row['seconds'] / row['changes']:.3f}" if row["changes"] else "-"
        print(f"| {row['sync']:<34} | {row['seconds']:>8.3f} | {per:>9} | {row['did']}")
    verdict = "met" if rows[0]["seconds"] <= GOAL_SECONDS else "MISSED"
    print(f"\nnothing to do over the history: {rows[0]['seconds']:.3f} s "
          f"(goal {GOAL_SECONDS} s: {verdict})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
