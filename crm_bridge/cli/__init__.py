"""`crm-bridge`: the command line. One module per command group; this one wires them up.

Exit codes: 0 done; 1 some items failed (sync), the CRM refused the credentials, or an
unexpected error; 2 configuration or usage error (the message names the file, line and
field); 3 the state store cannot be reached, opened or written. See cli/failure.py.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

import click

from crm_bridge import __version__
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.failure import fail, remember_words, wants_json

__all__ = ["cli", "main"]


class _BridgeGroup(click.Group):
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


@click.group(cls=_BridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
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
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    ctx.obj = CliContext(config)
    ctx.call_on_close(ctx.obj.close)


def _register() -> None:
    from crm_bridge.cli import (
        connector,
        db,
        demo,
        enquiry,
        extend,
        notify,
        officer,
        serve,
        setup,
        sync,
        users,
    )

    cli.add_command(setup.init)
    cli.add_command(setup.check_config)
    cli.add_command(enquiry.enquiry)
    enquiry.enquiry.add_command(extend.extend)
    cli.add_command(sync.sync)
    cli.add_command(db.db)
    cli.add_command(demo.demo)
    cli.add_command(officer.officer)
    cli.add_command(serve.serve)
    cli.add_command(users.user)
    cli.add_command(notify.notify)
    cli.add_command(connector.connector)


_register()


def main() -> None:
    cli(prog_name="crm-bridge")
