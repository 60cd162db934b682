"""`sync.deadline_seconds` and the connector's timeouts, as check-config judges them."""

from __future__ import annotations

from pathlib import Path

from cli_support import make_council


def test_connector_timeouts_too_long_for_the_deadline_are_refused_naming_the_field(
        tmp_path: Path) -> None:
    council = make_council(tmp_path)
    council.edit("config.yaml", "  path: local-crm.db\n",
                 "  path: local-crm.db\n  timeout_seconds: 150\n")
    council.edit("config.yaml", "  type: local\n", "  type: rest\n  url: http://127.0.0.1:9\n"
                 "  token: ${CRM_BRIDGE_TEST_UNSET_TOKEN:-x}\n")
    council.edit("config.yaml", "  path: local-crm.db\n", "")
    line = council.line_of("config.yaml", "timeout_seconds: 150")

    result = council.cli("check-config")

    assert result.exit_code == 2
    assert f"{council.config}:{line} connector.timeout_seconds: a CRM call may take 150 s " \
           "(timeout_seconds plus connect_timeout_seconds), more than half of " \
           "sync.deadline_seconds (240 s): lower it, or raise the deadline" in result.output

    council.edit("config.yaml", "  deadline_seconds: 240\n", "  deadline_seconds: 600\n")
    assert council.cli("check-config").exit_code == 0


def test_a_deadline_under_a_minute_is_refused(tmp_path: Path) -> None:
    council = make_council(tmp_path)
    council.edit("config.yaml", "  deadline_seconds: 240\n", "  deadline_seconds: 20\n")
    result = council.cli("check-config")
    assert result.exit_code == 2
    assert "sync.deadline_seconds:" in result.output
