"""`crm-bridge report` in each format, `report scrutiny`, and its usage errors naming the flag."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from cli_support import invoke
from support.report_council import add_caseload

from crm_bridge.app import Bridge

pytestmark = pytest.mark.timeout(120)


def _report(config: Path, *args: str) -> str:
    result = invoke(["--config", str(config), "report", *args])
    assert result.exit_code == 0, (result.output, result.exception)
    return result.stdout


def test_each_format(bridge: Bridge, config_file: Path) -> None:
    add_caseload(bridge.engine)
    table = _report(config_file, "--period", "2026-11", "--by", "role")
    lines = table.splitlines()
    assert lines[0].startswith("Enquiries received 2026-11 (2026-11-01 to 2026-11-30)")
    assert lines[2].split()[:3] == ["Role", "Received", "Previous"]
    assert [line.split()[:2] for line in lines[4:]] == [
        ["Councillors", "4"], ["MPs", "1"], ["All", "enquiries"]]
    rows = list(csv.DictReader(io.StringIO(_report(
        config_file, "--from", "2026-11-01", "--to", "2026-11-30", "--by", "ward,channel",
        "--format", "csv"))))
    north = next(r for r in rows if r["Ward"] == "Clackmannanshire North"
                 and r["Channel"] == "surgery")
    assert (north["Received"], north["Open at end"], north["Overdue now"]) == ("3", "2", "1")
    data = json.loads(_report(config_file, "--period", "2026-11", "--format", "json"))
    assert data["period"] == {"label": "2026-11", "from": "2026-11-01", "to": "2026-11-30"}
    assert data["previous_period"]["label"] == "2026-10"
    total = data["total"]
    assert (total["received"], total["previous_received"], total["within_target"],
            total["median_working_days"], total["p90_working_days"]) == (5, 2, 3, 2, 13)
    page = _report(config_file, "--period", "2026-11", "--by", "category", "--format", "html")
    assert page.startswith("<!DOCTYPE html>") and "<th scope=\"row\">Street lighting fault" \
        in page


@pytest.mark.parametrize(("args", "message"), [
    (["--period", "2026H3"], "--period: '2026H3' is not a period"),
    (["--period", "2026-13"], "--period: '2026-13' has no month 13"),
    (["--from", "2026-11-01"], "--to: give both --from and --to"),
    (["--from", "1 Nov", "--to", "2026-11-30"], "--from: '1 Nov' is not a day"),
    (["--period", "2026H1", "--from", "2026-01-01"], "--period: give either --period"),
    ([], "--period: say which period"),
    (["--period", "2026H1", "--by", "street"], "--by: cannot group by 'street'"),
])
def test_usage_errors_name_the_flag(bridge: Bridge, config_file: Path, args: list[str],
                                    message: str) -> None:
    result = invoke(["--config", str(config_file), "report", *args])
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert "Traceback" not in result.output


def test_scrutiny_command_prints_the_path(bridge: Bridge, config_file: Path,
                                         tmp_path: Path) -> None:
    add_caseload(bridge.engine)
    out = tmp_path / "reports"
    result = invoke(["--config", str(config_file), "report", "scrutiny", "--period", "2026-11",
                     "--out", str(out)])
    assert result.exit_code == 0, (result.output, result.exception)
    first = result.stdout.splitlines()[0]
    assert first == f"scrutiny report for 2026-11: {out / 'scrutiny-2026-11.html'}"
    assert (out / "scrutiny-2026-11-ward.csv").exists()
