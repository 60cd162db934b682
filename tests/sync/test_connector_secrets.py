"""A connector's settings and secrets are needed only by the commands that talk to the CRM.

`enquiry add`, `enquiry list`, `report` never open the connector, so a CRM token missing
from their environment must not stop them; `sync` and `connector check` refuse with one
line naming the variable; `check-config` validates the settings' shape and warns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_support import Council, add_args, invoke, make_council, parse_json

VARIABLE = "CRM_BRIDGE_TEST_UNSET_RT_TOKEN"


@pytest.fixture
def rt_council(tmp_path: Path) -> Council:
    """A council on the rt connector whose token comes from a variable nobody set."""
    council = make_council(tmp_path)
    council.edit("config.yaml", "connector:\n  type: local\n",
                 f"connector:\n  type: rt\n  url: http://127.0.0.1:9\n"
                 f"  token: ${{{VARIABLE}}}\n")
    council.edit("config.yaml", "  path: local-crm.db\n", "")
    return council


def run(council: Council, *args: str) -> tuple[int, str, str]:
    result = invoke(["--config", str(council.config), *args], env={VARIABLE: None})
    return result.exit_code, result.stdout, result.stderr


def test_commands_that_do_not_talk_to_the_crm_run_without_its_token(
        rt_council: Council) -> None:
    code, out, err = run(rt_council, "enquiry", "add", *add_args(), "--json")
    assert (code, err) == (0, "")
    reference = parse_json(out)["reference"]

    code, out, _ = run(rt_council, "enquiry", "list")
    assert code == 0 and reference in out
    code, _, _ = run(rt_council, "enquiry", "show", reference)
    assert code == 0


def test_sync_and_connector_check_refuse_in_one_line_naming_the_variable(
        rt_council: Council) -> None:
    line = rt_council.line_of("config.yaml", VARIABLE)
    for command in (("sync",), ("connector", "check")):
        code, out, err = run(rt_council, *command)
        assert code == 2, (command, out, err)
        assert err.strip().splitlines() == [
            f"error: {rt_council.config}:{line} connector.token: environment variable "
            f"{VARIABLE} is not set: export {VARIABLE}=... for the commands that talk to "
            f"the CRM (sync, connector check), or write ${{{VARIABLE}:-default}}"], command


def test_check_config_checks_the_settings_and_warns_of_the_unset_variable(
        rt_council: Council) -> None:
    code, out, err = run(rt_council, "check-config")
    assert code == 0
    assert out.startswith(f"{rt_council.config}: OK: ")
    assert err.startswith("warning: ") and VARIABLE in err

    code, out, _ = run(rt_council, "check-config", "--json")
    data = parse_json(out)
    assert (code, data["ok"], len(data["warnings"])) == (0, True, 1)
    assert VARIABLE in data["warnings"][0]


def test_check_config_still_refuses_a_bad_setting_beside_an_unset_variable(
        rt_council: Council) -> None:
    rt_council.edit("config.yaml", "  url: http://127.0.0.1:9\n",
                    "  url: http://127.0.0.1:9\n  timeout_seconds: -1\n")
    code, _, err = run(rt_council, "check-config")
    assert code == 2
    assert "connector.timeout_seconds" in err

