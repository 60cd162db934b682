"""How a command that fails says so: one line on stderr, an exit code by what to do about it,
and, under ``--json``, a JSON object on stdout too, so cron monitoring always has one to read.

Exit codes (also in `crm-bridge --help` and the README's cron section):

    0  done
    1  some items failed (sync), the CRM refused the credentials, or an unexpected error
    2  configuration or usage error: the message names the file, line or flag, and the fix
    3  the state store cannot be reached, opened or written; nothing was changed

An unexpected error (a bug) still gets one line, naming its type and where it happened;
``-vv`` logs the traceback's frames at DEBUG, without the exception's message, which may
quote personal data (a constituent's name in a failed statement's parameters).
"""

from __future__ import annotations

import json
import logging
import traceback
from pathlib import Path
from typing import Any

import click

from crm_bridge.errors import (
    ConfigError,
    ConnectorError,
    CrmBridgeError,
    InputError,
    NotFoundError,
    StoreUnavailable,
)

__all__ = ["EXIT_CODES", "fail", "remember_json", "remember_words", "wants_json"]

log = logging.getLogger(__name__)

EXIT_CODES = {0: "done", 1: "some items failed (sync), the CRM refused the credentials, or "
              "an unexpected error", 2: "configuration or usage error",
              3: "the state store cannot be reached, opened or written"}

_JSON = "crm_bridge.json"
_WORDS = "crm_bridge.words"


def remember_words(ctx: click.Context, args: list[str]) -> None:
    """Keep the command line's words, for an error raised while they are still being read."""
    ctx.meta[_WORDS] = list(args)


def remember_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    """``--json``'s callback: note on the root context that errors must be JSON too."""
    if value:
        ctx.find_root().meta[_JSON] = True
    return value


def wants_json(ctx: click.Context) -> bool:
    """True once a command's ``--json`` was read, or (for an error while the command line
    itself was still being read) when ``--json`` is among its words."""
    root = ctx.find_root()
    if root.meta.get(_JSON):
        return True
    return "--json" in root.meta.get(_WORDS, ())


def fail(ctx: click.Context, exc: Exception) -> int:
    """Report ``exc`` and return the exit code for it."""
    if isinstance(exc, ConfigError | InputError | NotFoundError):
        code, kind = 2, ("config" if isinstance(exc, ConfigError) else
                         "input" if isinstance(exc, InputError) else "not_found")
        lines = str(exc).splitlines() or [exc.__class__.__name__]
    elif isinstance(exc, StoreUnavailable):
        code, kind, lines = 3, "store_unavailable", [str(exc)]
    elif isinstance(exc, CrmBridgeError):
        kind = "connector" if isinstance(exc, ConnectorError) else "error"
        code, lines = 1, [str(exc)]
    else:
        code, kind, lines = 1, "unexpected", [_unexpected(exc)]
    for line in lines:
        click.echo(f"error: {line}", err=True)
    if wants_json(ctx):
        payload: dict[str, Any] = {"ok": False, "error": lines[0], "kind": kind,
                                   "exit_code": code}
        if len(lines) > 1:
            payload["errors"] = lines
        click.echo(json.dumps(payload, indent=2, ensure_ascii=False))
    return code


def _unexpected(exc: Exception) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if _is_ours(f.filename)]
    where = f" at {_short(ours[-1].filename)}:{ours[-1].lineno}" if ours else ""
    chain = type(exc).__name__
    cause = exc.__cause__ or exc.__context__
    if cause is not None:
        chain += f" ({type(cause).__module__}.{type(cause).__name__})"
    log.debug("unexpected %s; the traceback, messages left out as they may hold personal "
              "data:\n%s", chain, "".join(traceback.format_list(frames)).rstrip())
    return (f"unexpected {chain}{where}: the command stopped; run it again with -vv for "
            "where it failed, and report that output")


def _is_ours(filename: str) -> bool:
    parts = Path(filename).parts
    return "crm_bridge" in parts or "connectors" in parts


def _short(filename: str) -> str:
    parts = Path(filename).parts
    for top in ("crm_bridge", "connectors"):
        if top in parts:
            return "/".join(parts[len(parts) - 1 - parts[::-1].index(top):])
    return Path(filename).name
