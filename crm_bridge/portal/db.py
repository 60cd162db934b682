"""How the portal uses the store under many concurrent requests.

The bridge's engine starts every SQLite transaction with BEGIN IMMEDIATE (right for sync and
the CLI: two writers queue instead of deadlocking). For a web server that would make every
page view take the database's write lock, and SQLite's busy handler makes waiting threads
sleep in steps of up to 100 ms: latency spikes under load. So the portal reads through a
second engine of its own, whose transactions are plain (WAL lets readers run alongside a
writer), and queues its own writes on a lock in the process, where a waiting thread wakes as
soon as the lock is free. On PostgreSQL both are simply the bridge's engine.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event

__all__ = ["Store"]


class _Batch:
    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []
        self.done = False
        self.error: BaseException | None = None


class Store:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._queued = threading.Lock()
        self._flushing = threading.Lock()
        self._open = _Batch()
        self.sqlite = engine.dialect.name == "sqlite"
        self._lock: threading.Lock | None = threading.Lock() if self.sqlite else None
        if self.sqlite:
            self.reader = create_engine(engine.url, pool_size=20, max_overflow=20,
                                        connect_args={"timeout": 30, "check_same_thread": False})
            event.listen(self.reader, "connect", _read_only)
        else:
            self.reader = engine

    def read(self) -> Connection:
        """A connection for reading (use as ``with store.read() as conn``)."""
        return self.reader.connect()

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """One write transaction, queued behind the portal's other writes."""
        with self.serialised(), self.engine.begin() as conn:
            yield conn

    def serialised(self) -> Any:
        """Hold the portal's write lock around a core call that writes (e.g. log_enquiry)."""
        return self._lock if self._lock is not None else nullcontext()

    def append(self, statement: Any, rows: list[dict[str, Any]]) -> None:
        """Insert ``rows`` with ``statement`` and return once they are committed, sharing one
        transaction with whatever other threads are appending at the same moment (group
        commit: under load fifty audit writes cost one commit, not fifty)."""
        with self._queued:
            batch = self._open
            batch.rows.extend(rows)
        with self._flushing:
            if not batch.done:  # nobody has written it yet: write it and what else is waiting
                with self._queued:
                    self._open = _Batch()
                try:
                    with self.write() as conn:
                        conn.execute(statement, batch.rows)
                except BaseException as exc:
                    batch.error = exc
                    raise
                finally:
                    batch.done = True
        if batch.error is not None:
            raise batch.error

    def close(self) -> None:
        if self.reader is not self.engine:
            self.reader.dispose()


def _read_only(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=1")
    # Searches scan a member's or a ward's enquiries: map the file rather than copy each page
    # through read() into SQLite's small default cache.
    cursor.execute("PRAGMA mmap_size=268435456")
    cursor.close()
