"""`member retire | list`: members leaving office, and who has left.

The handover rules (same office, same ward, the constituent's consent) are explained in
crm_bridge/privacy/members.py and docs/data-protection.md.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table

__all__ = ["member"]


@click.group()
def member() -> None:
    """Members leaving office."""


@member.command("retire")
@click.argument("member_id", metavar="MEMBER")
@click.option("--handover-to", "handover_to", required=True, metavar="MEMBER",
              help="The member who takes over the open enquiries that may pass to them.")
@click.option("--consented", multiple=True, metavar="REF",
              help="This enquiry's constituent has agreed to the handover (repeatable).")
@click.option("--reason", default="left office", show_default=True,
              help="Recorded with the departure.")
@click.option("--dry-run", is_flag=True, help="Show what would happen; change nothing.")
@json_option
@click.pass_obj
def retire(ctx: CliContext, member_id: str, handover_to: str, consented: tuple[str, ...],
           reason: str, dry_run: bool, as_json: bool) -> None:
    """Record that MEMBER left office: hand over open enquiries, archive the rest."""
    from crm_bridge.privacy import cli_actor
    from crm_bridge.privacy.members import retire as run_retire

    bridge = ctx.bridge()
    report = run_retire(bridge.engine, bridge.config, member_id, handover_to, consented,
                        reason, cli_actor(), datetime.now(UTC), dry_run=dry_run)
    if as_json:
        emit_json(report.as_dict())
        return
    verb = "would hand" if dry_run else "handed"
    click.echo(f"{member_id}: {verb} {len(report.handed_over)} open enquiries to "
               f"{handover_to}; {report.archived} archived; "
               f"{len(report.accounts_disabled)} portal accounts disabled.")
    for reference, why in report.held:
        click.echo(f"  {reference} stays: {why}")


@member.command("list")
@json_option
@click.pass_obj
def list_departed(ctx: CliContext, as_json: bool) -> None:
    """Members who have left office, when, and who took over."""
    from sqlalchemy import select

    from crm_bridge.store.tables import member_departures

    bridge = ctx.bridge()
    with bridge.engine.connect() as conn:
        rows = conn.execute(select(member_departures)
                            .order_by(member_departures.c.left_at)).all()
    found = [{"member": r.member_id, "left_at": r.left_at, "handover_to": r.handover_to,
              "reason": r.reason, "recorded_by": r.recorded_by} for r in rows]
    if as_json:
        emit_json(found)
        return
    table(["member", "left office", "handed over to", "reason"],
          [(f["member"], f"{r.left_at:%Y-%m-%d}", f["handover_to"], f["reason"])
           for f, r in zip(found, rows, strict=True)])
