"""Find connectors by name through the ``crm_bridge.connectors`` entry-point group.

A council can ship its own adapter in its own package by declaring an entry
point; nothing here scans folders or imports a connector before it is asked for.
"""

from __future__ import annotations

import copy
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

__all__ = ["available", "check_connector_settings", "configured_class", "connector_class",
           "load_mapping", "open_connector"]

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
    """Validate ``connector:``'s own keys against the connector's settings model, with every
    environment variable they name set (ConfigError naming each one that is not)."""
    missing = loaded.missing_variables("connector")
    if missing:
        raise ConfigError(issues=missing)
    return _validated(loaded, cls.Settings)


def check_connector_settings(loaded: LoadedConfig, cls: Any) -> list[ConfigIssue]:
    """Validate the settings' shape without the environment variables they need (a value
    left empty by one is not judged); the unset variables are returned, not raised, for
    `check-config` to warn about."""
    missing = loaded.missing_variables("connector")
    unset = {issue.path for issue in missing}
    options = copy.deepcopy(loaded.config.connector.options())
    for path, name in loaded.source.missing.items():
        if path[:1] == ("connector",) and len(path) > 1:
            _put(options, path[1:], f"${{{name}}}")  # stands in for the value, for its shape
    try:
        _validated(loaded, cls.Settings, options)
    except ConfigError as exc:
        others = [issue for issue in exc.issues if issue.path not in unset]
        if others:
            raise ConfigError(issues=others) from None
    return missing


def _put(data: Any, path: tuple[str | int, ...], value: str) -> None:
    for part in path[:-1]:
        data = data[part]
    data[path[-1]] = value


def _validated(loaded: LoadedConfig, settings_model: type[BaseModel],
               options: dict[str, Any] | None = None) -> BaseModel:
    try:
        return settings_model.model_validate(
            loaded.config.connector.options() if options is None else options)
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


