"""`sync`: push the outbox, pull CRM updates, mark overdue, send reminders. Run it from cron.

Exit 0: all done (or another run holds the lock); 1: some items failed or wait for a
retry, or the CRM refused our credentials; 2: configuration or usage error, the CRM
connection's settings included (nothing at its URL: the run stops, failing no enquiry); 3: the
state store cannot be reached or written. With --json every outcome prints one JSON object.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.store.locks import LockBusy
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.runner import STEPS, run_in_progress, run_sync

__all__ = ["sync"]


@click.command()
@click.option("--only", type=click.Choice(STEPS), multiple=True,
              help="Run only this step (repeatable): push, pull, overdue, reminders.")
@click.option("--dry-run", is_flag=True, help="Show what would be sent; send and change nothing.")
@json_option
@click.pass_obj
def sync(ctx: CliContext, only: tuple[str, ...], dry_run: bool, as_json: bool) -> None:
    """Send new enquiries and notes to the CRM and bring back its changes."""
    bridge = ctx.bridge()
    try:
        # SQLite: the whole run is another process's. Looked at first, so an overlapping
        # cron run says so before it opens the CRM connector.
        holder = run_in_progress(bridge.engine, datetime.now(UTC))
        if holder is not None:
            raise holder
        report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                          only=only or STEPS, dry_run=dry_run,
                          base_dir=bridge.loaded.base_dir)
    except LockBusy as busy:
        if as_json:
            emit_json(SyncReport(skipped={step: str(busy) for step in only or STEPS}).as_dict())
        else:
            click.echo(str(busy))
        return
    if as_json:
        emit_json(report.as_dict())
    else:
        for line in report.problems:
            click.echo(line, err=not dry_run)
        click.echo(report.summary())
        if report.aborted:
            click.echo(f"error: sync stopped: {report.aborted}", err=True)
    if report.misconfigured:
        raise click.exceptions.Exit(2)
    if not report.ok:
        raise click.exceptions.Exit(1)
