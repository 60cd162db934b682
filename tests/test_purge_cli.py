"""`crm-bridge purge` as cron runs it: --dry-run, --json, a second run finding nothing, and a
run while another holds the lock, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cli_support import invoke
from support.privacy import person, respond, stored

from crm_bridge.app import Bridge
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.privacy.scrub import REMOVED
from crm_bridge.store.locks import held

pytestmark = pytest.mark.timeout(120)


def _purge(config: Path, *args: str) -> dict[str, object]:
    result = invoke(["--config", str(config), "purge", *args, "--json"])
    assert result.exit_code == 0, (result.output, result.exception)
    loaded: dict[str, object] = json.loads(result.stdout)
    return loaded


def test_purge_from_cron_removes_what_expired_once(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=31 * 30)
    old = log_enquiry(bridge.engine, bridge.config, bridge.router,
                      draft(constituent=person("Agnes Kinross", "agnes@example.com",
                                               "01259 777777")), long_ago)
    old = respond(bridge, old, long_ago + timedelta(days=5), "Repaired")
    recent = log_enquiry(bridge.engine, bridge.config, bridge.router, draft(),
                         datetime.now(UTC) - timedelta(days=3))

    dry = _purge(config_file, "--dry-run")
    assert (dry["dry_run"], dry["enquiries"], dry["references"]) == (True, 1, [old.reference])
    assert stored(bridge, old.reference).constituent.name == "Agnes Kinross"

    done = _purge(config_file)
    assert (done["dry_run"], done["references"]) == (False, [old.reference])
    assert done["crm"] == {"mode": "list", "anonymised": [], "to_action": [
        {"reference": old.reference, "crm_ref": old.crm_ref,
         "why": "purged in the bridge: apply the CRM's own retention to this case"}]}
    assert stored(bridge, old.reference).constituent.name == REMOVED
    assert stored(bridge, recent.reference).constituent.name == "Jean Paterson"

    assert _purge(config_file)["enquiries"] == 0

    text = invoke(["--config", str(config_file), "purge"])
    assert text.exit_code == 0
    assert text.output.startswith("purge removed the personal data of 0 enquiries (")


def test_a_second_purge_while_one_runs_exits_cleanly_naming_the_holder(
    bridge: Bridge, config_file: Path
) -> None:
    with held(bridge.engine, "purge", datetime.now(UTC)):
        result = invoke(["--config", str(config_file), "purge"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("another purge is running (pid ")


def test_enquiry_show_says_when_personal_data_was_removed(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    long_ago = datetime.now(UTC) - timedelta(days=31 * 30)
    old = log_enquiry(bridge.engine, bridge.config, bridge.router, draft(), long_ago)
    respond(bridge, old, long_ago + timedelta(days=5), "Repaired")
    _purge(config_file)
    shown = invoke(["--config", str(config_file), "enquiry", "show", old.reference])
    assert shown.exit_code == 0, shown.output
    assert "constituent:  (personal data removed)\n" in shown.output
    assert "\npersonal data removed " in shown.output
    assert "Jean Paterson" not in shown.output and "Repaired" not in shown.output
