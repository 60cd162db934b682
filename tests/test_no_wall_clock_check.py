"""scripts/check-no-wall-clock.py, which CI runs on tests/: it names each timing assertion by
file and line, and lets behaviour assertions and hang guards through."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / "scripts" / "check-no-wall-clock.py"
# The samples the checker is tried on: a test file full of timing assertions and one with
# only behaviour assertions and hang guards. Kept as text beside the checker, not under
# tests/, so nothing that scans the tests mistakes them for real ones.
SAMPLES = ROOT / "scripts" / "wall-clock-samples"
TIMED = (SAMPLES / "timed.txt").read_text(encoding="utf-8")
UNTIMED = (SAMPLES / "untimed.txt").read_text(encoding="utf-8")


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
