"""Why a CRM could not be reached, in a few words an admin can act on.

``requests`` wraps the socket's own error several layers deep (urllib3's MaxRetryError,
its NewConnectionError, the OSError); the words a log line or a sync report needs are at
the bottom of that chain. Shared by the connectors that speak HTTP through ``requests``.
"""

from __future__ import annotations

import http.client
from typing import Any

__all__ = ["why_unreachable"]


def why_unreachable(exc: BaseException) -> str:
    """What a requests connection error was, in a few words, from its chain of causes."""
    queue: list[Any] = [exc]
    seen: set[int] = set()
    while queue:
        item = queue.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, ConnectionResetError):
            return "connection reset"
        if isinstance(item, http.client.RemoteDisconnected | http.client.IncompleteRead):
            return "connection dropped before the answer"
        queue += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return "unreachable"
