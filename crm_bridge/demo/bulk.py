"""The demo's bulk build: its stores skip waiting for the disk until the build is done.

A council's bridge makes each write durable before it answers, because a member is
waiting on it. While the demo fills a fresh folder nobody is: if the build is
interrupted the folder is simply made again. So during the build the demo's SQLite
stores run with ``synchronous=OFF`` (writes go to the operating system, not to the
disk, one by one), and at the end everything is checkpointed into the database files
with the normal settings, so the folder a user opens is as durable as any other.
The statements, transactions and results are exactly the product's.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Engine, event

__all__ = ["bulk_build"]


def _relaxed(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.execute("PRAGMA temp_store=MEMORY")
    cursor.close()


@contextmanager
def bulk_build(engines: Sequence[Engine]) -> Iterator[None]:
    """Inside: the SQLite ``engines`` write without waiting for the disk. After: their
    pools hold only normal connections, and each database is checkpointed to its file."""
    stores = [engine for engine in engines if engine.dialect.name == "sqlite"]
    for engine in stores:
        event.listen(engine, "connect", _relaxed)
        engine.dispose()  # connections opened before would keep the normal setting
    try:
        yield
    finally:
        for engine in stores:
            event.remove(engine, "connect", _relaxed)
            engine.dispose()
    for engine in stores:
        raw = engine.raw_connection()  # outside any transaction, as a checkpoint must be
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)").close()
        finally:
            raw.close()
