"""Open the state store: one engine per process, SQLite tuned for a single writer."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

from crm_bridge.extras import missing_extra

__all__ = ["SQLITE_PRAGMAS", "make_engine"]

# Every SQLite connection's settings, in order. bench/core_throughput.py's floor applies this
# very tuple, so the floor pays the same durability (journal, fsync policy) as the bridge.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=NORMAL", "foreign_keys=ON",
                  "busy_timeout=30000")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    try:
        return create_engine(url, pool_pre_ping=True, **kwargs)
    except ModuleNotFoundError as exc:  # the [postgres] extra not installed
        raise missing_extra("the PostgreSQL store", exc) from None


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin_immediate(connection: Any) -> None:
    # Take the write lock at BEGIN so two writers queue instead of deadlocking on upgrade.
    # Sent straight to the driver: it runs for every transaction, and a statement through
    # SQLAlchemy's execution machinery costs more than the BEGIN itself. Its errors are
    # wrapped as SQLAlchemy would (a lock still waited out past the timeout: OperationalError).
    try:
        connection.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
    except connection.dialect.loaded_dbapi.Error as exc:
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc,
                                  connection.dialect.loaded_dbapi.Error,
                                  dialect=connection.dialect) from exc
