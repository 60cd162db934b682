"""`serve`: run the member portal on this server (uvicorn).

Listens on 127.0.0.1 by default: put the council's HTTPS proxy in front of it (and list
the proxy in portal.trusted_proxies so its X-Forwarded-Proto is believed).
"""

from __future__ import annotations

import logging
import os

import click

from crm_bridge.cli.context import CliContext

__all__ = ["serve"]

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on (0.0.0.0 for every interface).")
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--workers", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes (PostgreSQL store, or SQLite on one machine).")
@click.pass_obj
def serve(ctx: CliContext, host: str, port: int, workers: int) -> None:
    """Serve the member portal (needs CRM_BRIDGE_SESSION_SECRET in the environment)."""
    import uvicorn

    from crm_bridge.portal import create_app, session_secret

    bridge = ctx.bridge()
    secret = session_secret(bridge, dict(os.environ))
    app = create_app(bridge, secret)  # checks assets and secret before listening
    click.echo(f"portal for {bridge.config.council.name} on http://{host}:{port}/ "
               "(Ctrl-C to stop)", err=True)
    # log_config=None: uvicorn's own lines (an error's traceback among them) go through the
    # CLI's handler and its redacting filter rather than handlers of uvicorn's own.
    if workers == 1:
        uvicorn.run(app, host=host, port=port, proxy_headers=False, server_header=False,
                    access_log=False, log_level="warning", log_config=None)
        return
    os.environ["CRM_BRIDGE_CONFIG"] = str(ctx.config_path.resolve())
    uvicorn.run("crm_bridge.portal.workers:app", host=host, port=port, workers=workers,
                factory=True, proxy_headers=False, server_header=False, access_log=False,
                log_level="warning", log_config=None)
