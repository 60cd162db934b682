"""One sync run: push the outbox, pull the CRM's changes, mark what is overdue, e-mail reminders.

`crm-bridge sync` is the only writer to the CRM; cron runs it every few
minutes. Each step is safe to repeat, so a crash at any point is mended by the
next run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Collection
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from connectors.base import BaseMapping, Connector
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import AuthError
from crm_bridge.reminders.step import run_reminders
from crm_bridge.store.locks import held
from crm_bridge.sync.overdue import mark_overdue
from crm_bridge.sync.pull import pull
from crm_bridge.sync.push import push
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.workdays import WorkingCalendar

__all__ = ["STEPS", "run_sync"]

log = logging.getLogger(__name__)

STEPS = ("push", "pull", "overdue", "reminders")


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
) -> SyncReport:
    """Run the chosen steps under the sync lock; raises LockBusy if another run holds it.

    ``base_dir`` is the config file's folder (for a relative ``reminders.template_dir``).
    """
    started = time.perf_counter()
    now = now or datetime.now(UTC)
    report = SyncReport()
    policy = policy or config.sync.retry
    calendar = WorkingCalendar(config.council.timezone, config.calendar.bank_holidays,
                               config.calendar.closure_days)
    with held(engine, "sync", now):
        try:
            if "push" in only:
                push(engine, connector, config, policy, now, report, dry_run=dry_run)
            if "pull" in only and not dry_run:
                pull(engine, connector, mapping, now, report)
        except AuthError as exc:
            report.aborted = f"the CRM refused the bridge's credentials: {exc}"
            log.error("sync stopped: %s", report.aborted)
        if "overdue" in only and not dry_run:
            report.overdue = mark_overdue(engine, calendar.local_date(now), now)
        if "reminders" in only:
            run_reminders(engine, config, calendar, now, report, dry_run=dry_run,
                          base_dir=base_dir)
    report.duration = time.perf_counter() - started
    return report
