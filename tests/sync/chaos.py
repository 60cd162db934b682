"""The kill -9 harness: `crm-bridge sync` as real processes, killed at random moments.

``Harness.drive`` keeps ``processes`` syncs running side by side (one on SQLite, where a
second would only find the lock taken; several on PostgreSQL) and SIGKILLs each at a
moment drawn at random once it has started work (its first log line from the bridge):
either a time after that, or once it has logged a random number of lines (each a CRM call,
a step done, a mail sent), so kills land in push, pull, overdue and reminders alike, and
between a CRM call and the write that records it.

Python and the bridge take about a second to start, so each slot keeps its next process
starting alongside the current one, stopped (SIGSTOP) half-way through its imports, before
it has opened the store; the moment the current one dies it is let go (SIGCONT), finishes
starting and takes over, recovering the killed run's lock.

``Harness.finish`` then lets sync run, unkilled, until the store settles. Each run logs
at INFO (``-v``) to a file of its own; ``log_text`` gives them all.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cli_support import CRM_BRIDGE

__all__ = ["Harness"]

_PAUSE_AT = 0.8
"""Seconds after its start a standby is stopped, if it has logged nothing yet: on a busy
machine still in Python's imports (a second or more of CPU). On a quiet one it may be past
them, in the store before its first log line (the first is often a CRM call): a stopped
process holding SQLite's write lock, or a PostgreSQL transaction, would stall every other
writer. So, once stopped, a standby with the store open (``_has_store_open``) is let go
again at once; one that has none holds no lock."""
_STORE_FILES = (".db", ".db-wal", ".db-shm", ".db-journal")
_WORK = (b" connectors.", b" crm_bridge.")
"""Log lines from the bridge's own loggers: the run is at work (not importing)."""


_AIMS: tuple[tuple[float, str, bytes | None, tuple[int, int], float], ...] = (
    # share, step, the log line counted (None: any of the bridge's), how many, then a delay
    (0.30, "push", b"rest POST /cases", (1, 25), 0.02),
    (0.05, "push", None, (1, 12), 0.0),
    (0.25, "pull", b"rest GET /updates", (1, 3), 0.05),
    (0.15, "overdue", b" crm_bridge.sync.pull: pull ", (1, 1), 0.03),
    (0.25, "reminders", b" crm_bridge.reminders.send: mail ", (1, 20), 0.01),
)
"""Where kills are aimed: after a random number of a step's log lines, then a random part
of ``delay`` seconds, so each step, and the gaps between a CRM call or a mail and the write
that records it, take their share. Whatever its aim, a run is killed after a random
``cap`` of seconds at work (so a long backlog is not sent by one unkilled run); a run that
reaches neither just finishes."""


def _step_of(line: bytes) -> str:
    for step, marks in (("push", (b"/cases", b"sync.push", b"create_case", b"add_note")),
                        ("pull", (b"/updates", b"pull ", b"fetch_updates")),
                        ("reminders", (b"reminders", b" mail "))):
        if any(mark in line for mark in marks):
            return step
    return "starting"


@dataclass
class _Run:
    process: subprocess.Popen[bytes]
    log: Path
    aim: tuple[str, bytes | None, int, float] | None = None  # step, line, count, delay
    cap: float = 0.0  # seconds of work after which it is killed whatever its aim
    started: float = field(default_factory=time.monotonic)
    paused: bool = False  # started ahead, stopped (SIGSTOP) while importing, until its turn
    paused_once: bool = False
    working_since: float | None = None
    reached: float | None = None
    _offset: int = 0
    _rest: bytes = b""
    _lines: list[bytes] = field(default_factory=list)  # the bridge's own lines so far

    def read(self) -> list[bytes]:
        """The bridge's log lines so far, reading only what was added since last time."""
        with self.log.open("rb") as text:
            text.seek(self._offset)
            chunk = text.read()
        self._offset += len(chunk)
        *whole, self._rest = (self._rest + chunk).split(b"\n")
        self._lines += [line for line in whole if any(m in line for m in _WORK)]
        return self._lines

    def last_step(self) -> str:
        lines = self.read()
        return _step_of(lines[-1]) if lines else "starting"


@dataclass
class Harness:
    config: Path
    folder: Path  # where each run's log goes
    env: Mapping[str, str]
    rng: random.Random
    processes: int = 1
    kills: int = 0
    runs: int = 0
    exits: Counter[int] = field(default_factory=Counter)
    killed_in: Counter[str] = field(default_factory=Counter)  # the step its last line was in
    _logs: list[Path] = field(default_factory=list)

    def _start(self, kill: bool) -> _Run:
        self.runs += 1
        log = self.folder / f"run-{self.runs:04d}.log"
        self._logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [CRM_BRIDGE, "--config", str(self.config), "-v", "sync", "--json"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env})
        run = _Run(process, log)
        if kill:
            _, step, mark, (low, high), delay = self.rng.choices(
                _AIMS, weights=[aim[0] for aim in _AIMS])[0]
            run.aim = (step, mark, self.rng.randint(low, high), self.rng.uniform(0, delay))
            run.cap = self.rng.uniform(0.05, 2.0)
        return run

    def _due(self, run: _Run) -> bool:
        assert run.aim is not None
        _, mark, count, delay = run.aim
        lines = run.read()
        now = time.monotonic()
        if lines and run.working_since is None:
            run.working_since = now
        if run.reached is None and sum(1 for line in lines
                                       if mark is None or mark in line) >= count:
            run.reached = now
        if run.working_since is not None and now - run.working_since >= run.cap:
            return True
        return run.reached is not None and now - run.reached >= delay

    def _ended(self, run: _Run) -> bool:
        code = run.process.poll()
        if code is not None:
            self.exits[code] += 1
        return code is not None

    def drive(self, kills: int, later: int = 0) -> None:
        """Run and kill syncs until ``kills`` of them died by SIGKILL, ``later`` of them after
        push (in pull, overdue or reminders), however long that takes on this machine: the
        test's timeout is what stops a hang."""
        current = [self._start(kill=True) for _ in range(self.processes)]
        standby = [self._start(kill=True) for _ in range(self.processes)]
        try:
            while (self.kills < kills
                   or self.killed_in["pull"] + self.killed_in["reminders"] < later):
                for slot, run in enumerate(current):
                    self._step(slot, run, current, standby)
                time.sleep(0.005)
        finally:
            for run in [*current, *standby]:
                if run.process.poll() is None:
                    run.process.send_signal(signal.SIGKILL)
                run.process.wait()

    def _step(self, slot: int, run: _Run, current: list[_Run], standby: list[_Run]) -> None:
        waiting = standby[slot]
        if (not waiting.paused and not waiting.paused_once and waiting.process.poll() is None
                and time.monotonic() - waiting.started >= _PAUSE_AT):
            waiting.paused_once = True
            if not waiting.log.stat().st_size:  # likely still importing
                waiting.process.send_signal(signal.SIGSTOP)
                waiting.paused = not _has_store_open(waiting.process.pid)
                if not waiting.paused:  # too late: it may hold a lock; let it finish
                    waiting.process.send_signal(signal.SIGCONT)
        if not (self._ended(run) or (self._due(run) and self._kill(run))):
            return
        if self._ended(waiting):
            waiting = self._start(kill=True)
        if waiting.paused:
            waiting.process.send_signal(signal.SIGCONT)
            waiting.paused = False
        current[slot], standby[slot] = waiting, self._start(kill=True)

    def _kill(self, run: _Run) -> bool:
        run.process.send_signal(signal.SIGKILL)
        run.process.wait()
        self.kills += 1
        self.exits[-signal.SIGKILL] += 1
        self.killed_in[run.last_step()] += 1
        return True

    def finish(self, settled: Callable[[], bool], most: int = 40) -> int:
        """Sync, unkilled, until ``settled()``; how many rounds it took."""
        for done in range(1, most + 1):
            batch = [self._start(kill=False) for _ in range(self.processes)]
            for run in batch:
                self.exits[run.process.wait()] += 1
            if settled():
                return done
        raise AssertionError(f"the store had not settled after {most} unkilled runs:\n"
                             + self._logs[-1].read_text(encoding="utf-8")[-3000:])

    def log_text(self) -> str:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace")
                         for log in self._logs)


def _has_store_open(pid: int) -> bool:
    """Whether a (stopped) process has the store open: a SQLite file, or a socket (a
    PostgreSQL connection; nothing else opens one before the store). Waits, briefly, for the
    stop to take effect, so what is read is what it holds while stopped."""
    for _ in range(200):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return False  # gone
        if state in ("T", "t"):
            break
        time.sleep(0.001)
    try:
        targets = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
    except OSError:
        return False
    return any(t.startswith("socket:") or t.endswith(_STORE_FILES) for t in targets)

