"""`purge`: remove personal data past its retention period (``retention:``). Run it from cron.

Exit 0: done, nothing due, or another purge holds the lock; 2: configuration or usage
error. What it removes, and what it keeps: crm_bridge/privacy/purge.py.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option

__all__ = ["purge"]


@click.command()
@click.option("--dry-run", is_flag=True, help="Count what would be removed; change nothing.")
@json_option
@click.pass_obj
def purge(ctx: CliContext, dry_run: bool, as_json: bool) -> None:
    """Remove the personal data of enquiries closed longer ago than their retention period."""
    from crm_bridge.privacy import cli_actor
    from crm_bridge.privacy.purge import purge as run_purge
    from crm_bridge.store.locks import LockBusy

    bridge = ctx.bridge()
    try:
        report = run_purge(bridge.engine, bridge.loaded, bridge.connector,
                           datetime.now(UTC), cli_actor(), dry_run=dry_run)
    except LockBusy as busy:
        message = (f"another purge is running (pid {busy.pid} on {busy.host}, "
                   f"since {busy.since.isoformat(timespec='seconds')})")
        if as_json:
            emit_json({"skipped": message})
        else:
            click.echo(message)
        return
    if as_json:
        emit_json(report.as_dict())
        return
    summary = report.as_dict()
    verb = "would remove" if dry_run else "removed"
    click.echo(f"purge {verb} the personal data of {summary['enquiries']} enquiries "
               f"({summary['history_texts']} history texts, {summary['outbox_rows']} outbox "
               f"rows, {summary['notifications']} e-mails, {summary['attachments']} photos, "
               f"{summary['crm_links']} CRM file links, {summary['mail_files']} mail files, "
               f"{summary['media_files']} published photos); "
               f"{summary['audit_rows']} audit rows cleared, {summary['sessions']} expired "
               "sessions.")
    for case in report.crm.anonymised:
        click.echo(f"  {case.reference}: CRM case {case.crm_ref} anonymised")
    for case, why in report.crm.to_action:
        click.echo(f"  {case.reference}: CRM case {case.crm_ref}: {why}")
