"""Helpers for the command-line tests: a council folder made by `init`, ways to run the CLI
(in-process, as a real subprocess, in a pseudo-terminal) and ways to prove nothing was written.

Kept out of conftest.py so the CLI tests carry their own machinery; the test modules import
it by name (pytest puts tests/ on sys.path).
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import select
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from crm_bridge.cli import cli

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
CRM_BRIDGE = str(BIN / "crm-bridge") if (BIN / "crm-bridge").exists() else (
    shutil.which("crm-bridge") or "crm-bridge")

# Flags for a valid `enquiry add` from Kinnaird (Clackmannanshire West) about a pothole.
ADD = [
    "--member", "cllr-morag-kinnaird",
    "--category", "pothole",
    "--description", "Deep pothole outside the primary school gates",
    "--name", "Jean Paterson",
    "--address", "12 Main Street, Alloa",
    "--postcode", "fk10 1aa",
    "--email", "jean.paterson@example.com",
    "--location", "Main Street, Alloa",
    "--channel", "surgery",
    "--logged-by", "members.services",
    "--consent",
]


def add_args(**changes: str | None) -> list[str]:
    """ADD with flags replaced (``member="x"``) or dropped (``consent=None``)."""
    args = list(ADD)
    for key, value in changes.items():
        flag = "--" + key.replace("_", "-")
        if flag in args:
            index = args.index(flag)
            takes_value = index + 1 < len(args) and not args[index + 1].startswith("--")
            del args[index: index + (2 if takes_value else 1)]
        if value is not None:
            args += [flag] if value == "" else [flag, value]
    return args


def days_ago(days: int) -> str:
    """A ``--received`` value ``days`` calendar days before today (local)."""
    return (date.today() - timedelta(days=days)).isoformat()


def invoke(args: Sequence[str], input: str | None = None,
           env: Mapping[str, str | None] | None = None) -> Result:
    """Run the CLI in-process; CRM_BRIDGE_CONFIG from the outer shell never leaks in."""
    runner = CliRunner()
    return runner.invoke(cli, list(args), input=input,
                         env={"CRM_BRIDGE_CONFIG": None, **(env or {})})


def run_process(args: Sequence[str], cwd: Path, env: Mapping[str, str] | None = None,
                executable: str = CRM_BRIDGE, timeout: float = 60,
                ) -> subprocess.CompletedProcess[str]:
    """Run the installed console script as a real process (stdin not a terminal)."""
    full_env = {k: v for k, v in os.environ.items() if k != "CRM_BRIDGE_CONFIG"}
    full_env.update(env or {})
    return subprocess.run([executable, *args], cwd=cwd, env=full_env, capture_output=True,
                          text=True, timeout=timeout, stdin=subprocess.DEVNULL, check=False)


@dataclass
class Council:
    """A council folder made by `crm-bridge init`: config.yaml, mappings/, the store."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.yaml"

    @property
    def store(self) -> Path:
        return self.root / "crm-bridge.db"

    def cli(self, *args: str, input: str | None = None) -> Result:
        return invoke(["--config", str(self.config), *args], input=input)

    def ok(self, *args: str, input: str | None = None) -> Result:
        """Run and insist on exit 0, showing the output when it is not."""
        result = self.cli(*args, input=input)
        assert result.exit_code == 0, (result.exit_code, result.output, result.exception)
        return result

    def add(self, *extra: str, **changes: str | None) -> str:
        """Log an enquiry with the default flags; returns its reference."""
        result = self.ok("enquiry", "add", *add_args(**changes), *extra, "--json")
        return str(parse_json(result.stdout)["reference"])

    def edit(self, relative: str, old: str, new: str) -> None:
        """Replace ``old`` (which must occur exactly once) in a file of the folder."""
        path = self.root / relative
        text = path.read_text(encoding="utf-8")
        assert text.count(old) == 1, f"expected exactly one {old!r} in {relative}"
        path.write_text(text.replace(old, new), encoding="utf-8")

    def line_of(self, relative: str, needle: str) -> int:
        lines = (self.root / relative).read_text(encoding="utf-8").splitlines()
        hits = [number for number, line in enumerate(lines, 1) if needle in line]
        assert len(hits) == 1, f"{needle!r} occurs {len(hits)} times in {relative}"
        return hits[0]

    def sql(self, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Run SQL on the store with the standard library, committed and closed at once."""
        with closing(sqlite3.connect(self.store)) as conn:
            rows = conn.execute(statement, params).fetchall()
            conn.commit()
        return rows

    def counts(self) -> dict[str, int]:
        if not self.store.exists():
            return {}
        return {table: self.sql(f"SELECT count(*) FROM {table}")[0][0]
                for table in ("enquiries", "enquiry_history", "outbox")}

    def snapshot(self) -> dict[str, str]:
        """Every file under the folder with a hash of its bytes: equal means nothing written."""
        return {str(p.relative_to(self.root)): hashlib.sha256(p.read_bytes()).hexdigest()
                for p in sorted(self.root.rglob("*")) if p.is_file()}


def make_council(parent: Path, name: str = "council") -> Council:
    result = invoke(["init", str(parent / name)])
    assert result.exit_code == 0, (result.output, result.exception)
    return Council(parent / name)


def copy_council(template: Council, parent: Path, name: str = "council") -> Council:
    """A fresh copy of an initialised folder: much faster than running `init` again."""
    shutil.copytree(template.root, parent / name)
    return Council(parent / name)


def parse_json(text: str) -> Any:
    return json.loads(text)


def case_for(council: Council, reference: str) -> str:
    """The local case store's case reference for an enquiry (from `enquiry show --json`)."""
    shown = parse_json(council.ok("enquiry", "show", reference, "--json").stdout)
    assert shown["crm_ref"], f"{reference} has no CRM case yet"
    return str(shown["crm_ref"])


# --- a real pseudo-terminal ---------------------------------------------------------------


@dataclass
class Transcript:
    exit_code: int
    text: str


def run_in_pty(argv: Sequence[str], answers: Sequence[tuple[str, str]], cwd: Path,
               env: Mapping[str, str], timeout: float = 60) -> Transcript:
    """Run ``argv`` with stdin, stdout and stderr on a new pseudo-terminal and answer prompts.

    Each answer is typed once the prompt text seen since the last answer contains its marker
    and ends in ':' (the prompt is complete), so the program really sees a terminal and a
    person typing, not a pipe.
    """
    master, slave = pty.openpty()
    process = subprocess.Popen(list(argv), stdin=slave, stdout=slave, stderr=slave, cwd=cwd,
                               env=dict(env), close_fds=True, start_new_session=True)
    os.close(slave)
    output = b""
    since_answer = b""
    pending = list(answers)
    deadline = time.monotonic() + timeout
    try:
        while True:
            if time.monotonic() > deadline:
                process.kill()
                process.wait()
                raise AssertionError(f"timed out; the terminal showed:\n{output.decode()}")
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    chunk = b""
                if not chunk:
                    break
                output += chunk
                since_answer += chunk
            elif process.poll() is not None:
                break
            if pending:
                marker, reply = pending[0]
                if marker.encode() in since_answer and since_answer.rstrip().endswith(b":"):
                    os.write(master, reply.encode() + b"\r")
                    pending.pop(0)
                    since_answer = b""
        code = process.wait(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        os.close(master)
    text = output.decode("utf-8", "replace").replace("\r\n", "\n")
    assert not pending, f"never asked for {[m for m, _ in pending]}; the terminal showed:\n{text}"
    return Transcript(code, text)
