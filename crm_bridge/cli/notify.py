"""`notify test ADDRESS | list`: check that the bridge's e-mail gets out, and see what it sent.

`notify test` talks to the mail server straight away (no store, no sync), so an admin
setting up ``smtp:`` sees the server's own answer: exit 0 when it took the message, 1 with
the reason when it did not.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click
from pydantic import TypeAdapter, ValidationError
from sqlalchemy import select

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.errors import InputError
from crm_bridge.models import Email
from crm_bridge.reminders.render import Renderer
from crm_bridge.reminders.step import mailer_for
from crm_bridge.store.tables import enquiries, notifications

__all__ = ["notify"]

STATES = ("pending", "sent", "failed", "cancelled", "held", "digested")


@click.group()
def notify() -> None:
    """Outgoing e-mail: send a test message, list what was sent."""


@notify.command("test")
@click.argument("address")
@click.pass_obj
def test(ctx: CliContext, address: str) -> None:
    """Send one test message to ADDRESS through the configured mail server."""
    try:
        address = TypeAdapter(Email).validate_python(address)
    except ValidationError:
        raise InputError("ADDRESS", f"'{address}' is not an e-mail address") from None
    bridge = ctx.bridge(check_schema=False)
    config = bridge.config
    now = datetime.now(UTC)
    smtp = config.smtp
    server = (f"the folder {bridge.loaded.resolve(smtp.folder)}" if smtp.transport == "folder"
              else f"{smtp.host}:{smtp.port} ({smtp.security})")
    renderer = Renderer.for_config(config, bridge.loaded.base_dir)
    rendered = renderer.render("test", {"address": address, "server": server, "sent_at": now})
    message = renderer.message(rendered, kind="test", key=f"test:{address}:{now.isoformat()}",
                               to=[address], now=now)
    mailer = mailer_for(config, bridge.loaded.base_dir)
    try:
        refused = mailer.send(smtp.from_address, [address], message.encode("ascii"))
    finally:
        mailer.close()
    if refused:  # one recipient: refusing it raises, so this is only belt and braces
        raise InputError("ADDRESS", f"the mail server refused {address}")
    click.echo(f"sent a test message to {address} through {server}, from {smtp.from_address}; "
               "check it arrived (and was not filed as junk)")


@notify.command("list")
@click.option("--state", type=click.Choice(STATES), help="Only messages in this state.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@json_option
@click.pass_obj
def list_command(ctx: CliContext, state: str | None, limit: int, as_json: bool) -> None:
    """List e-mails the bridge decided to send, newest first."""
    n = notifications.c
    query = (select(n.id, n.decided_at, n.kind, n.state, n.attempts, n.recipients, n.subject,
                    n.sent_at, n.last_error, enquiries.c.reference)
             .select_from(notifications.outerjoin(enquiries, enquiries.c.id == n.enquiry_id))
             .order_by(n.id.desc()).limit(limit))
    if state:
        query = query.where(n.state == state)
    with ctx.bridge().engine.connect() as conn:
        rows = conn.execute(query).all()
    if as_json:
        emit_json([dict(row._mapping) for row in rows])
        return
    if not rows:
        click.echo("no e-mails match")
        return
    table(["decided", "kind", "state", "tries", "reference", "to", "note"],
          [[f"{row.decided_at:%Y-%m-%d %H:%M}", row.kind, row.state, row.attempts,
            row.reference or "", row.recipients, row.last_error or ""] for row in rows])
