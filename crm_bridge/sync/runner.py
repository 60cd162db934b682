"""One sync run: push the outbox, pull the CRM's changes, mark what is overdue, e-mail reminders.

`crm-bridge sync` is the only writer to the CRM; cron runs it every few minutes. Each step
is safe to repeat, so a crash at any point is mended by the next run.

Who runs what at once:

* SQLite (one server): one sync at a time. The whole run holds the ``sync`` lock; an
  overlapping run raises ``LockBusy`` before doing anything.
* PostgreSQL: push runs in every process at once (each outbox row claimed with ``FOR
  UPDATE SKIP LOCKED``), so several servers, or a slow run and the next cron run, share
  the outbox. Pull (one cursor), overdue and reminders stay single-runners: each takes a
  lock of its own (``sync:pull``, ...) without waiting, and a process that finds one taken
  skips that step and says so (``SyncReport.skipped``); the holder does it.

A run stops cleanly at ``sync.deadline_seconds`` (``Deadline``): each step stops between
items, keeping what it did, and the steps not yet begun wait for the next run.

An AuthError or a MisconfiguredError (no CRM at the URL, a service description that will
not load) stops push and pull, failing no enquiry: nothing will work until the credentials
or settings are fixed. The steps that do not talk to the CRM still run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection, Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from connectors.base import BaseMapping, Connector
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import AuthError, MisconfiguredError, TransientError
from crm_bridge.reminders.step import run_reminders
from crm_bridge.store.locks import LockBusy, current_holder, held
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.overdue import mark_overdue
from crm_bridge.sync.pull import pull
from crm_bridge.sync.push import push
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.workdays import WorkingCalendar

__all__ = ["STEPS", "run_in_progress", "run_sync"]

log = logging.getLogger(__name__)

STEPS = ("push", "pull", "overdue", "reminders")
LOCK = "sync"
"""The lock a whole run holds on SQLite; on PostgreSQL each single-runner step's lock is
``sync:<step>``."""


def run_in_progress(engine: Engine, now: datetime) -> LockBusy | None:
    """On SQLite, the run holding the whole-run lock, if any; None on PostgreSQL.

    Asked before the connector is opened, so an overlapping cron run gives way at once
    rather than after building a SOAP client; ``run_sync`` still takes the lock itself.
    """
    if engine.dialect.name == "postgresql":
        return None
    return current_holder(engine, LOCK, now)


def run_sync(
    engine: Engine,
    connector: Connector,
    mapping: BaseMapping,
    config: CouncilConfig,
    *,
    now: datetime | None = None,
    only: Collection[str] = STEPS,
    dry_run: bool = False,
    policy: RetryPolicy | None = None,
    base_dir: Path | None = None,
    deadline: Deadline | None = None,
) -> SyncReport:
    """Run the chosen steps; on SQLite raises LockBusy if another run holds the lock.

    ``base_dir`` is the config file's folder (for a relative ``reminders.template_dir``);
    ``deadline`` is ``sync.deadline_seconds`` from now unless given (tests give a clock).
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    report = SyncReport()
    policy = policy or config.sync.retry
    deadline = deadline or Deadline(config.sync.deadline_seconds)
    calendar = WorkingCalendar(config.council.timezone, config.calendar.bank_holidays,
                               config.calendar.closure_days)
    concurrent = engine.dialect.name == "postgresql"

    def do_push() -> None:
        push(engine, connector, config, policy, now, report, dry_run=dry_run,
             deadline=deadline)

    def do_pull() -> None:
        pull(engine, connector, mapping, now, report, policy, deadline)
        if deadline.reached:
            report.stopped_at_deadline("pull")

    def do_overdue() -> None:
        report.overdue = mark_overdue(engine, calendar.local_date(now), now)

    def do_reminders() -> None:
        run_reminders(engine, config, calendar, now, report, dry_run=dry_run,
                      base_dir=base_dir, keep_going=deadline.keep_going)
        if deadline.reached:
            report.stopped_at_deadline("reminders")

    steps: dict[str, Callable[[], None]] = {
        "push": do_push, "pull": do_pull, "overdue": do_overdue, "reminders": do_reminders}
    wanted = [step for step in STEPS if step in only
              and not (dry_run and step in ("pull", "overdue"))]
    with _whole_run(engine, now, concurrent):
        for step in wanted:
            if step in ("push", "pull") and report.aborted:
                continue
            if deadline.passed():  # the rest waits for the next run
                report.stopped_at_deadline(step)
                continue
            with _step_lock(engine, step, now, concurrent, report) as mine:
                if mine:
                    _run_step(step, steps[step], report)
    _note_unplaced(connector, report)
    report.duration = time.perf_counter() - started
    return report


def _run_step(step: str, run: Callable[[], None], report: SyncReport) -> None:
    try:
        run()
    except AuthError as exc:
        report.aborted = f"the CRM refused the bridge's credentials: {exc}"
        log.error("sync stopped: %s", report.aborted)
    except MisconfiguredError as exc:
        report.aborted = f"the CRM connection is misconfigured: {exc}"
        report.misconfigured = True
        log.error("sync stopped: %s", report.aborted)
    except TransientError as exc:  # pull's retries are spent; it resumes from its cursor
        report.deferred += 1
        report.problems.append(f"{step}: the CRM could not be reached ({exc}); the next sync "
                               "carries on from where this one stopped")
        log.warning("%s stopped: %s", step, exc)


def _note_unplaced(connector: Connector, report: SyncReport) -> None:
    """Error codes the connector met that its mapping does not place (an optional
    capability: ``unplaced_codes() -> {code: what to do}``), for the admin."""
    seen = getattr(connector, "unplaced_codes", None)
    if callable(seen):
        for code, advice in dict(seen()).items():
            report.unplaced_codes[str(code)] = str(advice)


@contextmanager
def _whole_run(engine: Engine, now: datetime, concurrent: bool) -> Iterator[None]:
    if concurrent:
        yield
        return
    with held(engine, LOCK, now):
        yield


@contextmanager
def _step_lock(engine: Engine, step: str, now: datetime, concurrent: bool,
               report: SyncReport) -> Iterator[bool]:
    """Whether this process may run ``step`` (PostgreSQL: its lock taken, or push)."""
    if not concurrent or step == "push":
        yield True
        return
    lock = ExitStack()
    try:
        lock.enter_context(held(engine, f"{LOCK}:{step}", now))
    except LockBusy as busy:
        report.skipped[step] = str(busy)
        log.info("%s skipped: %s", step, busy)
        yield False
        return
    with lock:
        yield True
