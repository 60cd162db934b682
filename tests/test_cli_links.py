"""`crm-bridge enquiry link` and `enquiry unlink`: the same path as the portal, from cron or
a terminal, with --as applying a portal account's access policy."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from cli_support import invoke
from support.constants import NOW

from crm_bridge.access.audit import cli_login, read_audit
from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.portal.accounts import UserRole, create_user
from crm_bridge.store.enquiries import get_enquiry


def _linked(bridge: Bridge, reference: str) -> list[str]:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, reference)
    assert found is not None
    return found.linked


def test_link_and_unlink_from_the_command_line(
        bridge: Bridge, config_file: Path, log: Callable[..., Enquiry]) -> None:
    first = log()
    second = log(member_id="cllr-iain-tennant", description="Same pothole, by the gates")
    cfg = ["--config", str(config_file)]

    made = invoke([*cfg, "enquiry", "link", first.reference, second.reference.lower(),
                   "--reason", "same gates", "--json"])
    assert made.exit_code == 0, made.output
    assert json.loads(made.stdout)["changed"] is True
    assert _linked(bridge, first.reference) == [second.reference]

    missing = invoke([*cfg, "enquiry", "unlink", first.reference, second.reference])
    assert missing.exit_code == 2
    assert "--reason" in missing.output

    undone = invoke([*cfg, "enquiry", "unlink", first.reference, second.reference,
                     "--reason", "different gates"])
    assert undone.exit_code == 0, undone.output
    assert f"{first.reference} and {second.reference} unlinked" in undone.stdout
    assert _linked(bridge, first.reference) == []
    with bridge.engine.connect() as conn:
        audit = [(r.action, r.actor) for r in read_audit(conn, enquiry_id=str(second.id))]
    assert audit == [("linked", cli_login()), ("unlinked", cli_login())]

    again = invoke([*cfg, "enquiry", "unlink", first.reference, second.reference,
                    "--reason", "twice"])
    assert again.exit_code == 2
    assert "is not linked to" in again.output


def test_link_as_a_member_follows_the_access_policy(
        bridge: Bridge, config_file: Path, log: Callable[..., Enquiry]) -> None:
    own = log()
    private = log(member_id="cllr-iain-tennant", consent_to_share=False)
    with bridge.engine.begin() as conn:
        create_user(conn, bridge.config, "kirsty", UserRole.MEMBER, None,
                    "cllr-kirsty-dalgleish", None, NOW)
    refused = invoke(["--config", str(config_file), "enquiry", "link", own.reference,
                      private.reference, "--as", "kirsty"])
    assert refused.exit_code != 0
    assert f"no enquiry '{private.reference}'" in refused.output
    assert _linked(bridge, own.reference) == []
