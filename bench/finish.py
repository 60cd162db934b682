"""How a benchmark ends: its problems (exit 1, no figures), or its figures as JSON or lines."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["finish"]


def finish(result: Mapping[str, Any], problems: Sequence[str], as_json: bool, width: int,
           most: int | None = None) -> int:
    """Print ``problems`` (the first ``most``) and return 1, else the figures and return 0:
    a figure from work that was not done is never printed."""
    if problems:
        for problem in problems[:most]:
            print(f"PROBLEM: {problem}")
        return 1
    if as_json:
        print(json.dumps(result, indent=2))
    else:
        for key, value in result.items():
            print(f"{key:{width}} {value}")
    return 0
