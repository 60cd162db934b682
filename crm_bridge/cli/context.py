"""What every command shares: the config path and, once opened, the bridge."""

from __future__ import annotations

from crm_bridge.app import Bridge, config_path

__all__ = ["CliContext"]


class CliContext:
    def __init__(self, config: str | None) -> None:
        self.config_path = config_path(config)
        self._bridge: Bridge | None = None

    def bridge(self, check_schema: bool = True) -> Bridge:
        if self._bridge is None:
            self._bridge = Bridge.open(self.config_path, check_schema=check_schema)
        return self._bridge

    def close(self) -> None:
        if self._bridge is not None:
            self._bridge.close()
