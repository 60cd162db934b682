"""`crm-bridge enquiry search` and the constituent's history in `enquiry show`: the portal's
search and history services from the command line, with --as applying a portal account's
access policy, and the words kept off the command line."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from cli_support import CRM_BRIDGE, invoke, run_in_pty
from support.constants import NOW

from crm_bridge.access.audit import cli_login, read_audit
from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.portal.accounts import UserRole, create_user


def _person(name: str, postcode: str, email: str, phone: str, address: str) -> dict[str, str]:
    return {"name": name, "postcode": postcode, "email": email, "phone": phone,
            "address": address}


OTHER = _person("Robert Muir", "fk10 3bb", "rmuir@example.org", "07700 900123",
                "4 Ochil Road, Alloa")


def _search(config_file: Path, words: str, *flags: str) -> list[str]:
    result = invoke(["--config", str(config_file), "enquiry", "search", "--json", *flags],
                    input=words + "\n")
    assert result.exit_code == 0, result.output
    return [item["reference"] for item in json.loads(result.stdout)["items"]]


def test_search_finds_what_members_type(
        bridge: Bridge, config_file: Path, log: Callable[..., Enquiry]) -> None:
    jean = log()  # Jean Paterson, 12 Main Street, Tillicoultry, FK13 6AA
    robert = log(constituent=OTHER, location="Ochil Road, Alloa",
                 description="Street light out")
    for typed in ("paterson jean", "Patterson", "FK136AA", "fk13", "+44 1259 000000",
                  "JEAN.PATERSON@EXAMPLE.COM", "12 main st", jean.reference.lower()):
        assert _search(config_file, typed)[:1] == [jean.reference], typed
    assert _search(config_file, "ochil rd") == [robert.reference]
    assert _search(config_file, "07700900123") == [robert.reference]
    assert _search(config_file, "no such person") == []
    assert _search(config_file, "", "--category", "pothole") == [robert.reference,
                                                                 jean.reference]
    with bridge.engine.connect() as conn:
        audit = [(r.action, r.actor, r.detail)
                 for r in read_audit(conn, enquiry_id=str(robert.id))]
    assert ("searched", cli_login(), "cli enquiry search") in audit

    table = invoke(["--config", str(config_file), "enquiry", "search"], input="muir\n")
    assert table.exit_code == 0, table.output
    assert robert.reference in table.stdout and "Robert Muir" in table.stdout
    assert "1–1 of 1" in table.stdout


def test_search_asks_for_the_words_in_a_terminal(
        config_file: Path, log: Callable[..., Enquiry]) -> None:
    jean = log()
    env = {**os.environ, "CRM_BRIDGE_CONFIG": str(config_file), "TERM": "dumb",
           "COLUMNS": "200"}
    transcript = run_in_pty([CRM_BRIDGE, "enquiry", "search"],
                            [("Search for", "patterson jean")],
                            cwd=config_file.parent, env=env)
    assert transcript.exit_code == 0, transcript.text
    assert jean.reference in transcript.text and "1–1 of 1" in transcript.text


def test_search_keeps_the_words_off_the_command_line(
        bridge: Bridge, config_file: Path, log: Callable[..., Enquiry]) -> None:
    jean = log()
    cfg = ["--config", str(config_file), "enquiry", "search"]
    refused = invoke([*cfg, "paterson", "jean"], input="")
    assert refused.exit_code == 2
    assert "WORDS: are not taken as arguments" in refused.output
    empty = invoke(cfg, input="")
    assert empty.exit_code == 2
    assert "nothing to search for" in empty.output
    bad_date = invoke([*cfg, "--from", "02/11/2026"], input="jean\n")
    assert bad_date.exit_code == 2 and "--from: '02/11/2026' is not a date" in bad_date.output
    with bridge.engine.connect() as conn:
        assert [r.action for r in read_audit(conn, enquiry_id=str(jean.id))] == []


def _account(bridge: Bridge, username: str, member_id: str) -> None:
    with bridge.engine.begin() as conn:
        create_user(conn, bridge.config, username, UserRole.MEMBER, None, member_id, None, NOW)


def test_search_as_a_member_shows_only_what_they_may_see(
        bridge: Bridge, config_file: Path, log: Callable[..., Enquiry]) -> None:
    own = log()
    shared = log(member_id="cllr-iain-tennant")
    private = log(member_id="cllr-iain-tennant", consent_to_share=False)
    _account(bridge, "kirsty", "cllr-kirsty-dalgleish")
    assert set(_search(config_file, "jean paterson")) == {own.reference, shared.reference,
                                                          private.reference}
    assert set(_search(config_file, "jean paterson", "--as", "kirsty")) == {
        own.reference, shared.reference}
    with bridge.engine.connect() as conn:
        assert [r.actor for r in read_audit(conn, enquiry_id=str(private.id))
                if r.action == "searched"] == [cli_login()]


def test_show_lists_the_constituents_other_enquiries(
        bridge: Bridge, config_file: Path, log: Callable[..., Enquiry]) -> None:
    first = log()
    shared = log(member_id="cllr-iain-tennant", category_id="missed-bin",
                 description="Bins not emptied")
    private = log(member_id="cllr-iain-tennant", consent_to_share=False,
                  constituent={**_person("J. Paterson", "FK13 6AA", "JEAN.PATERSON@example.com",
                                         "", "12 Main Street, Tillicoultry")})
    log(constituent=OTHER)
    _account(bridge, "kirsty", "cllr-kirsty-dalgleish")
    cfg = ["--config", str(config_file), "enquiry", "show", first.reference]

    as_operator = invoke(cfg)
    assert as_operator.exit_code == 0, as_operator.output
    assert "constituent's other enquiries: 2 (2 open)" in as_operator.stdout
    assert shared.reference in as_operator.stdout and private.reference in as_operator.stdout
    assert "same e-mail" in as_operator.stdout

    as_kirsty = invoke([*cfg, "--as", "kirsty"])
    assert as_kirsty.exit_code == 0, as_kirsty.output
    assert "constituent's other enquiries: 1 (1 open)" in as_kirsty.stdout
    assert shared.reference in as_kirsty.stdout
    assert private.reference not in as_kirsty.stdout
    assert "1 more held by another member (1 open)" in as_kirsty.stdout

    got = json.loads(invoke([*cfg, "--as", "kirsty", "--json"]).stdout)["constituent_history"]
    assert (got["total"], got["hidden"]) == (1, 1)
    assert [i["reference"] for i in got["items"]] == [shared.reference]
    with bridge.engine.connect() as conn:
        seen = {r.actor: r.detail for r in read_audit(conn, enquiry_id=str(shared.id))}
        hidden = [r.actor for r in read_audit(conn, enquiry_id=str(private.id))]
    assert seen["kirsty"] == "constituent history"
    assert hidden == [cli_login()]  # the operator's look; kirsty only counted it

    alone = invoke(["--config", str(config_file), "enquiry", "show",
                    _search(config_file, "muir")[0]])
    assert "constituent's other enquiries" not in alone.stdout
