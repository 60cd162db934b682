"""`db upgrade` and `db status`: the state store's schema."""

from __future__ import annotations

import click

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.errors import ConfigError
from crm_bridge.store.migrate import current_revision, head_revision, missing_store, upgrade

__all__ = ["db"]


@click.group()
def db() -> None:
    """The state store's schema."""


@db.command("upgrade")
@click.pass_obj
def db_upgrade(ctx: CliContext) -> None:
    """Create or migrate the store's tables to this version's schema."""
    bridge = ctx.bridge(check_schema=False)
    missing = missing_store(bridge.engine, creating=True)
    if missing is not None:
        raise ConfigError(missing)
    before, after = upgrade(bridge.engine)
    if before == after:
        click.echo(f"store already at revision {after}")
    else:
        click.echo(f"store upgraded from {before or 'empty'} to revision {after}")


@db.command("status")
@json_option
@click.pass_obj
def db_status(ctx: CliContext, as_json: bool) -> None:
    """Show the store's revision beside the one this version needs."""
    bridge = ctx.bridge(check_schema=False)
    missing = missing_store(bridge.engine, creating=True)
    if missing is not None:  # its folder is missing too: `db upgrade` could not create it
        raise ConfigError(missing)
    head = head_revision()
    if missing_store(bridge.engine, creating=False) is not None:  # never create it here
        if as_json:
            emit_json({"exists": False, "current": None, "head": head, "up_to_date": False})
        else:
            click.echo(f"no store yet at {bridge.engine.url.database}, code needs {head}: "
                       "run 'crm-bridge db upgrade' to create it")
        return
    current = current_revision(bridge.engine)
    if as_json:
        emit_json({"exists": True, "current": current, "head": head,
                   "up_to_date": current == head})
    else:
        state = "up to date" if current == head else "run 'crm-bridge db upgrade'"
        click.echo(f"store at {current or 'empty'}, code needs {head}: {state}")
