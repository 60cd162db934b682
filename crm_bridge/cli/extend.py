"""`enquiry extend REF --days N --reason TEXT`: a member-agreed extension of the response date.

Added to the `enquiry` group by ``crm_bridge.cli`` when that group is loaded; the work is
``crm_bridge.reminders.extension.extend_deadline``, which the portal calls too.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime

import click

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.reminders.extension import MAX_DAYS, extend_deadline

__all__ = ["extend"]


@click.command("extend")
@click.argument("reference")
@click.option("--days", type=click.IntRange(1, MAX_DAYS), required=True,
              help="Working days to add to the response date.")
@click.option("--reason", required=True, help="Why the member agreed to more time (recorded).")
@click.option("--by", "actor", help="Who is recording it [default: your login name].")
@json_option
@click.pass_obj
def extend(ctx: CliContext, reference: str, days: int, reason: str, actor: str | None,
           as_json: bool) -> None:
    """Give the service more time, as agreed with the member; recorded in the history."""
    bridge = ctx.bridge()
    done = extend_deadline(bridge.engine, bridge.router, reference, days, reason,
                           actor or getpass.getuser(), now=datetime.now(UTC))
    if as_json:
        emit_json({"reference": done.reference, "days": done.days,
                   "total_days": done.total_days, "previous_target": done.previous_target,
                   "target_date": done.target_date, "warning_date": done.warning_date,
                   "reason": done.reason})
        return
    click.echo(f"{done.reference}: response now due {done.target_date:%a %d %b %Y} "
               f"(was {done.previous_target:%a %d %b %Y}); extended by {done.total_days} "
               "working days in all. The CRM case gets a note on the next sync.")
