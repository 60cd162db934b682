"""scripts/check-no-wall-clock.py, which CI runs on tests/: it names each timing assertion by
file and line, and lets behaviour assertions and hang guards through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "check-no-wall-clock.py"

TIMED = '''\
import time
from time import perf_counter


def test_elapsed(run):
    started = time.monotonic()
    run()
    elapsed = time.monotonic() - started
    assert elapsed < 30


def test_inline():
    began = perf_counter()
    assert perf_counter() - began <= 45, "too slow"


def test_kills(harness):
    deadline = time.time() + 600
    while harness.kills < 100:
        assert time.monotonic() < deadline, f"only {harness.kills} kills in 600 s"


def test_reported(figures, report):
    assert figures["seconds"] < 30
    assert report.duration < 5 and report.ok


class TestCase:
    def test_unittest_style(self):
        took = time.perf_counter()
        self.assertLess(took, 5)
'''

UNTIMED = '''\
import time
from datetime import UTC, datetime, timedelta

import pytest


def test_behaviour(store, clock):
    deadline = time.monotonic() + 120  # a guard against hanging, not an assertion
    while not store.ready():
        if time.monotonic() > deadline:
            pytest.fail("the store never became ready")
        time.sleep(0.1)
    assert store.count() == 600
    assert store.not_before >= clock.now + timedelta(seconds=600)
    assert datetime.now(UTC).year > 2000
    assert len(store.rows) <= 1000
'''


def check(*paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(CHECK), *map(str, paths)], capture_output=True,
                          text=True, timeout=120, check=False)


def test_each_timing_assertion_is_named_by_file_and_line(tmp_path: Path) -> None:
    sample = tmp_path / "test_timed.py"
    sample.write_text(TIMED, encoding="utf-8")
    done = check(tmp_path)
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert [line.split(": wall-clock assertion: ")[0] for line in lines] == [
        f"{sample}:{n}" for n in (9, 14, 20, 24, 25, 31)]
    assert "elapsed < 30" in lines[0]
    assert "speed goes in bench/" in done.stderr


@pytest.mark.parametrize("folder", ["sample", "repository"])
def test_behaviour_assertions_and_hang_guards_pass(tmp_path: Path, folder: str) -> None:
    if folder == "sample":
        (tmp_path / "test_untimed.py").write_text(UNTIMED, encoding="utf-8")
        target = tmp_path
    else:  # the project's own tests, as CI checks them
        target = ROOT / "tests"
    done = check(target)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout == ""


def test_a_missing_folder_is_an_error_not_a_pass(tmp_path: Path) -> None:
    done = check(tmp_path / "nowhere")
    assert done.returncode == 2
    assert "no such file or folder" in done.stderr
