"""A lock row in the store, so two overlapping cron runs never sync at once.

A lock left by a killed run is taken over: on the same host when its process
is gone, on any host once it is older than ``stale_after``.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.exc import IntegrityError

from crm_bridge.errors import CrmBridgeError
from crm_bridge.store.tables import locks

__all__ = ["LockBusy", "held"]


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


@contextmanager
def held(engine: Engine, name: str, now: datetime,
         stale_after: timedelta = timedelta(hours=2)) -> Iterator[None]:
    """Hold lock ``name`` for the block, or raise LockBusy naming who has it."""
    pid, host = os.getpid(), socket.gethostname()
    holder = f"{host}:{pid}:{now.timestamp()}"
    with engine.begin() as conn:
        row = conn.execute(select(locks).where(locks.c.name == name)).first()
        if row is not None:
            stale = (row.host == host and not _alive(row.pid)) or now - row.since > stale_after
            if not stale:
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
