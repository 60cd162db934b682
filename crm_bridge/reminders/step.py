"""The reminders step of `crm-bridge sync`: decide what is due today, then send what is pending.

It runs after push, pull and overdue, with the sync's ``now`` (so a test, or a council
catching up, can move the clock) and under the sync lock (so one process decides and
sends at a time; the unique dedupe key would stop a second one anyway). Mail trouble
never fails the sync: messages wait in the store, and the report says why.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.reminders.decision import Decision, Problems
from crm_bridge.reminders.digest import decide_digest
from crm_bridge.reminders.folder import FolderMailer
from crm_bridge.reminders.render import Renderer
from crm_bridge.reminders.responses import decide_member_digests, decide_response_notices
from crm_bridge.reminders.send import send_pending
from crm_bridge.reminders.service import decide_service_messages
from crm_bridge.reminders.smtp import Mailer, SmtpMailer
from crm_bridge.sync.report import SyncReport
from crm_bridge.workdays import WorkingCalendar

__all__ = ["mailer_for", "run_reminders"]

log = logging.getLogger(__name__)

_DECIDERS = (decide_service_messages, decide_response_notices, decide_member_digests,
             decide_digest)


def mailer_for(config: CouncilConfig, base_dir: Path | None) -> Mailer:
    """The transport ``smtp.transport`` names: the SMTP server, or a folder of .eml files."""
    if config.smtp.transport == "folder":
        folder = Path(config.smtp.folder)
        if not folder.is_absolute() and base_dir is not None:
            folder = base_dir / folder
        return FolderMailer(folder)
    ca_file = None
    if config.smtp.ca_file is not None:
        ca_file = Path(config.smtp.ca_file).expanduser()
        if not ca_file.is_absolute() and base_dir is not None:
            ca_file = base_dir / ca_file
    return SmtpMailer(config.smtp, ca_file)


def run_reminders(engine: Engine, config: CouncilConfig, calendar: WorkingCalendar,
                  now: datetime, report: SyncReport, *, dry_run: bool = False,
                  base_dir: Path | None = None, mailer: Mailer | None = None,
                  keep_going: Callable[[], bool] | None = None) -> None:
    """Decide and send; on a dry run, list what would be sent and record nothing.

    ``mailer`` is the transport (SMTP from ``config.smtp`` unless given); ``base_dir`` is
    the config file's folder, for a relative ``reminders.template_dir``; ``keep_going`` is
    asked between messages (the sync run's deadline).
    """
    if not config.reminders.enabled:
        return
    renderer = Renderer.for_config(config, base_dir)
    problems = Problems()
    decided: list[Decision] = []
    for decide in _DECIDERS:
        decided += decide(engine, config, calendar, renderer, now, problems, dry_run)
    if dry_run:
        report.problems += [decision.describe() for decision in decided] + problems.lines
        return
    transport = mailer if mailer is not None else mailer_for(config, base_dir)
    try:
        result = send_pending(engine, transport, config.smtp.from_address, now,
                              config.reminders.max_per_run, keep_going)
    finally:
        transport.close()
    report.reminders += result.sent
    report.mail_failed += result.failed
    report.mail_waiting = result.waiting
    if result.stopped:
        problems.add(f"mail: {result.stopped}; {result.waiting} message(s) wait for the next "
                     "sync")
    if result.failed:
        problems.add(f"mail: {result.failed} message(s) refused for good: "
                     "see `crm-bridge notify list --state failed`")
    report.problems += problems.lines
    log.info("reminders: %d decided, %d sent, %d waiting, %d failed, %d cancelled",
             len(decided), result.sent, result.waiting, result.failed, result.cancelled)
