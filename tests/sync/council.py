"""Council folders for the sync tests: the example config pointed at the CRM stand-in.

A plain module (not conftest), imported as ``sync.council``, so every test module here can
share it without conftest name clashes.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from support.crm_standin import CrmStandin

__all__ = ["FAST_RETRY", "TOKEN_VARIABLE", "configure", "rest_connector", "use_rest"]

TOKEN_VARIABLE = "CRM_TOKEN"
FAST_RETRY: dict[str, Any] = {"attempts": 5, "initial_wait": 0.01, "max_wait": 0.05,
                              "max_total": 5, "requeue_after": 0.2, "requeue_max": 1,
                              "stop_after": 8}
"""Retries that take milliseconds, for tests that fail many calls on purpose."""


def _merge(into: dict[str, Any], changes: Mapping[str, Any]) -> None:
    for key, value in changes.items():
        if isinstance(value, Mapping) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def configure(config: Path, replace: Mapping[str, Any] | None = None,
              **merge: Any) -> None:
    """Edit config.yaml: sections in ``replace`` are swapped whole, ``merge`` merged in."""
    data = yaml.safe_load(config.read_text(encoding="utf-8"))
    data.update(replace or {})
    _merge(data, merge)
    config.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def rest_connector(crm: CrmStandin, timeout: float = 0.5, **settings: Any) -> dict[str, Any]:
    return {"type": "rest", "url": crm.url, "token": f"${{{TOKEN_VARIABLE}}}",
            "timeout_seconds": timeout, "connect_timeout_seconds": timeout,
            "page_retry_wait": 0.01, **settings}


def use_rest(config: Path, crm: CrmStandin, timeout: float = 0.5,
             retry: Mapping[str, Any] | None = None,
             connector: Mapping[str, Any] | None = None, **merge: Any) -> None:
    """Point the council at the stand-in (its token read from $CRM_TOKEN: set it), with
    ``retry`` as sync.retry; reminders off unless ``merge`` turns them on."""
    merge.setdefault("reminders", {"enabled": False})
    configure(config, replace={"connector": rest_connector(crm, timeout, **(connector or {}))},
              sync={"retry": dict(retry or FAST_RETRY)}, **merge)
