"""The bridge as one object: config, store, router and (on demand) the connector.

The CLI, the portal and the demo all open a ``Bridge``, so they share one way
of finding the config, checking the store's schema and building the connector.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine

from connectors.base import BaseMapping, Connector
from crm_bridge.config.loader import LoadedConfig, load_config
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import ConfigIssue
from crm_bridge.logsafe import register_secrets
from crm_bridge.registry import (
    check_connector_settings,
    configured_class,
    connector_settings,
    load_mapping,
    open_connector,
)
from crm_bridge.routing import Router
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import ensure_current

__all__ = ["Bridge", "config_path"]

ENV_CONFIG = "CRM_BRIDGE_CONFIG"


def config_path(given: str | None) -> Path:
    """--config, else $CRM_BRIDGE_CONFIG, else ./config.yaml."""
    return Path(given or os.environ.get(ENV_CONFIG) or "config.yaml")


@dataclass
class Bridge:
    loaded: LoadedConfig
    engine: Engine
    router: Router
    _connector: Connector | None = field(default=None, repr=False)
    _mapping: BaseMapping | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str | Path, check_schema: bool = True) -> Bridge:
        loaded = load_config(path)
        register_secrets(loaded.config)  # redacted from every log line from now on
        engine = make_engine(loaded.store_url)
        if check_schema:
            try:
                ensure_current(engine)
            except Exception:
                # Close the connection the check opened: a long-lived caller (the portal,
                # a test) must not be left with an open database connection to collect.
                engine.dispose()
                raise
        return cls(loaded, engine, Router(loaded.config))

    @property
    def config(self) -> CouncilConfig:
        return self.loaded.config

    def check_connector(self) -> BaseMapping:
        """Validate the connector's settings and mapping without connecting; environment
        variables the settings name need not be set (``unset_connector_variables``)."""
        cls = configured_class(self.loaded)
        missing = check_connector_settings(self.loaded, cls)
        mapping = load_mapping(self.loaded, cls)
        agree = getattr(cls, "check_settings", None)  # settings the mapping needs (optional)
        if agree is not None and not missing:
            agree(connector_settings(self.loaded, cls), mapping)
        return mapping

    def unset_connector_variables(self) -> list[ConfigIssue]:
        """The environment variables the connector's settings name that are not set: the
        commands that talk to the CRM refuse to start without them."""
        return self.loaded.missing_variables("connector")

    def connector(self) -> Connector:
        if self._connector is None:
            self._connector = open_connector(self.loaded)
        return self._connector

    def mapping(self) -> BaseMapping:
        if self._mapping is None:
            self._mapping = load_mapping(self.loaded, configured_class(self.loaded))
        return self._mapping

    def close(self) -> None:
        if self._connector is not None:
            self._connector.close()
            self._connector = None
        self.engine.dispose()
