"""`crm-bridge`: the command line. One module per command group; this one wires them up.

Exit codes: 0 done; 1 some items failed (sync) or an unexpected error;
2 configuration or usage error (the message names the file, line and field).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import click

from crm_bridge import __version__
from crm_bridge.cli.lazy import LazyCommand, LazyGroup
from crm_bridge.errors import ConfigError, CrmBridgeError, InputError, NotFoundError

__all__ = ["cli", "main"]


_COMMANDS = {
    "check-config": LazyCommand(
        "crm_bridge.cli.setup:check_config",
        "Validate the config, its cross-references, the connector settings and mapping."),
    "connector": LazyCommand(
        "crm_bridge.cli.connector:connector",
        "Check the CRM connection; create the queues and fields the mapping needs."),
    "db": LazyCommand("crm_bridge.cli.db:db", "The state store's schema."),
    "demo": LazyCommand(
        "crm_bridge.cli.demo:demo",
        "Make a demo council and simulate its members' enquiries up to today."),
    "enquiry": LazyCommand("crm_bridge.cli.enquiry:enquiry", "Log, list and show enquiries.",
                           subcommands=("crm_bridge.cli.extend:extend",)),
    "init": LazyCommand(
        "crm_bridge.cli.setup:init",
        "Create DIRECTORY with a working config.yaml, mappings/ and an empty store."),
    "notify": LazyCommand(
        "crm_bridge.cli.notify:notify",
        "Outgoing e-mail: send a test message, list what was sent."),
    "officer": LazyCommand(
        "crm_bridge.cli.officer:officer",
        "Work cases in the embedded case store (the `local` connector) as a service officer."),
    "serve": LazyCommand(
        "crm_bridge.cli.serve:serve",
        "Serve the member portal (needs CRM_BRIDGE_SESSION_SECRET in the environment)."),
    "sync": LazyCommand(
        "crm_bridge.cli.sync:sync",
        "Send new enquiries and notes to the CRM and bring back its changes."),
    "user": LazyCommand(
        "crm_bridge.cli.users:user",
        "Portal accounts: members, members' services staff and administrators."),
}
"""Every command, imported only when it is used, so --version and --help start at once."""


class _BridgeGroup(LazyGroup):
    """Turns the bridge's own errors into one-line messages and exit codes, never tracebacks."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (ConfigError, InputError, NotFoundError) as exc:
            for line in str(exc).splitlines() or [exc.__class__.__name__]:
                click.echo(f"error: {line}", err=True)
            ctx.exit(2)
        except CrmBridgeError as exc:
            click.echo(f"error: {exc}", err=True)
            ctx.exit(1)


@click.group(cls=_BridgeGroup, lazy=_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", envvar="CRM_BRIDGE_CONFIG",
              help="Council config file [env CRM_BRIDGE_CONFIG; default ./config.yaml].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="crm-bridge")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """crm-bridge: elected members' enquiries, routed to the council's CRM and followed up."""
    from crm_bridge.cli.context import CliContext

    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    ctx.obj = CliContext(config)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    cli(prog_name="crm-bridge")
