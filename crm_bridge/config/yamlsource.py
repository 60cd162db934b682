"""Safe YAML reading that remembers the line of every value, so errors can point at it.

``${VAR}`` and ``${VAR:-default}`` in string values are replaced from the
environment; a missing variable is an error naming the line and field, so a
secret never has to sit in the file.

Aliases (``*name``) are allowed, but what they expand to is bounded: a few lines
of nested aliases ("billion laughs") would otherwise build billions of values.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from crm_bridge.errors import ConfigError, ConfigIssue

__all__ = ["LocatedData", "format_path", "read_yaml"]

_ENV_REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")

Path = tuple[str | int, ...]

# Far above any council's file (the example, 20 members and 17 categories, is ~900
# values and 6 deep), far below what would take noticeable time or memory.
MAX_VALUES = 100_000
MAX_DEPTH = 64


class _TooBig(Exception):
    """Raised out of the walk when the document expands past a bound."""

    def __init__(self, issue: ConfigIssue) -> None:
        self.issue = issue


def format_path(path: Path) -> str:
    """``("categories", 3, "service")`` → ``categories[3].service``."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


@dataclass
class LocatedData:
    """Plain data from a YAML file plus the line each path starts on."""

    file: str
    data: Any
    lines: dict[Path, int] = field(default_factory=dict)
    # Top-level sections whose missing ``${VAR}`` is recorded in ``missing`` (path → the
    # variable), not refused: settings only some commands need (the connector's secrets).
    deferred: tuple[str, ...] = ()
    missing: dict[Path, str] = field(default_factory=dict)

    def line_of(self, path: Path) -> int | None:
        """The line of ``path``, or of its nearest ancestor present in the file."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(path[:end])
            if line is not None:
                return line
        return None

    def issue(self, path: Path, message: str) -> ConfigIssue:
        return ConfigIssue(self.file, self.line_of(path), format_path(path), message)


def read_yaml(text: str, file: str, environ: dict[str, str] | None = None,
              deferred: tuple[str, ...] = ()) -> LocatedData:
    """Parse ``text`` safely (no tags beyond plain YAML), interpolate the environment.

    A variable missing under a ``deferred`` top-level key reads as empty and is recorded in
    ``missing`` for the commands that need it to refuse; anywhere else it is an issue."""
    env = os.environ if environ is None else environ
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or "not valid YAML"
        start = exc.context_mark
        if exc.context and start is not None and line is not None and start.line + 1 < line:
            # An unclosed quote or bracket is only noticed lines later (at the end of the
            # file for a quote): name the line where it was opened, which is what to fix.
            problem += f" ({exc.context} on line {start.line + 1})"
        raise ConfigError(
            issues=[ConfigIssue(file, line, "", f"not valid YAML: {problem}")]
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(issues=[ConfigIssue(file, None, "", f"not valid YAML: {exc}")]) from None
    except RecursionError:
        raise ConfigError(issues=[ConfigIssue(
            file, None, "", f"nested more than {MAX_DEPTH} levels deep: this file holds "
            "plain settings; flatten it")]) from None
    finally:
        loader.dispose()
    located = LocatedData(file, None, deferred=deferred)
    if node is None:
        raise ConfigError(issues=[ConfigIssue(file, 1, "", "the file is empty")])
    issues: list[ConfigIssue] = []
    try:
        located.data = _convert(node, (), loader, located, env, issues, [0])
    except _TooBig as too_big:
        raise ConfigError(issues=[too_big.issue]) from None
    if issues:
        raise ConfigError(issues=issues)
    return located


def _convert(
    node: yaml.Node,
    path: Path,
    loader: yaml.SafeLoader,
    located: LocatedData,
    env: Any,
    issues: list[ConfigIssue],
    count: list[int],
) -> Any:
    located.lines[path] = node.start_mark.line + 1
    count[0] += 1
    if count[0] > MAX_VALUES:
        raise _TooBig(located.issue(path[:1], (
            f"expands to more than {MAX_VALUES} values: YAML aliases (*name) repeated inside "
            "each other do that from a few lines; write the values out instead")))
    if len(path) > MAX_DEPTH:
        raise _TooBig(located.issue(path[:1], (
            f"is nested more than {MAX_DEPTH} levels deep: this file holds plain settings; "
            "flatten it")))
    refused = _refused_tag(node)
    if refused:
        issues.append(located.issue(path, refused))
        return None
    if isinstance(node, yaml.MappingNode):
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = _scalar(key_node, path, loader, located, issues)
            if not isinstance(key, str):
                key = str(key)
            child = (*path, key)
            if key in result:
                located.lines[child] = key_node.start_mark.line + 1
                issues.append(located.issue(child, f"'{key}' appears twice: keep one"))
                continue
            result[key] = _convert(value_node, child, loader, located, env, issues, count)
            located.lines[child] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(item, (*path, index), loader, located, env, issues, count)
            for index, item in enumerate(node.value)
        ]
    value = _scalar(node, path, loader, located, issues)
    if isinstance(value, str) and "${" in value:
        value = _interpolate(value, path, located, env, issues)
    return value


_PLAIN_COLLECTIONS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


def _refused_tag(node: yaml.Node) -> str | None:
    """Why ``node``'s explicit tag is refused, or None for plain YAML.

    Mappings and sequences are built here rather than by the constructor, so
    without this check ``!!python/object:...`` on a mapping would be silently
    dropped instead of refused; scalars may use only the safe loader's tags.
    """
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        allowed = node.tag in _PLAIN_COLLECTIONS
    else:
        allowed = node.tag in yaml.SafeLoader.yaml_constructors
    if allowed:
        return None
    shown = node.tag.replace("tag:yaml.org,2002:", "!!")
    return f"the tag {shown} is not allowed: this file holds plain settings only; remove the tag"


def _scalar(
    node: yaml.Node, path: Path, loader: yaml.SafeLoader, located: LocatedData,
    issues: list[ConfigIssue],
) -> Any:
    """Construct a scalar (or a key); a value YAML cannot build becomes a located issue.

    PyYAML raises a bare ValueError for an impossible date such as 2026-02-30,
    which would otherwise escape as a traceback with no line number.
    """
    refused = _refused_tag(node)
    if refused is None and not isinstance(node, yaml.ScalarNode):
        refused = "a key must be plain text, not a list or mapping"
    if refused:
        issues.append(ConfigIssue(located.file, node.start_mark.line + 1,
                                  format_path(path), refused))
        return None
    try:
        return loader.construct_object(node, deep=True)
    except (yaml.YAMLError, ValueError) as exc:
        problem = getattr(exc, "problem", None) or str(exc)
        if node.tag == "tag:yaml.org,2002:timestamp":
            message = f"'{node.value}' is not a real date ({problem}): write YYYY-MM-DD"
        else:
            message = f"cannot read '{node.value}': {problem}"
        issues.append(ConfigIssue(located.file, node.start_mark.line + 1,
                                  format_path(path), message))
        return None


def _interpolate(
    value: str, path: Path, located: LocatedData, env: Any, issues: list[ConfigIssue]
) -> str:
    def replace(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return str(env[name])
        if default is not None:
            return default
        if path and path[0] in located.deferred:
            located.missing.setdefault(path, name)
            return ""
        issues.append(
            located.issue(
                path,
                f"environment variable {name} is not set: export {name}=... before running, "
                f"or write ${{{name}:-default}}",
            )
        )
        return ""

    return _ENV_REFERENCE.sub(replace, value)
