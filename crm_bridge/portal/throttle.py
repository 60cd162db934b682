"""Sign-in throttling: a sliding window of recent failures per username and per client address.

Kept in memory, so it treats unknown and real usernames alike (no hint which exist) and
costs no database write per guess. The per-account lock-out in the ``users`` table
(``failed_logins`` / ``locked_until``) backs it up across restarts and portal instances.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["Throttle"]


class Throttle:
    """At most ``limit`` failures per key in ``window`` seconds; then refused until one ages out."""

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and times[0] <= now - self.window:
            times.popleft()
        return times

    def blocked(self, *keys: str) -> float:
        """Seconds to wait before ``keys`` may try again (0: go ahead)."""
        now = self._clock()
        wait = 0.0
        with self._lock:
            for key in keys:
                times = self._recent(key, now)
                if len(times) >= self.limit:
                    wait = max(wait, times[0] + self.window - now)
        return wait

    def failed(self, *keys: str) -> None:
        now = self._clock()
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)
            if len(self._failures) > 10_000:  # forget idle keys: bounded memory under a flood
                for stale in [k for k, v in self._failures.items() if not v]:
                    del self._failures[stale]

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)
