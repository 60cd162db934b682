"""Open the state store: one engine per process, SQLite tuned for a single writer."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

__all__ = ["SQLITE_PRAGMAS", "make_engine"]

# Every SQLite connection's settings. synchronous=FULL: a commit is on disk (WAL synced)
# before it returns, so an enquiry whose reference was shown survives a power failure and
# its reference is never issued again. NORMAL would only lose the last commits, but those
# are exactly the ones a member has just been told about.
SQLITE_PRAGMAS: tuple[str, ...] = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=30000",
)


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout."""
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    _owner_only_if_new(cursor)
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(pragma)
    cursor.close()


def _owner_only_if_new(cursor: Any) -> None:
    # The store holds personal data: a file SQLite has just created (still empty) is made
    # owner-only whatever the umask, before any page is written. SQLite gives the -wal and
    # -shm files the main file's mode, so they follow.
    for _seq, name, path in cursor.execute("PRAGMA database_list").fetchall():
        if name == "main" and path:
            try:
                if os.stat(path).st_size == 0:
                    os.chmod(path, 0o600)
            except OSError:
                pass  # not ours to fix here: SQLite reports an unusable file itself


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
