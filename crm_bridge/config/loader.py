"""Load and check a council's configuration file; every problem is reported with file and line."""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from crm_bridge.config.checks import cross_reference_issues
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.config.yamlsource import LocatedData, read_yaml
from crm_bridge.errors import ConfigError, ConfigIssue
from crm_bridge.models import ID_PATTERN
from crm_bridge.suggest import did_you_mean

__all__ = ["DEFERRED", "LoadedConfig", "load_config", "validation_issues"]

DEFERRED = ("connector",)
"""Sections whose environment variables only the commands that talk to the CRM need: a
missing one is refused when the connector is opened (``missing_variables``), so `enquiry add`,
the portal and reports run without the CRM's token."""


@dataclass(frozen=True)
class LoadedConfig:
    """A validated configuration and where it came from (relative paths resolve beside it)."""

    config: CouncilConfig
    path: Path
    source: LocatedData

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    def resolve(self, relative: str) -> Path:
        candidate = Path(relative).expanduser()
        return candidate if candidate.is_absolute() else (self.base_dir / candidate).resolve()

    def missing_variables(self, section: str = "connector") -> list[ConfigIssue]:
        """Each unset environment variable ``section`` refers to, as a located issue."""
        return [self.source.issue(path, (
            f"environment variable {name} is not set: export {name}=... for the commands "
            f"that talk to the CRM (sync, connector check), or write ${{{name}:-default}}"))
            for path, name in sorted(self.source.missing.items(), key=lambda item: str(item[0]))
            if path[:1] == (section,)]

    @property
    def store_url(self) -> str:
        """The store URL with a relative SQLite file taken beside the config file."""
        url = self.config.store.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and url != "sqlite:///:memory:":
            return prefix + str(self.resolve(url[len(prefix) :]))
        return url


def load_config(path: str | Path, environ: dict[str, str] | None = None) -> LoadedConfig:
    """Read, interpolate, validate and cross-check ``path``; ConfigError lists every issue."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{file}: no such file: pass --config PATH, set CRM_BRIDGE_CONFIG, "
            "or create one with 'crm-bridge init DIR'"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read the file: {exc}") from None
    source = read_yaml(text, str(file), environ, deferred=DEFERRED)
    if not isinstance(source.data, dict):
        raise ConfigError(
            issues=[ConfigIssue(str(file), 1, "", "the file must be a mapping of sections "
                                "(council:, members:, wards:, services:, categories:)")]
        )
    try:
        config = CouncilConfig.model_validate(source.data)
    except ValidationError as exc:
        raise ConfigError(issues=validation_issues(exc, source, CouncilConfig)) from None
    issues = cross_reference_issues(config, source)
    if issues:
        raise ConfigError(issues=issues)
    return LoadedConfig(config=config, path=file.resolve(), source=source)


def validation_issues(
    exc: ValidationError, source: LocatedData, model: type[BaseModel], prefix: tuple[Any, ...] = ()
) -> list[ConfigIssue]:
    """Turn pydantic's errors into located, one-line issues with a hint at the fix."""
    issues = []
    for error in exc.errors(include_url=False):
        loc = (*prefix, *error["loc"])
        if loc and loc[-1] == "[key]":
            # pydantic's marker for a bad mapping key: the key's own path already names it.
            loc = loc[:-1]
        relative = tuple(error["loc"])
        if error["type"] == "extra_forbidden":
            allowed = _fields_at(model, relative[:-1])
            message = f"unknown key '{relative[-1]}'{did_you_mean(str(relative[-1]), allowed)}"
        elif error["type"] == "missing":
            message = "is required but missing: add it"
        elif error["type"] in _PLAIN_WORDS:
            message = _PLAIN_WORDS[error["type"]](error.get("ctx") or {})
            shown = error.get("input")
            if isinstance(shown, str | int | float | bool) and len(str(shown)) < 60:
                message += f" (got {shown!r})"
        else:
            message = error["msg"]
            if error["type"] not in ("value_error", "assertion_error") and "input" in error:
                shown = error["input"]
                if isinstance(shown, str | int | float | bool) and len(str(shown)) < 60:
                    message += f" (got {shown!r})"
            if message.startswith("Value error, "):
                message = message[len("Value error, ") :]
        issues.append(source.issue(loc, message))
    return issues


def _pattern_words(ctx: dict[str, Any]) -> str:
    if ctx.get("pattern") == ID_PATTERN:
        return "must be an id of lower-case letters, digits, '-' or '_', like 'street-lighting'"
    return f"must match the pattern {ctx.get('pattern')}"


_PLAIN_WORDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "string_pattern_mismatch": _pattern_words,
    "enum": lambda ctx: f"must be one of {ctx.get('expected', 'the listed values')}",
    "literal_error": lambda ctx: f"must be one of {ctx.get('expected', 'the listed values')}",
    "bool_parsing": lambda _ctx: "must be true or false",
    "int_parsing": lambda _ctx: "must be a whole number",
    "string_type": lambda _ctx: "must be text",
    "list_type": lambda _ctx: "must be a list (lines starting with '- ')",
    "dict_type": lambda _ctx: "must be a mapping (key: value lines)",
    "model_type": lambda _ctx: "must be a mapping (key: value lines)",
}


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names of the model found by walking ``loc`` down from ``model``."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(part, str) and isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(part)
            if field is None:
                return []
            current = field.annotation
        else:
            args = typing.get_args(current)
            current = args[-1] if args else current
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _unwrap(annotation: Any) -> Any:
    """``Model | None`` → ``Model``."""
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is typing.Union:
        non_none = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(non_none) == 1:
            return non_none[0]
    return annotation
