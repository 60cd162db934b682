"""The command line as an IT admin, members' services staff and a service officer use it.

Most tests run `crm_bridge.cli:cli` in-process with click's CliRunner on a council folder
made by `crm-bridge init`; the interactive test runs the real console script in a
pseudo-terminal and the end-to-end test runs it as a subprocess found through
$CRM_BRIDGE_CONFIG, as cron would.
"""

from __future__ import annotations

import os
import re
from datetime import date
from importlib.metadata import version
from pathlib import Path

import pytest
from cli_support import (
    CRM_BRIDGE,
    Council,
    add_args,
    case_for,
    copy_council,
    days_ago,
    invoke,
    make_council,
    parse_json,
    run_in_pty,
    run_process,
)

import crm_bridge
from crm_bridge.resources import example_config, shipped_mappings

REFERENCE = re.compile(r"^ENQ-\d{4}-\d{6}$")


def as_initialised() -> str:
    """The example config as `init` writes it: the same but for mail going into a folder."""
    text = example_config().read_text(encoding="utf-8")
    assert text.count("  transport: smtp\n") == 1
    return text.replace("  transport: smtp\n", "  transport: folder  # .eml files in mail/; "
                        "smtp once a mail server is set below\n")


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Council:
    """One `init` per module; each test works on its own copy."""
    return make_council(tmp_path_factory.mktemp("template"))


@pytest.fixture
def council(template: Council, tmp_path: Path) -> Council:
    return copy_council(template, tmp_path)


# --- version, init, check-config ---------------------------------------------------------


def test_version() -> None:
    result = invoke(["--version"])
    assert result.exit_code == 0
    assert result.stdout.strip() == f"crm-bridge, version {crm_bridge.__version__}"
    assert crm_bridge.__version__ == version("crm-bridge")


def test_init_creates_config_mappings_and_an_upgraded_store(tmp_path: Path) -> None:
    target = tmp_path / "clacks"
    result = invoke(["init", str(target)])
    assert result.exit_code == 0, result.output
    assert (target / "config.yaml").read_text(encoding="utf-8") == as_initialised()
    shipped = sorted(p.name for p in shipped_mappings().glob("*.yaml"))
    assert "local.yaml" in shipped
    assert sorted(p.name for p in (target / "mappings").glob("*.yaml")) == shipped
    assert (target / "crm-bridge.db").is_file()
    assert f"created {target / 'config.yaml'}" in result.stdout
    assert f"crm-bridge --config {target / 'config.yaml'} check-config" in result.stdout
    status = parse_json(Council(target).ok("db", "status", "--json").stdout)
    assert status["up_to_date"] is True
    assert status["current"] == status["head"]


def test_init_refuses_to_overwrite_without_force(council: Council) -> None:
    council.edit("config.yaml", "name: Clackmannanshire Council", "name: Clacks Council")
    council.edit("mappings/local.yaml", 'title: "{reference}: {category}"',
                 'title: "{reference} {service}"')
    before = council.snapshot()

    refused = invoke(["init", str(council.root)])
    assert refused.exit_code == 2
    assert refused.stderr == (f"error: {council.config} already exists: edit it, "
                              "or pass --force to replace it\n")
    assert council.snapshot() == before

    replaced = invoke(["init", str(council.root), "--force"])
    assert replaced.exit_code == 0, replaced.output
    assert council.config.read_text(encoding="utf-8") == as_initialised()
    assert (council.root / "mappings" / "local.yaml").read_bytes() == (
        shipped_mappings() / "local.yaml").read_bytes()


def test_check_config_prints_the_ok_line(council: Council) -> None:
    result = council.ok("check-config")
    assert result.stdout == (
        f"{council.config}: OK: Clackmannanshire Council, 5 wards, 20 members "
        "(18 councillors), 17 categories to 11 services, connector 'local'\n"
    )
    assert result.stderr == ""


def test_check_config_json(council: Council) -> None:
    data = parse_json(council.ok("check-config", "--json").stdout)
    assert data == {
        "ok": True,
        "file": str(council.config),
        "council": "Clackmannanshire Council",
        "wards": 5,
        "members": 20,
        "councillors": 18,
        "categories": 17,
        "services": 11,
        "connector": "local",
        "mapped_statuses": 4,
        "warnings": [],
    }


# --- enquiry add --------------------------------------------------------------------------


def test_enquiry_add_with_every_flag_prints_reference_and_service(council: Council) -> None:
    result = council.ok("enquiry", "add", *add_args(
        member="cllr-iain-tennant", category="housing-repair", ward="clacks-north",
        phone="01259 000000", uprn="123456789012", received=days_ago(1)))
    match = re.fullmatch(
        r"(ENQ-\d{4}-000001) logged: routed to Housing repairs \(Hillfoots area office\), "
        r"response due (\w{3} \d{2} \w{3} \d{4})\n", result.stdout)
    assert match, result.stdout
    assert council.counts() == {"enquiries": 1, "enquiry_history": 1, "outbox": 1}
    stored = council.sql("SELECT reference, member_id, ward_id, service_id, constituent_postcode,"
                         " constituent_uprn, channel, logged_by, consent_to_share, status"
                         " FROM enquiries")
    assert stored == [(match.group(1), "cllr-iain-tennant", "clacks-north",
                       "housing-repairs-hillfoots", "FK10 1AA", "123456789012", "surgery",
                       "members.services", 1, "logged")]


def test_enquiry_add_json(council: Council) -> None:
    result = council.ok("enquiry", "add", *add_args(), "--json")
    data = parse_json(result.stdout)
    assert REFERENCE.match(data["reference"])
    assert date.fromisoformat(data["target_date"]) > date.fromisoformat(data["received_at"][:10])
    assert data["member_id"] == "cllr-morag-kinnaird"
    assert data["ward_id"] == "clacks-west"
    assert data["service_id"] == "roads"
    assert data["status"] == "logged"
    assert data["constituent"]["postcode"] == "FK10 1AA"
    assert data["consent"]["to_share"] is True
    assert data["consent"]["recorded_by"] == "members.services"
    assert result.stderr == ""


def test_enquiry_add_received_in_the_past_routes_from_that_day(council: Council) -> None:
    data = parse_json(council.ok("enquiry", "add", *add_args(received="2025-11-03T09:30"),
                                 "--json").stdout)
    # Roads: 10 working days after Monday 3 November 2025 (no holidays in between).
    assert data["target_date"] == "2025-11-17"
    assert data["received_at"] == "2025-11-03T09:30:00Z"


def test_enquiry_add_asks_in_a_terminal(council: Council) -> None:
    """No flags, a real pseudo-terminal: the configured choices are offered, a wrong
    choice is asked again, and the enquiry is logged."""
    env = {**os.environ, "CRM_BRIDGE_CONFIG": str(council.config), "TERM": "dumb",
           "COLUMNS": "200"}
    transcript = run_in_pty(
        [CRM_BRIDGE, "enquiry", "add"],
        [("Member", "cllr-nobody"),
         ("Member", "cllr-iain-tennant"),
         ("Category", "damp-mould"),
         ("Description", "Black mould in the back bedroom"),
         ("name", "Ann Other"),
         ("Share with the other councillors for Clackmannanshire North (Kirsty Dalgleish, "
          "Shona Carmichael and Callum Menzies)?", "y")],
        cwd=council.root, env=env)
    assert transcript.exit_code == 0, transcript.text
    text = transcript.text
    for offered in ("cllr-morag-kinnaird", "cllr-rhona-galbraith", "mp-angus-tulloch",
                    "msp-eilidh-brodie", "pothole", "school-transport", "damp-mould"):
        assert offered in text
    assert "'cllr-nobody' is not one of" in text
    assert re.search(r"ENQ-\d{4}-000001 logged: routed to Housing repairs "
                     r"\(Hillfoots area office\), response due", text), text
    assert "Traceback" not in text
    stored = council.sql("SELECT member_id, category_id, ward_id, description, "
                         "constituent_name, consent_to_share, channel FROM enquiries")
    assert stored == [("cllr-iain-tennant", "damp-mould", "clacks-north",
                       "Black mould in the back bedroom", "Ann Other", 1, "email")]


# --- enquiry list -------------------------------------------------------------------------


def _references(council: Council, *args: str) -> set[str]:
    rows = parse_json(council.ok("enquiry", "list", *args, "--json").stdout)
    return {row["reference"] for row in rows}


def test_enquiry_list_filters(council: Council) -> None:
    late = council.add(received=days_ago(40))  # Kinnaird, West, pothole: overdue after sync
    north = council.add(member="cllr-iain-tennant", category="housing-repair")
    mp = council.add(member="mp-angus-tulloch", category="noise", consent=None,
                     no_consent="")
    council.ok("sync")
    council.ok("officer", "respond", case_for(council, north), "--text", "Repair booked")
    council.ok("sync")

    assert _references(council) == {late, north, mp}
    assert _references(council, "--member", "cllr-iain-tennant") == {north}
    assert _references(council, "--ward", "clacks-west") == {late}
    assert _references(council, "--category", "noise") == {mp}
    assert _references(council, "--status", "responded") == {north}
    assert _references(council, "--status", "sent") == {late, mp}
    assert _references(council, "--overdue") == {late}
    assert _references(council, "--open") == {late, mp}
    assert _references(council, "--open", "--member", "mp-angus-tulloch") == {mp}
    assert _references(council, "--status", "closed") == set()

    rows = parse_json(council.ok("enquiry", "list", "--json").stdout)
    assert rows[-1]["reference"] == late  # newest first: received 40 days ago, it is last
    by_reference = {row["reference"]: row for row in rows}
    assert by_reference[late]["overdue"] is True
    assert by_reference[mp]["ward_id"] is None
    assert by_reference[mp]["consent_to_share"] is False
    assert all("constituent" not in row for row in rows)  # no personal data in lists

    table = council.ok("enquiry", "list", "--overdue").stdout.splitlines()
    assert table[0].split() == ["reference", "received", "member", "category", "status",
                                "target", "overdue"]
    assert set(table[1]) <= {"-", " "}
    assert len(table) == 3 and table[2].startswith(late) and table[2].endswith("yes")
    assert council.ok("enquiry", "list", "--status", "closed").stdout == "no enquiries match\n"


def test_enquiry_list_limit(council: Council) -> None:
    for _ in range(3):
        council.add()
    assert len(parse_json(council.ok("enquiry", "list", "--limit", "2", "--json").stdout)) == 2


# --- enquiry show -------------------------------------------------------------------------


def test_enquiry_show_text_and_json(council: Council) -> None:
    reference = council.add()
    council.ok("sync")
    text = council.ok("enquiry", "show", reference).stdout
    assert text.startswith(f"{reference}  [sent]\n")
    assert "member:       Morag Kinnaird\n" in text
    assert "category:     pothole → Roads and transportation\n" in text
    assert "constituent:  Jean Paterson, 12 Main Street, Alloa, FK10 1AA\n" in text
    assert "consent:      shared with ward colleagues\n" in text
    assert "Deep pothole outside the primary school gates" in text
    history = text.split("history:\n", 1)[1].splitlines()
    assert [line.split()[2] for line in history] == ["logged", "sent"]
    assert "sent to Roads and transportation; response due by" in history[0]

    data = parse_json(council.ok("enquiry", "show", reference, "--json").stdout)
    assert data["reference"] == reference
    assert data["status"] == "sent"
    assert data["crm_ref"] == case_for(council, reference)
    assert [h["event"] for h in data["history"]] == ["logged", "sent"]
    assert data["constituent"]["email"] == "jean.paterson@example.com"


# --- sync and the whole loop ----------------------------------------------------------------


def test_sync_one_line_summary_and_json(council: Council) -> None:
    council.add()
    council.add()
    first = council.ok("sync", "--json")
    data = parse_json(first.stdout)
    assert data["pushed"] == 2
    assert data["failed"] == 0
    assert data["ok"] is True
    again = council.ok("sync")
    assert again.stdout.count("\n") == 1
    assert re.match(r"sync: pushed 0, notes 0, updated 0, failed 0, retry later 0, overdue 0\b",
                    again.stdout), again.stdout
    assert re.search(r"\(\d+\.\d\d s\)$", again.stdout.rstrip()), again.stdout
    assert again.stderr == ""


def test_full_loop_through_the_cli(council: Council) -> None:
    reference = council.add()
    assert "pushed 1," in council.ok("sync").stdout

    queue = parse_json(council.ok("officer", "queue", "--json").stdout)
    assert len(queue) == 1
    case = queue[0]
    assert case["queue"] == "Roads"
    assert case["title"] == f"{reference}: pothole"
    assert case["status"] == "new"
    assert "Constituent postcode: FK10 1AA" in case["body"]
    assert "jean.paterson@example.com" not in case["body"]  # the mapping does not share it
    assert case["case_ref"] in council.ok("officer", "queue").stdout

    answer = "Patched on Monday; the full resurfacing is in next year's programme."
    responded = council.ok("officer", "respond", case["case_ref"], "--text", answer,
                           "--officer", "R. Road")
    assert responded.stdout.startswith(f"{case['case_ref']} is now resolved")
    assert "updated 1," in council.ok("sync").stdout
    shown = council.ok("enquiry", "show", reference).stdout
    assert shown.startswith(f"{reference}  [responded]")
    assert f"response:\n{answer}\n" in shown
    assert re.search(r"response\s+R\. Road\s+Patched on Monday", shown), shown

    council.ok("officer", "close", case["case_ref"])
    council.ok("sync")
    data = parse_json(council.ok("enquiry", "show", reference, "--json").stdout)
    assert data["status"] == "closed"
    assert data["response"] == answer
    assert data["closed_at"] is not None
    # The member was told of the response: as `init` wrote it, mail goes into mail/.
    assert [h["event"] for h in data["history"]] == [
        "logged", "sent", "response", "member_told", "status"]
    assert len(list((council.root / "mail").glob("*.eml"))) == 1
    assert _references(council, "--status", "closed") == {reference}
    assert _references(council, "--open") == set()
    assert council.ok("officer", "queue").stdout == "the queue is empty\n"


# --- enquiry retry --------------------------------------------------------------------------


def test_enquiry_retry_requeues_a_failed_enquiry(council: Council) -> None:
    reference = council.add()
    council.sql("UPDATE outbox SET state = 'failed', attempts = 1, "
                "last_error = 'the CRM refused it'")
    council.sql("UPDATE enquiries SET status = 'failed_to_send', "
                "failure_reason = 'the CRM refused it'")
    assert _references(council, "--status", "failed_to_send") == {reference}

    result = council.ok("enquiry", "retry", reference)
    assert result.stdout == f"{reference} queued: it will be sent on the next sync\n"
    data = parse_json(council.ok("enquiry", "show", reference, "--json").stdout)
    assert data["status"] == "logged"
    assert data["failure_reason"] is None
    assert data["history"][-1]["event"] == "requeued"
    assert council.sql("SELECT state, last_error FROM outbox") == [("pending", None)]

    assert "pushed 1," in council.ok("sync").stdout
    data = parse_json(council.ok("enquiry", "show", reference, "--json").stdout)
    assert data["status"] == "sent"
    assert data["crm_ref"]
    assert len(parse_json(council.ok("officer", "queue", "--json").stdout)) == 1


def test_enquiry_retry_refuses_when_there_is_nothing_to_retry(council: Council) -> None:
    reference = council.add()
    waiting = council.cli("enquiry", "retry", reference)
    assert waiting.exit_code == 2
    assert waiting.stderr == (f"error: {reference} has nothing to retry: "
                              "it is already waiting for the next sync\n")
    council.ok("sync")
    before = council.snapshot()
    sent = council.cli("enquiry", "retry", reference)
    assert sent.exit_code == 2
    assert sent.stderr == f"error: {reference} has nothing to retry\n"
    assert council.snapshot() == before


# --- db -------------------------------------------------------------------------------------


def test_db_upgrade_is_idempotent_and_status_shows_up_to_date(council: Council) -> None:
    first = council.ok("db", "upgrade")
    assert re.fullmatch(r"store already at revision \w+\n", first.stdout), first.stdout
    assert council.ok("db", "upgrade").stdout == first.stdout
    status = council.ok("db", "status").stdout
    assert re.fullmatch(r"store at (\w+), code needs \1: up to date\n", status), status


def test_db_upgrade_from_empty(council: Council) -> None:
    council.store.unlink()
    before = parse_json(council.ok("db", "status", "--json").stdout)
    assert before["current"] is None and before["up_to_date"] is False
    assert "run 'crm-bridge db upgrade'" in council.ok("db", "status").stdout
    upgraded = council.ok("db", "upgrade").stdout
    assert upgraded == f"store upgraded from empty to revision {before['head']}\n"
    assert parse_json(council.ok("db", "status", "--json").stdout)["up_to_date"] is True
    assert council.ok("db", "upgrade").stdout == f"store already at revision {before['head']}\n"


# --- end to end, as cron and a shell would run it ---------------------------------------------


def test_end_to_end_as_subprocesses_with_the_environment_variable(tmp_path: Path) -> None:
    """The installed console script, config found through $CRM_BRIDGE_CONFIG given as a
    relative path; the store lands beside the config, not in the working directory."""
    made = run_process(["init", "clacks"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    env = {"CRM_BRIDGE_CONFIG": "clacks/config.yaml"}

    def run(*args: str) -> str:
        done = run_process(args, cwd=tmp_path, env=env)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr
        return done.stdout

    assert ": OK: Clackmannanshire Council" in run("check-config")
    added = run("enquiry", "add", *add_args(member="cllr-lorna-strachan", category="missed-bin"))
    reference = added.split()[0]
    assert REFERENCE.match(reference)
    assert "routed to Waste and recycling" in added
    assert run("sync").startswith("sync: pushed 1,")
    assert run("enquiry", "show", reference).startswith(f"{reference}  [sent]")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clacks"]
    assert {"config.yaml", "crm-bridge.db", "local-crm.db", "mappings"} <= {
        p.name for p in (tmp_path / "clacks").iterdir()}

    # With neither --config nor the variable, ./config.yaml is used.
    here = run_process(["enquiry", "list"], cwd=tmp_path / "clacks")
    assert here.returncode == 0, here.stderr
    assert reference in here.stdout
