"""The CRM stand-in's idempotency keys and held writes (``crm_standin`` serves them).

A create or note sent with the key header is carried out once per key: a repeat answers
the first result, or "busy" (409) while the first try is still being carried out. Only a
success is remembered, so a refused request may be tried again. A held write waits,
received but not committed, until the test releases it.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Hold", "KeyedWrites"]


@dataclass
class Hold:
    """One write held between being received and being committed (``CrmStandin.hold``)."""

    route: str
    received: threading.Event = field(default_factory=threading.Event)
    committed: threading.Event = field(default_factory=threading.Event)
    _gate: threading.Event = field(default_factory=threading.Event)

    def release(self) -> None:
        self._gate.set()

    def wait(self) -> None:
        self.received.set()
        self._gate.wait(60)  # a guard against a test that never releases it


class KeyedWrites:
    """The key store and the held writes; ``idempotency_header`` None ignores keys, as a
    CRM without them does."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.idempotency_header: str | None = "Idempotency-Key"
        self.keyed: dict[str, tuple[int, Any] | None] = {}  # None: first try still running
        self.holds: list[Hold] = []
        self.repeats: Counter[str] = Counter()  # "answered again", "busy (409)"

    def begin(self, key: str) -> tuple[int, Any] | str | None:
        """The first result for ``key``; "busy" while its first try runs; None: go on (and
        the key is now taken)."""
        with self.lock:
            if key in self.keyed:
                first = self.keyed[key]
                self.repeats["answered again" if first else "busy (409)"] += 1
                return first or "busy"
            self.keyed[key] = None
            return None

    def finish(self, key: str, status: int, data: Any) -> None:
        with self.lock:
            if 200 <= status < 300:
                self.keyed[key] = (status, data)
            else:
                del self.keyed[key]

    def hold(self, route: str) -> Hold:
        """The next ``route`` write ("create" or "add_note") waits until released."""
        held = Hold(route)
        with self.lock:
            self.holds.append(held)
        return held

    def take_hold(self, route: str) -> Hold | None:
        with self.lock:
            for held in self.holds:
                if held.route == route:
                    self.holds.remove(held)
                    return held
        return None
