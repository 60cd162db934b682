"""`crm-bridge`: the command line. One module per command group; this one wires them up.

Exit codes: 0 done; 1 some items failed (sync), the CRM refused the credentials, or an
unexpected error; 2 configuration or usage error (the message names the file, line and
field); 3 the state store cannot be reached, opened or written. See cli/failure.py.
"""

from __future__ import annotations

import json
import os
from typing import Any

import click

from crm_bridge import __version__
from crm_bridge.cli.failure import fail, remember_words, wants_json
from crm_bridge.cli.lazy import LazyCommand, LazyGroup
from crm_bridge.logsafe import install_logging

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
                           subcommands=("crm_bridge.cli.extend:extend",
                                        "crm_bridge.cli.links:link",
                                        "crm_bridge.cli.links:unlink",
                                        "crm_bridge.cli.duplicates:duplicates",
                                        "crm_bridge.cli.search:search")),
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
    "member": LazyCommand(
        "crm_bridge.cli.member:member",
        "Members leaving office."),
    "purge": LazyCommand(
        "crm_bridge.cli.purge:purge",
        "Remove the personal data of enquiries closed longer ago than their retention period."),
    "report": LazyCommand(
        "crm_bridge.cli.report:report",
        "Enquiry volumes and response performance for a period, grouped as asked."),
    "sar": LazyCommand(
        "crm_bridge.cli.sar:sar",
        "A constituent's rights: a copy of their data, erasure, correction."),
    "sync": LazyCommand(
        "crm_bridge.cli.sync:sync",
        "Send new enquiries and notes to the CRM and bring back its changes."),
    "audit": LazyCommand(
        "crm_bridge.cli.audit:audit",
        "Show the audit log, oldest first: by enquiry, by user or between two days."),
    "user": LazyCommand(
        "crm_bridge.cli.users:user",
        "Portal accounts: members, members' services staff and administrators."),
}
"""Every command, imported only when it is used, so --version and --help start at once."""


class _BridgeGroup(LazyGroup):
    """Turns every error into one-line messages and exit codes, never tracebacks (and into
    a JSON object too under ``--json``)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        remember_words(ctx, args)
        return super().parse_args(ctx, args)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort):
            raise
        except click.ClickException as exc:  # usage: click prints it and exits 2
            if wants_json(ctx):
                click.echo(json.dumps({"ok": False, "error": exc.format_message(),
                                       "kind": "usage", "exit_code": exc.exit_code}, indent=2))
            raise
        except Exception as exc:  # the one place every error is reported
            ctx.exit(fail(ctx, exc))


@click.group(cls=_BridgeGroup, lazy=_COMMANDS,
             context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", envvar="CRM_BRIDGE_CONFIG",
              help="Council config file [env CRM_BRIDGE_CONFIG; default ./config.yaml].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="crm-bridge")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """crm-bridge: elected members' enquiries, routed to the council's CRM and followed up.

    \b
    Exit codes:
      0  done
      1  some items failed (sync), the CRM refused the credentials, or an unexpected error
      2  configuration or usage error (the message names the file, line or flag)
      3  the state store cannot be reached, opened or written
    With --json, a failed command prints {"ok": false, "error": ...} on stdout as well.
    """
    from crm_bridge.cli.context import CliContext

    install_logging(verbose)
    ctx.obj = CliContext(config)
    ctx.call_on_close(ctx.obj.close)


def main() -> None:
    # Everything the bridge writes (the store, the local CRM's database, mail files, the
    # config `init` makes) can hold personal data or secrets: owner-only, whatever the
    # umask the shell or cron gave us.
    os.umask(0o077)
    cli(prog_name="crm-bridge")
