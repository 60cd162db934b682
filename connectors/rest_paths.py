"""Where a value is in a CRM's JSON answer: the ``rest`` mapping's small path language.

A path is read left to right from the answer's body (``""`` is the body itself):

    data.case.id                  keys, separated by dots
    items[0]  items[-1]  items.0  a list's first (last) element
    CustomFields[name=Ward]       the list's elements whose ``name`` is ``Ward`` (a list:
                                  add ``[0]`` for the first); on an object, the object
                                  itself when it matches, else nothing
    '@odata.nextLink'             a key holding dots or brackets, in single quotes
    Content|base64                the value, base64-decoded to text (``|trim`` strips it)
    ObjectId>ticket               the value, handed to the mapping's lookup ``ticket`` (one
                                  more call; see ``lookups``), whose result is read instead
    {incidentid}:{versionnumber}  a template: each ``{path}`` read and joined as text

A path is parsed when the mapping is loaded, so a typo is refused by ``check-config``
with the field named, not found by the first enquiry.
"""

from __future__ import annotations

import base64
import binascii
import re
import string
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["MISSING", "Path", "PathError", "body_key", "parse"]

MISSING: Any = object()
TRANSFORMS = ("base64", "trim")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*$")
_INDEX = re.compile(r"-?\d+$")


class PathError(ValueError):
    """A path that cannot be read (said in words a person can fix)."""


@dataclass(frozen=True)
class _Key:
    name: str


@dataclass(frozen=True)
class _Index:
    at: int


@dataclass(frozen=True)
class _Match:
    key: str
    value: str


_Step = _Key | _Index | _Match


@dataclass(frozen=True)
class _Plain:
    steps: tuple[_Step, ...]
    transforms: tuple[str, ...]
    lookups: tuple[str, ...]


@dataclass(frozen=True)
class Path:
    """A parsed path (or template of paths); ``lookups`` names every lookup it uses."""

    text: str
    parts: tuple[_Plain, ...]
    template: tuple[tuple[str, int | None], ...] | None  # literal text, index into parts

    @property
    def lookups(self) -> tuple[str, ...]:
        return tuple(name for part in self.parts for name in part.lookups)

    def read(self, data: Any, lookup: Callable[[str, Any], Any] | None = None) -> Any:
        """The value at this path in ``data``; MISSING when absent. ``lookup(name, value)``
        carries out a named lookup (the answer of one more call, read by its own path)."""
        if self.template is None:
            return _read(self.parts[0], data, lookup)
        out: list[str] = []
        for literal, index in self.template:
            out.append(literal)
            if index is not None:
                found = _read(self.parts[index], data, lookup)
                if found is MISSING or found is None or isinstance(found, dict | list):
                    return MISSING
                out.append(str(found))
        return "".join(out)


def parse(text: str) -> Path:
    """``text`` as a Path, or PathError saying what is wrong with it."""
    if "{" in text or "}" in text:
        try:
            pieces = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise PathError(f"'{text}' is not a template of {{paths}}: {exc}") from None
        parts: list[_Plain] = []
        template: list[tuple[str, int | None]] = []
        for literal, field, spec, conversion in pieces:
            if field is None:
                template.append((literal, None))
                continue
            if spec or conversion:
                raise PathError(f"'{text}': write {{path}} without ':' or '!' inside it")
            if not field:
                raise PathError(f"'{text}' has an empty {{}}: put a path inside it")
            parts.append(_plain(field))
            template.append((literal, len(parts) - 1))
        return Path(text, tuple(parts), tuple(template))
    return Path(text, (_plain(text),), None)


def _plain(text: str) -> _Plain:
    chain = _split_outside_quotes(text, ">")
    head, *lookups = chain
    for name in lookups:
        if not _NAME.match(name.strip()):
            raise PathError(f"'{text}': '>{name}' must name a lookup (letters, digits, _ or -)")
    head, *transforms = _split_outside_quotes(head, "|")
    for name in transforms:
        if name.strip() not in TRANSFORMS:
            raise PathError(f"'{text}': unknown transform '|{name}' (choose from: "
                            f"{', '.join(TRANSFORMS)})")
    return _Plain(_steps(head.strip(), text), tuple(t.strip() for t in transforms),
                  tuple(n.strip() for n in lookups))


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    quoted, depth = False, 0
    for char in text:
        if char == "'" and depth == 0:
            quoted = not quoted
        elif not quoted and char == "[":
            depth += 1
        elif not quoted and char == "]":
            depth = max(0, depth - 1)
        if char == sep and not quoted and depth == 0:
            parts.append("".join(current))
            current = []
        else:
            current.append(char)
    parts.append("".join(current))
    return parts


def _steps(text: str, whole: str) -> tuple[_Step, ...]:
    steps: list[_Step] = []
    i, n = 0, len(text)
    expect_key = True
    while i < n:
        char = text[i]
        if char == "'":
            end = text.find("'", i + 1)
            if end < 0:
                raise PathError(f"'{whole}': a quote is opened and never closed")
            steps.append(_Key(text[i + 1:end]))
            i = end + 1
            expect_key = False
        elif char == "[":
            end = text.find("]", i + 1)
            if end < 0:
                raise PathError(f"'{whole}': a '[' is opened and never closed")
            inner = text[i + 1:end]
            if "[" in inner:
                raise PathError(f"'{whole}': a '[' inside '[{inner}]': close each [ with ]")
            if _INDEX.match(inner):
                steps.append(_Index(int(inner)))
            elif "=" in inner and inner.split("=", 1)[0].strip():
                key, value = inner.split("=", 1)
                steps.append(_Match(key.strip(), value.strip().strip("'")))
            else:
                raise PathError(f"'{whole}': '[{inner}]' must be a number ([0], [-1]) or a "
                                "match ([name=value])")
            i = end + 1
            expect_key = False
        elif char == ".":
            if expect_key:
                raise PathError(f"'{whole}': an empty step (two dots, or a dot at the start)")
            i += 1
            expect_key = True
            if i == n:
                raise PathError(f"'{whole}' ends with a dot")
        else:
            end = i
            while end < n and text[end] not in ".['":
                end += 1
            word = text[i:end].strip()
            if not expect_key or not word:
                raise PathError(f"'{whole}': put a dot between '{text[:i]}' and '{word}'")
            steps.append(_Key(word))
            i = end
            expect_key = False
    return tuple(steps)


def _read(part: _Plain, data: Any, lookup: Callable[[str, Any], Any] | None) -> Any:
    for step in part.steps:
        data = _step(step, data)
        if data is MISSING:
            return MISSING
    for name in part.transforms:
        data = _transform(name, data)
        if data is MISSING:
            return MISSING
    for name in part.lookups:
        if data is None or isinstance(data, dict | list):
            return MISSING
        if lookup is None:
            raise PathError(f"lookup '{name}' cannot be used here")
        data = lookup(name, data)
        if data is MISSING:
            return MISSING
    return data


def _step(step: _Step, data: Any) -> Any:
    if isinstance(step, _Key):
        if isinstance(data, dict) and step.name in data:
            return data[step.name]
        if isinstance(data, list) and step.name.isdigit() and int(step.name) < len(data):
            return data[int(step.name)]
        return MISSING
    if isinstance(step, _Index):
        if isinstance(data, list) and -len(data) <= step.at < len(data):
            return data[step.at]
        return MISSING
    if isinstance(data, list):
        return [item for item in data if _matches(item, step)]
    if isinstance(data, dict):
        return data if _matches(data, step) else MISSING
    return MISSING


def _matches(item: Any, match: _Match) -> bool:
    if not isinstance(item, dict) or match.key not in item:
        return False
    value = item[match.key]
    return not isinstance(value, dict | list) and str(value) == match.value


def _transform(name: str, value: Any) -> Any:
    if not isinstance(value, str):
        return MISSING if value is None else value
    if name == "trim":
        return value.strip()
    try:
        return base64.b64decode(value, validate=False).decode("utf-8", errors="replace")
    except (binascii.Error, ValueError):
        return MISSING


def body_key(text: str) -> Sequence[str]:
    """A request body's field name as the keys of nested objects ("a.b" → a: {b: …});
    a quoted part keeps its dots ("'x@odata.bind'")."""
    steps = _steps(text, text)
    if not steps or not all(isinstance(step, _Key) for step in steps):
        raise PathError(f"'{text}' must be key names separated by dots")
    return [step.name for step in steps if isinstance(step, _Key)]
