"""Start-up time of the `crm-bridge` command, beside `python -c pass`.

    python -m bench.startup [--runs 15] [--json]

Each command runs as its own process, as cron or a shell runs it, from the console script
beside this interpreter:

- ``python -c pass``: the floor, this interpreter starting and stopping;
- ``crm-bridge --version`` and ``crm-bridge --help``;
- ``crm-bridge sync`` with nothing to do, on a council folder made by ``crm-bridge init``
  in a temporary directory (the example config, the ``local`` connector, a SQLite store);
- the same ``sync`` while another run holds the sync lock: it must say so and exit 0.

Before anything is timed, one ``sync --json`` must report ``ok`` with nothing pushed,
updated or failed, and every timed run is checked for its exit code and output, so a
command that fails fast cannot pass for a fast one. The commands run in turn, round after
round (the first round is not counted), so a burst of load on a shared machine falls on
all of them alike. Figures are medians: wall-clock time, and the CPU time (user + system)
the process used, which load on other cores changes less. Goals (issue 15): --version and
--help within 0.3 s, a sync with nothing to do within 0.5 s, wall-clock.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GOALS = {"--version": 0.3, "--help": 0.3, "sync": 0.5}
"""Seconds of wall-clock time each may take (median)."""


@dataclass
class Command:
    label: str
    argv: list[str]
    check: Callable[[subprocess.CompletedProcess[str]], str | None]
    goal: float | None = None
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def console_script() -> str:
    script = Path(sys.executable).with_name("crm-bridge")
    if not script.exists():
        raise SystemExit(f"no crm-bridge script beside {sys.executable}: run 'make install'")
    return str(script)


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k != "CRM_BRIDGE_CONFIG"}


def timed(argv: Sequence[str], cwd: Path) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall-clock and CPU seconds of one run of ``argv``, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    done = subprocess.run(list(argv), cwd=cwd, env=clean_env(), capture_output=True,
                          text=True, stdin=subprocess.DEVNULL, timeout=120, check=False)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done


def expect(prefix: str, stream: str = "stdout") -> Callable[[subprocess.CompletedProcess[str]],
                                                             str | None]:
    """A check: exit 0, nothing on stderr, and ``stream`` starting with ``prefix``."""
    def check(done: subprocess.CompletedProcess[str]) -> str | None:
        text = getattr(done, stream)
        if done.returncode != 0 or done.stderr or not text.startswith(prefix):
            return (f"exit {done.returncode}, stdout {done.stdout[:200]!r}, "
                    f"stderr {done.stderr[:200]!r}")
        return None
    return check


def make_council(work: Path, script: str) -> Path:
    """A council folder from `crm-bridge init`, with one sync that must report ok."""
    made = subprocess.run([script, "init", "council"], cwd=work, env=clean_env(),
                          capture_output=True, text=True, timeout=120, check=False)
    if made.returncode != 0:
        raise SystemExit(f"crm-bridge init failed: {made.stderr}")
    config = work / "council" / "config.yaml"
    first = subprocess.run([script, "--config", str(config), "sync", "--json"], cwd=work,
                           env=clean_env(), capture_output=True, text=True, timeout=120,
                           check=False)
    try:
        report = json.loads(first.stdout)
    except json.JSONDecodeError:
        report = {}
    counts = [report.get(key) for key in ("pushed", "updated", "failed")]
    if first.returncode != 0 or report.get("ok") is not True or counts != [0, 0, 0]:
        raise SystemExit(f"the first sync did not report ok with nothing to do: exit "
                         f"{first.returncode}, {first.stdout[:400]!r} {first.stderr[:400]!r}")
    return config


def run(runs: int, work: Path) -> tuple[list[Command], dict[str, Any]]:
    script = console_script()
    config = make_council(work, script)
    sync = [script, "--config", str(config), "sync"]
    commands = [
        Command("python -c pass", [sys.executable, "-c", "pass"], expect("")),
        Command("crm-bridge --version", [script, "--version"], expect("crm-bridge, version "),
                GOALS["--version"]),
        Command("crm-bridge --help", [script, "--help"], expect("Usage: crm-bridge "),
                GOALS["--help"]),
        Command("crm-bridge sync (nothing to do)", sync,
                expect("sync: pushed 0, notes 0, updated 0, failed 0, retry later 0, "
                       "overdue 0 ("), GOALS["sync"]),
    ]
    overlapping = Command("crm-bridge sync (another run holds the lock)", sync,
                          expect("another sync is running (pid "))
    problems: list[str] = []
    for round_number in range(runs + 1):  # round 0 warms the caches and is not counted
        for command in commands:
            wall, cpu, done = timed(command.argv, work)
            problem = command.check(done)
            if problem:
                problems.append(f"{command.label}: {problem}")
            elif round_number:
                command.wall.append(wall)
                command.cpu.append(cpu)
    # The overlapping runs: this process holds the lock, as a slow run would.
    from crm_bridge.app import Bridge
    from crm_bridge.store.locks import held

    bridge = Bridge.open(config)
    try:
        with held(bridge.engine, "sync", datetime.now(UTC)):
            for round_number in range(runs + 1):
                wall, cpu, done = timed(overlapping.argv, work)
                problem = overlapping.check(done)
                if problem:
                    problems.append(f"{overlapping.label}: {problem}")
                elif round_number:
                    overlapping.wall.append(wall)
                    overlapping.cpu.append(cpu)
    finally:
        bridge.close()
    return [*commands, overlapping], {"problems": problems}


def figures(commands: list[Command]) -> list[dict[str, Any]]:
    floor_wall = statistics.median(commands[0].wall)
    floor_cpu = statistics.median(commands[0].cpu)
    rows = []
    for command in commands:
        wall = statistics.median(command.wall)
        cpu = statistics.median(command.cpu)
        rows.append({
            "command": command.label,
            "runs": len(command.wall),
            "wall_median_s": round(wall, 4),
            "wall_min_s": round(min(command.wall), 4),
            "wall_x_python": round(wall / floor_wall, 1),
            "cpu_median_s": round(cpu, 4),
            "cpu_x_python": round(cpu / floor_cpu, 1) if floor_cpu else None,
            "goal_s": command.goal,
            "goal_met": None if command.goal is None else wall <= command.goal,
        })
    return rows


def print_table(rows: list[dict[str, Any]], load: tuple[float, float]) -> None:
    print(f"crm-bridge start-up: median of {rows[0]['runs']} runs each "
          f"(load average {load[0]:.2f} at the start, {load[1]:.2f} at the end)")
    print(f"{'command':<46}{'wall s':>8}{'min s':>8}{'x pass':>8}{'cpu s':>8}{'x pass':>8}"
          "  goal")
    for row in rows:
        goal = ""
        if row["goal_s"] is not None:
            goal = f"  <= {row['goal_s']:.1f} s: {'met' if row['goal_met'] else 'MISSED'}"
        cpu_ratio = "" if row["cpu_x_python"] is None else f"{row['cpu_x_python']:.1f}"
        print(f"{row['command']:<46}{row['wall_median_s']:>8.3f}{row['wall_min_s']:>8.3f}"
              f"{row['wall_x_python']:>8.1f}{row['cpu_median_s']:>8.3f}{cpu_ratio:>8}{goal}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.startup",
                                     description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=15, metavar="N",
                        help="timed runs of each command (default 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="crm-bridge-startup-") as tmp:
        commands, extra = run(args.runs, Path(tmp))
    load = (load_before, os.getloadavg()[0])
    problems = extra["problems"]
    if problems or any(not command.wall for command in commands):
        for problem in problems:
            print(f"PROBLEM: {problem}", file=sys.stderr)
        return 1
    rows = figures(commands)
    if args.json:
        print(json.dumps({"load_average": load, "figures": rows}, indent=2))
    else:
        print_table(rows, load)
    return 0


if __name__ == "__main__":
    sys.exit(main())
