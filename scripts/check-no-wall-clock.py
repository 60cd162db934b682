#!/usr/bin/env python3
"""Fail on wall-clock assertions in the tests: a correct program must pass on a slow machine.

A test asserts behaviour, never how long something took: speed belongs in bench/. This
scans Python files with ``ast`` and reports, as ``file:line``, every assertion (``assert``
or unittest's ``assertLess``-style calls) holding an ordering comparison (<, <=, >, >=)
of a value that comes from the clock:

* a clock call: ``time.monotonic()``, ``time.time()``, ``time.perf_counter()`` and their
  ``_ns`` forms, ``time.process_time()``, ``timeit.default_timer()``, or the same names
  imported bare;
* a name assigned, in the same function, from an expression holding a clock call or
  another such name (``started = time.monotonic()``, ``deadline = started + 30``);
* an elapsed-style name or key: ``seconds``, ``runtime``, or one with ``elapsed``,
  ``duration``, ``took`` or ``deadline`` as a word (``assert result["seconds"] < 30``,
  ``assert report.duration < 5``, ``assert elapsed_ms <= 200``).

A test that needs a deadline to avoid hanging uses pytest-timeout, or a wait that raises
with a message once a generous limit passes, not an ``assert`` on the clock.

Usage: check-no-wall-clock.py [PATH ...]  (folders are searched for *.py; default: tests)
Exit 0 when none is found, 1 (one line per finding) otherwise.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterator
from pathlib import Path

_CLOCKS = {"monotonic", "monotonic_ns", "perf_counter", "perf_counter_ns", "time", "time_ns",
           "process_time", "process_time_ns", "default_timer"}
_CLOCK_MODULES = {"time", "timeit"}
_BARE_CLOCKS = _CLOCKS - {"time"}  # a bare time() is too often something else
_ELAPSED = re.compile(r"^(seconds|runtime|wall_?time)$"
                      r"|(^|_)(elapsed|duration|took|deadline)(_|$)", re.IGNORECASE)
_ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)
_UNITTEST = {"assertLess", "assertLessEqual", "assertGreater", "assertGreaterEqual"}


def _is_clock_call(node: ast.AST) -> bool:
    if not isinstance(node, ast.Call):
        return False
    func = node.func
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        return func.value.id in _CLOCK_MODULES and func.attr in _CLOCKS
    return isinstance(func, ast.Name) and func.id in _BARE_CLOCKS


def _label(node: ast.AST) -> str | None:
    """The name a value goes by: a variable, an attribute, or a subscript's string key."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if (isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant)
            and isinstance(node.slice.value, str)):
        return node.slice.value
    return None


def _timed(node: ast.AST, clock_names: set[str]) -> bool:
    """Whether ``node`` holds a clock call, a name taken from the clock, or an elapsed name."""
    for part in ast.walk(node):
        if _is_clock_call(part):
            return True
        label = _label(part)
        if label is not None and (label in clock_names or _ELAPSED.search(label)):
            return True
    return False


def _targets(node: ast.AST) -> list[ast.AST]:
    if isinstance(node, ast.Assign):
        return list(node.targets)
    if isinstance(node, ast.AnnAssign | ast.AugAssign | ast.NamedExpr):
        return [node.target]
    return []


def _clock_names(scope: ast.AST) -> set[str]:
    """Names assigned in ``scope`` from the clock, directly or through each other."""
    names: set[str] = set()
    assignments = [(node, value) for node in ast.walk(scope)
                   if (value := getattr(node, "value", None)) is not None and _targets(node)]
    grew = True
    while grew:
        grew = False
        for node, value in assignments:
            if not any(_is_clock_call(p) or _label(p) in names for p in ast.walk(value)):
                continue
            for target in _targets(node):
                label = _label(target)
                if label is not None and label not in names:
                    names.add(label)
                    grew = True
    return names


def _scopes(tree: ast.Module) -> Iterator[ast.AST]:
    """The module's top-level code and each outermost function (nested ones included)."""
    yield ast.Module(body=[s for s in tree.body
                           if not isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef
                                             | ast.ClassDef)], type_ignores=[])
    stack: list[ast.AST] = [s for s in tree.body if isinstance(s, ast.ClassDef)]
    stack += [s for s in tree.body if isinstance(s, ast.FunctionDef | ast.AsyncFunctionDef)]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ClassDef):
            stack += [s for s in node.body if isinstance(s, ast.FunctionDef
                                                        | ast.AsyncFunctionDef | ast.ClassDef)]
        else:
            yield node


def _compares_time(node: ast.AST, clock_names: set[str]) -> bool:
    for part in ast.walk(node):
        if (isinstance(part, ast.Compare) and any(isinstance(op, _ORDERING) for op in part.ops)
                and any(_timed(side, clock_names) for side in [part.left, *part.comparators])):
            return True
    return False


def findings(source: str, filename: str = "<source>") -> list[tuple[int, str]]:
    """Each wall-clock assertion in ``source``: its line and its text."""
    tree = ast.parse(source, filename)
    found: dict[int, str] = {}
    for scope in _scopes(tree):
        clock_names = _clock_names(scope)
        for node in ast.walk(scope):
            if isinstance(node, ast.Assert) and _compares_time(node.test, clock_names):
                found[node.lineno] = ast.unparse(node.test)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in _UNITTEST
                  and any(_timed(arg, clock_names) for arg in node.args[:2])):
                found[node.lineno] = ast.unparse(node)
    return sorted(found.items())


def _files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if ".venv" not in p.parts)
        else:
            yield path


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or [Path("tests")]
    missing = [str(p) for p in paths if not p.exists()]
    if missing:
        print(f"check-no-wall-clock: no such file or folder: {', '.join(missing)}",
              file=sys.stderr)
        return 2
    bad = 0
    for path in _files(paths):
        for line, text in findings(path.read_text(encoding="utf-8"), str(path)):
            print(f"{path}:{line}: wall-clock assertion: {text}")
            bad += 1
    if bad:
        print(f"check-no-wall-clock: {bad} wall-clock assertion(s). Tests assert what the "
              "program did, not how long it took (speed goes in bench/); a guard against "
              "hanging is pytest-timeout or a generous wait that fails with a message.",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
