"""The app factory uvicorn calls in each worker process (`crm-bridge serve --workers N`).

Each worker opens its own Bridge (engine and connection pool) from $CRM_BRIDGE_CONFIG;
an engine must never be shared across a fork.
"""

from __future__ import annotations

import os
import socket
from asyncio import base_events
from typing import Any

from fastapi import FastAPI

from crm_bridge.app import Bridge, config_path
from crm_bridge.logsafe import install_logging
from crm_bridge.portal.factory import create_app, session_secret

__all__ = ["app"]


def app() -> FastAPI:
    install_logging(0)  # a fresh process: the same filtered stderr handler as the CLI's
    _no_delay_on_shared_sockets()
    bridge = Bridge.open(config_path(None))
    return create_app(bridge, session_secret(bridge, dict(os.environ)))


def _no_delay_on_shared_sockets() -> None:
    """Turn Nagle's algorithm off on this worker's connections, as a single process has it.

    With --workers uvicorn binds the listening socket itself as ``socket(AF_INET,
    SOCK_STREAM)``, whose ``proto`` is 0, and asyncio sets TCP_NODELAY only on sockets whose
    ``proto`` is IPPROTO_TCP. So every response of more than one segment waited for the
    client's delayed ACK: about 40 ms a page (one client: dashboard 10 ms with one worker,
    52 ms with two; static files 1 ms and 44 ms). Asyncio looks the helper up on its module
    at each accepted connection, so widening it here (in the worker only) is enough.
    """
    original = base_events._set_nodelay  # type: ignore[attr-defined]
    if getattr(original, "crm_bridge", False):
        return

    def set_nodelay(sock: Any) -> None:
        if (sock.family in (socket.AF_INET, socket.AF_INET6) and sock.type == socket.SOCK_STREAM
                and sock.proto == 0):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return
        original(sock)

    set_nodelay.crm_bridge = True  # type: ignore[attr-defined]
    base_events._set_nodelay = set_nodelay  # type: ignore[attr-defined]
