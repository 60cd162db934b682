"""A sync run's deadline: past it, each step stops between items and leaves the rest.

Cron starts `crm-bridge sync` every few minutes; a run that outlasts the interval holds the
lock the next run needs (SQLite) or overlaps it (PostgreSQL). ``sync.deadline_seconds``
bounds a run: push stops between outbox rows, pull between batches and cursor marks,
reminders between messages, and a CRM call is not retried once the deadline has passed.
What was done is kept (each item is committed as it is done); the next run carries on.
A CRM call already under way is not cut short: the connector's own timeouts bound it, so
they must be well below the deadline (`check-config` says when they are not).

The clock is injected (``time.monotonic`` by default) so tests can move time themselves.
"""

from __future__ import annotations

import time
from collections.abc import Callable

__all__ = ["Deadline"]


class Deadline:
    """``seconds`` from when it was made, on ``clock``; None: no deadline."""

    def __init__(self, seconds: float | None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._started = clock()
        self.reached = False

    def passed(self) -> bool:
        """True once the deadline has passed (and from then on)."""
        if (not self.reached and self.seconds is not None
                and self._clock() - self._started >= self.seconds):
            self.reached = True
        return self.reached

    def keep_going(self) -> bool:
        """``not passed()``: for the steps' loops."""
        return not self.passed()
