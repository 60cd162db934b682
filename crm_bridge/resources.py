"""Files shipped with the bridge: the example config and the default mappings.

In a wheel they sit in ``crm_bridge/_data``; in a source checkout they are the
repository's own ``config.example.yaml`` and ``mappings/``.
"""

from __future__ import annotations

from pathlib import Path

from crm_bridge.errors import ConfigError

__all__ = ["data_dir", "example_config", "shipped_mapping", "shipped_mappings"]

_PACKAGE = Path(__file__).resolve().parent


def data_dir() -> Path:
    packaged = _PACKAGE / "_data"
    return packaged if packaged.is_dir() else _PACKAGE.parent


def example_config() -> Path:
    return data_dir() / "config.example.yaml"


def shipped_mappings() -> Path:
    return data_dir() / "mappings"


def shipped_mapping(connector: str) -> Path:
    path = shipped_mappings() / f"{connector}.yaml"
    if not path.exists():
        raise ConfigError(
            f"no mapping for connector '{connector}': write mappings/{connector}.yaml beside "
            "the config file or set connector.mapping to its path"
        )
    return path
