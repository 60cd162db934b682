"""Find connectors by name through the ``crm_bridge.connectors`` entry-point group.

A council can ship its own adapter in its own package by declaring an entry
point; nothing here scans folders or imports a connector before it is asked for.
"""

from __future__ import annotations

from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from connectors.base import BaseMapping, Connector, ConnectorContext
from crm_bridge.config.loader import LoadedConfig, validation_issues
from crm_bridge.config.yamlsource import read_yaml
from crm_bridge.errors import ConfigError, ConfigIssue
from crm_bridge.extras import missing_extra
from crm_bridge.logsafe import register_secrets
from crm_bridge.resources import shipped_mapping
from crm_bridge.suggest import unknown

__all__ = ["available", "configured_class", "connector_class", "load_mapping", "open_connector"]

GROUP = "crm_bridge.connectors"


def available() -> list[str]:
    return sorted(ep.name for ep in entry_points(group=GROUP))


def connector_class(name: str) -> Any:
    """The registered class for ``name``; a typo gets 'did you mean'."""
    for ep in entry_points(group=GROUP, name=name):
        try:
            return ep.load()
        except ModuleNotFoundError as exc:  # an extra not installed, e.g. zeep for lagan
            raise missing_extra(f"the {name} connector", exc,
                                ep.dist.name if ep.dist else "crm-bridge", prefer=name) from None
    raise ConfigError(unknown("connector", name, available()))


def configured_class(loaded: LoadedConfig) -> Any:
    """The class for the config's ``connector.type``.

    An unknown name is reported at its file and line, like every other config problem,
    so the admin is pointed at the line to fix rather than left to search for it.
    """
    try:
        return connector_class(loaded.config.connector.type)
    except ConfigError as exc:
        raise ConfigError(issues=[_issue_for(loaded, ("connector", "type"), str(exc))]) from None


def _issue_for(loaded: LoadedConfig, path: tuple[str | int, ...], message: str) -> ConfigIssue:
    return loaded.source.issue(path, message)


def connector_settings(loaded: LoadedConfig, cls: Any) -> BaseModel:
    """Validate ``connector:``'s own keys against the connector's settings model."""
    settings_model: type[BaseModel] = cls.Settings
    try:
        return settings_model.model_validate(loaded.config.connector.options())
    except ValidationError as exc:
        raise ConfigError(
            issues=validation_issues(exc, loaded.source, settings_model, prefix=("connector",))
        ) from None


def mapping_path(loaded: LoadedConfig) -> Path:
    """The mapping in use: the configured file, else ``mappings/<type>.yaml`` beside the
    config, else the one shipped with the bridge."""
    connector = loaded.config.connector
    if connector.mapping:
        return loaded.resolve(connector.mapping)
    beside = loaded.base_dir / "mappings" / f"{connector.type}.yaml"
    return beside if beside.exists() else shipped_mapping(connector.type)


def load_mapping(loaded: LoadedConfig, cls: Any) -> BaseMapping:
    path = mapping_path(loaded)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise ConfigError(
            issues=[_issue_for(loaded, ("connector", "mapping"),
                               f"mapping file {path} cannot be read: create it or fix the path")]
        ) from None
    source = read_yaml(text, str(path))
    mapping_model: type[BaseMapping] = cls.Mapping
    try:
        return mapping_model.model_validate(source.data)
    except ValidationError as exc:
        raise ConfigError(issues=validation_issues(exc, source, mapping_model)) from None


def open_connector(loaded: LoadedConfig) -> Connector:
    """Build the configured connector; every config problem is a ConfigError."""
    cls = configured_class(loaded)
    settings = connector_settings(loaded, cls)
    register_secrets(settings)  # its passwords and tokens never reach a log line
    mapping = load_mapping(loaded, cls)
    context = ConnectorContext(loaded.base_dir, mapping, loaded.config.council.name)
    connector: Connector = cls(settings, context)
    return connector


