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

_PAUSE_AT = 0.5
"""Seconds after its start a standby is stopped: well inside Python's imports (about a second
of CPU), before it opens the store, so a stopped standby holds no lock of any kind."""
_WORK = (b" connectors.", b" crm_bridge.")
"""Log lines from the bridge's own loggers: the run is at work (not importing)."""


@dataclass
class _Run:
    process: subprocess.Popen[bytes]
    log: Path
    kill_after_seconds: float | None = None
    kill_after_lines: int | None = None
    working_since: float | None = None
    started: float = field(default_factory=time.monotonic)
    paused: bool = False  # started ahead, stopped (SIGSTOP) while importing, until its turn
    paused_once: bool = False
    skip_lines: int = 0  # lines logged before its turn

    def work_lines(self) -> int:
        with self.log.open("rb") as text:
            return sum(1 for line in text if any(mark in line for mark in _WORK))


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
        if kill and self.rng.random() < 0.4:
            run.kill_after_seconds = self.rng.uniform(0.0, 1.5)
        elif kill:
            run.kill_after_lines = self.rng.randint(1, 150)
        return run

    def _due(self, run: _Run) -> bool:
        lines = run.work_lines() - run.skip_lines
        if lines and run.working_since is None:
            run.working_since = time.monotonic()
        if run.working_since is None:
            return False
        if run.kill_after_seconds is not None:
            return time.monotonic() - run.working_since >= run.kill_after_seconds
        assert run.kill_after_lines is not None
        return lines >= run.kill_after_lines

    def _ended(self, run: _Run) -> bool:
        code = run.process.poll()
        if code is not None:
            self.exits[code] += 1
        return code is not None

    def drive(self, kills: int, timeout: float) -> None:
        """Run and kill syncs until ``kills`` of them died by SIGKILL."""
        deadline = time.monotonic() + timeout
        current = [self._start(kill=True) for _ in range(self.processes)]
        standby = [self._start(kill=True) for _ in range(self.processes)]
        try:
            while self.kills < kills:
                assert time.monotonic() < deadline, f"only {self.kills} kills in {timeout} s"
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
            if not waiting.log.stat().st_size:  # still importing: nothing open in the store
                waiting.process.send_signal(signal.SIGSTOP)
                waiting.paused = True
        if not (self._ended(run) or (self._due(run) and self._kill(run))):
            return
        if self._ended(waiting):
            waiting = self._start(kill=True)
        if waiting.paused:
            waiting.process.send_signal(signal.SIGCONT)
            waiting.paused = False
            waiting.skip_lines = waiting.work_lines()
        current[slot], standby[slot] = waiting, self._start(kill=True)

    def _kill(self, run: _Run) -> bool:
        run.process.send_signal(signal.SIGKILL)
        run.process.wait()
        self.kills += 1
        self.exits[-signal.SIGKILL] += 1
        return True

    def finish(self, settled: Callable[[], bool], most: int = 40) -> int:
        """Sync, unkilled, until ``settled()``; how many rounds it took."""
        for done in range(1, most + 1):
            batch = [self._start(kill=False) for _ in range(self.processes)]
            for run in batch:
                self.exits[run.process.wait(timeout=120)] += 1
            if settled():
                return done
        raise AssertionError(f"the store had not settled after {most} unkilled runs:\n"
                             + self._logs[-1].read_text(encoding="utf-8")[-3000:])

    def log_text(self) -> str:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace")
                         for log in self._logs)
