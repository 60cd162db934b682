"""`crm-bridge`: the command line. One module per command group; this one wires them up.

Exit codes: 0 done; 1 some items failed (sync) or an unexpected error;
2 configuration or usage error (the message names the file, line and field).
"""

from __future__ import annotations

import os
from typing import Any

import click

from crm_bridge import __version__
from crm_bridge.cli.context import CliContext
from crm_bridge.errors import ConfigError, CrmBridgeError, InputError, NotFoundError
from crm_bridge.logsafe import install_logging

__all__ = ["cli", "main"]


class _BridgeGroup(click.Group):
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


@click.group(cls=_BridgeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config", metavar="PATH", envvar="CRM_BRIDGE_CONFIG",
              help="Council config file [env CRM_BRIDGE_CONFIG; default ./config.yaml].")
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="crm-bridge")
@click.pass_context
def cli(ctx: click.Context, config: str | None, verbose: int) -> None:
    """crm-bridge: elected members' enquiries, routed to the council's CRM and followed up."""
    install_logging(verbose)
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
    # Everything the bridge writes (the store, the local CRM's database, mail files, the
    # config `init` makes) can hold personal data or secrets: owner-only, whatever the
    # umask the shell or cron gave us.
    os.umask(0o077)
    cli(prog_name="crm-bridge")
