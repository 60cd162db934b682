"""Named locks in the store, so overlapping cron runs never do the same single-runner work.

A lock is a row in ``locks`` naming its holder (pid, host, since) for the message a
second run prints. What makes it a lock differs by back end:

* SQLite (one server): the row itself. A row left by a killed run is taken over when its
  process is gone (same host) or once it is older than ``stale_after``.
* PostgreSQL (possibly several servers): a session advisory lock, held on a connection of
  its own for as long as the lock is. The server drops it the moment the holder's
  connection goes, so a run killed on any host frees its lock at once; the row is only
  the holder's name tag, replaced by whoever takes the lock next. (A connection pooler in
  transaction mode between sync and PostgreSQL would break session locks: connect sync
  directly, or through a pooler in session mode.)

``held`` waits for nothing: when the lock is taken it raises ``LockBusy`` naming the holder.
``current_holder`` only looks (SQLite), so a run can give way before it opens anything else.
"""

from __future__ import annotations

import hashlib
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from crm_bridge.errors import CrmBridgeError
from crm_bridge.store.tables import locks

__all__ = ["LockBusy", "current_holder", "held"]

_STALE_AFTER = timedelta(hours=2)


@dataclass
class LockBusy(CrmBridgeError):
    pid: int
    host: str
    since: datetime

    def __str__(self) -> str:
        return (f"another sync is running (pid {self.pid} on {self.host}, "
                f"since {self.since.isoformat(timespec='seconds')})")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks are per database)."""
    digest = hashlib.sha256(f"crm-bridge:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _stale(row: Any, host: str, now: datetime, stale_after: timedelta) -> bool:
    """A row left by a run that is gone: its process has ended (same host), or it is old."""
    return (row.host == host and not _alive(row.pid)) or now - row.since > stale_after


def current_holder(engine: Engine, name: str, now: datetime,
           stale_after: timedelta = _STALE_AFTER) -> LockBusy | None:
    """Who holds SQLite lock ``name`` (a stale row holds nothing); a look, not a claim."""
    with engine.connect() as conn:
        row = conn.execute(select(locks).where(locks.c.name == name)).first()
    if row is None or _stale(row, socket.gethostname(), now, stale_after):
        return None
    return LockBusy(row.pid, row.host, row.since)


@contextmanager
def held(engine: Engine, name: str, now: datetime,
         stale_after: timedelta = _STALE_AFTER) -> Iterator[None]:
    """Hold lock ``name`` for the block, or raise LockBusy naming who has it."""
    pid, host = os.getpid(), socket.gethostname()
    holder = f"{host}:{pid}:{now.timestamp()}"
    if engine.dialect.name == "postgresql":
        with _session_lock(engine, name, holder, now):
            yield
        return
    with engine.begin() as conn:
        row = conn.execute(select(locks).where(locks.c.name == name)).first()
        if row is not None:
            if not _stale(row, host, now, stale_after):
                raise LockBusy(row.pid, row.host, row.since)
            conn.execute(delete(locks).where(locks.c.name == name, locks.c.holder == row.holder))
        try:
            conn.execute(locks.insert().values(name=name, holder=holder, pid=pid, host=host,
                                               since=now))
        except IntegrityError:
            raise LockBusy(pid, host, now) from None
    try:
        yield
    finally:
        with engine.begin() as conn:
            conn.execute(delete(locks).where(locks.c.name == name, locks.c.holder == holder))


@contextmanager
def _session_lock(engine: Engine, name: str, holder: str, now: datetime) -> Iterator[None]:
    key = _advisory_key(name)
    conn = engine.connect()
    released = False
    try:
        with conn.begin():
            got = bool(conn.execute(select(func.pg_try_advisory_lock(key))).scalar())
            if got:  # the lock survives this transaction: it belongs to the session
                conn.execute(delete(locks).where(locks.c.name == name))
                conn.execute(locks.insert().values(name=name, holder=holder, pid=os.getpid(),
                                                   host=socket.gethostname(), since=now))
        if not got:
            released = True
            raise _busy(conn, name, now)
        try:
            yield
        finally:
            with conn.begin():
                conn.execute(delete(locks).where(locks.c.name == name,
                                                 locks.c.holder == holder))
                conn.execute(select(func.pg_advisory_unlock(key)))
            released = True
    finally:
        if not released:
            # A pooled connection would keep the session lock: close it for real instead.
            conn.invalidate()
        conn.close()


def _busy(conn: Connection, name: str, now: datetime) -> LockBusy:
    """LockBusy naming the holder; its name tag may lag its lock by a moment, so look twice."""
    for _ in range(2):
        with conn.begin():
            row = conn.execute(select(locks).where(locks.c.name == name)).first()
        if row is not None:
            return LockBusy(row.pid, row.host, row.since)
        time.sleep(0.2)
    return LockBusy(0, "an unknown host", now)
