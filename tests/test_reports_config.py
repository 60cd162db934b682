"""`reports:` in the council's config: the suppression threshold and areas of wards, checked
like every other setting (file, line, field and fix)."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.example_config import EXAMPLE, refused_edit

from crm_bridge.config.loader import load_config
from crm_bridge.errors import ConfigError


def test_the_example_has_areas_of_wards() -> None:
    reports = load_config(EXAMPLE, environ={}).config.reports
    assert reports.suppress_below == 5
    assert [reports.area_of(w) for w in ("clacks-north", "clacks-south", None)] == [
        "hillfoots", "alloa-and-south", None]


@pytest.mark.parametrize(("old", "new", "needle", "message"), [
    ("      wards: [clacks-north, clacks-east]\n", "      wards: [clacks-north, clacks-eats]\n",
     "clacks-eats", "reports.areas[0].wards[1]: unknown ward 'clacks-eats' (did you mean "
     "'clacks-east'?)"),
    ("      wards: [clacks-west, clacks-central, clacks-south]\n",
     "      wards: [clacks-west, clacks-north, clacks-south]\n", "clacks-west, clacks-north",
     "reports.areas[1].wards[1]: ward 'clacks-north' is already in area 'hillfoots': a ward "
     "belongs to one area"),
    ("  suppress_below: 5\n", "  suppress_below: 0\n", "suppress_below: 0",
     "reports.suppress_below: Input should be greater than or equal to 1 (got 0)"),
])
def test_a_bad_reports_setting_is_located_and_named(
        tmp_path: Path, old: str, new: str, needle: str, message: str) -> None:
    path, text, lines = refused_edit(tmp_path, old, new)
    line = next(n for n, row in enumerate(text.splitlines(), 1) if needle in row)
    assert lines == [f"{path}:{line} {message}"]


def test_two_areas_with_one_id_are_both_named(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8").replace(
        "    - id: alloa-and-south\n", "    - id: hillfoots\n"), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path, environ={})
    assert [line.split(" ", 1)[1] for line in str(info.value).splitlines()] == [
        f"reports.areas[{n}].id: duplicate id 'hillfoots': every area needs its own id"
        for n in (0, 1)]
