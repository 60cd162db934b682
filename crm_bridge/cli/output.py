"""Printing for people (aligned tables) and for scripts (`--json`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any
from uuid import UUID

import click

from crm_bridge.cli.failure import remember_json

__all__ = ["emit_json", "json_option", "table"]

json_option = click.option("--json", "as_json", is_flag=True, is_eager=True,
                           callback=remember_json,
                           help="Print JSON for scripts (an error too, as {\"ok\": false, ...}).")


def _default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    raise TypeError(f"cannot print {type(value).__name__} as JSON")


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_default, indent=2, ensure_ascii=False))


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    cells = [[str(h) for h in headers]] + [["" if v is None else str(v) for v in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
                   .rstrip())
        if index == 0:
            click.echo("  ".join("-" * width for width in widths))
