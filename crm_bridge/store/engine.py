"""Open the state store: one engine per process, SQLite tuned for a single writer."""

from __future__ import annotations

import os
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.exc import DBAPIError

from crm_bridge.extras import missing_extra
from crm_bridge.store.faults import (
    fault,
    read_only_reason,
    read_only_url,
    shown,
    sqlite_file,
    watch,
)

__all__ = ["SQLITE_PRAGMAS", "make_engine"]

# Every SQLite connection's settings, in order. bench/core_throughput.py's floor applies this
# very tuple, so the floor pays the same durability (journal, fsync policy) as the bridge.
# synchronous=FULL: a commit is on disk (WAL synced) before it returns, so an enquiry whose
# reference was shown survives a power failure and its reference is never issued again.
# NORMAL would only lose the last commits, but those are exactly the ones a member has just
# been told about.
SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON",
                  "busy_timeout=30000")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; SQLite gets WAL, foreign keys and a busy timeout.

    A SQLite file this user cannot write is opened read-only; the store's faults (server
    unreachable, file unwritable) surface as ``StoreUnavailable`` (see store/faults.py).
    """
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://") :]
    store = shown(url)
    if url.startswith("sqlite"):
        path = sqlite_file(url)
        read_only = read_only_reason(path) if path is not None and path.is_file() else None
        if path is not None and read_only is not None:
            url = read_only_url(path)
        engine = create_engine(url, connect_args={"timeout": 30}, **kwargs)
        event.listen(engine, "connect", _sqlite_read_only if read_only else _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin if read_only else _sqlite_begin_immediate)
        watch(engine, store, read_only)
        return engine
    if "connect_timeout" not in url and "connect_args" not in kwargs:
        kwargs["connect_args"] = {"connect_timeout": 10}  # cron must not hang on a dead host
    try:
        engine = create_engine(url, pool_pre_ping=True, **kwargs)
    except ModuleNotFoundError as exc:  # the [postgres] extra not installed
        raise missing_extra("the PostgreSQL store", exc) from None
    watch(engine, store)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    _owner_only_if_new(cursor)
    for pragma in SQLITE_PRAGMAS:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_read_only(dbapi_connection: Any, _record: Any) -> None:
    # A store opened read-only keeps its journal mode (changing it would be a write).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA query_only=ON")
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
        store_fault = fault(connection.engine, exc)
        if store_fault is not None:
            raise store_fault from exc
        raise DBAPIError.instance("BEGIN IMMEDIATE", None, exc,
                                  connection.dialect.loaded_dbapi.Error,
                                  dialect=connection.dialect) from exc


def _sqlite_begin(connection: Any) -> None:
    # A read-only store takes no write lock: a plain (deferred) transaction.
    connection.connection.dbapi_connection.execute("BEGIN")
