"""The locks that keep single-runner work to one process: recovered at once when the holder
is killed, and on PostgreSQL one per step, so push runs everywhere while pull, overdue and
reminders each run in one process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.store.locks import LockBusy, held
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import locks
from crm_bridge.sync.runner import run_sync

pytestmark = pytest.mark.timeout(300)

_HOLDER = """
import sys, time
from datetime import UTC, datetime
from crm_bridge.store.engine import make_engine
from crm_bridge.store.locks import held
engine = make_engine(sys.argv[1])
with held(engine, sys.argv[2], datetime.now(UTC)):
    print("held", flush=True)
    time.sleep(120)
"""


def _holder(url: str, name: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", _HOLDER, url, name],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_lock_held_by_a_killed_run_is_taken_at_once(raw_engine: Engine, store_url: str) -> None:
    upgrade(raw_engine)
    holder = _holder(store_url, "sync:pull")
    now = datetime.now(UTC)
    busy = rf"another sync is running \(pid {holder.pid} on "
    with pytest.raises(LockBusy, match=busy), held(raw_engine, "sync:pull", now):
        pass

    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert holder.stdout is not None
    holder.stdout.close()
    # The server notices the dead connection at once; the deadline only stops a hang.
    deadline = time.monotonic() + 120
    while True:
        try:
            with held(raw_engine, "sync:pull", now):
                with raw_engine.connect() as conn:
                    row = conn.execute(select(locks)).one()
                assert row.pid == os.getpid()
            break
        except LockBusy:
            if time.monotonic() > deadline:
                pytest.fail("the killed run's lock was never released", pytrace=False)
            time.sleep(0.1)
    with raw_engine.connect() as conn:
        assert conn.execute(select(locks)).all() == []


def test_each_single_runner_step_has_a_lock_of_its_own_on_postgresql(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    log()
    now = datetime.now(UTC)
    only = ("push", "pull", "overdue")
    if bridge.engine.dialect.name != "postgresql":
        with held(bridge.engine, "sync", now), pytest.raises(LockBusy):
            run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                     only=only)
        return
    with held(bridge.engine, "sync:overdue", now):
        report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                          only=only)
    assert (report.pushed, report.updated) == (1, 0)  # the local CRM reports no 'created'
    assert list(report.skipped) == ["overdue"]
    assert report.summary().endswith(
        f"; overdue skipped: another sync is running (pid {os.getpid()} on "
        f"{socket.gethostname()}, since {now.isoformat(timespec='seconds')})")


def test_the_example_cron_and_systemd_files_run_sync_as_documented() -> None:
    docs = Path(__file__).resolve().parents[2] / "docs"
    cron = (docs / "crontab.example").read_text(encoding="utf-8")
    assert "crm-bridge sync --json" in cron
    service = (docs / "systemd" / "crm-bridge-sync.service").read_text(encoding="utf-8")
    assert "Type=oneshot" in service and "crm-bridge sync" in service
    assert "TimeoutStartSec=" in service  # a hung run is killed; its lock is recovered
    timer = (docs / "systemd" / "crm-bridge-sync.timer").read_text(encoding="utf-8")
    assert "OnUnitActiveSec=5min" in timer
