"""The app factory uvicorn calls in each worker process (`crm-bridge serve --workers N`).

Each worker opens its own Bridge (engine and connection pool) from $CRM_BRIDGE_CONFIG;
an engine must never be shared across a fork.
"""

from __future__ import annotations

import os

from fastapi import FastAPI

from crm_bridge.app import Bridge, config_path
from crm_bridge.portal.factory import create_app, session_secret

__all__ = ["app"]


def app() -> FastAPI:
    bridge = Bridge.open(config_path(None))
    return create_app(bridge, session_secret(bridge, dict(os.environ)))
