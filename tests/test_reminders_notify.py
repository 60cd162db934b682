"""What an admin setting up mail sees: `notify test`, `notify list`, `sync --dry-run`, the
council's own templates (and mistakes in them), and reminders switched off.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from cli_support import Council, copy_council, days_ago, make_council, parse_json
from support.reminders import NOW, ROADS, Simulation, at, open_council
from support.smtp import MailServer, mail_server, point_config_at

from crm_bridge.app import Bridge

HEADS_UP_DAY = date(2026, 11, 11)


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Council:
    return make_council(tmp_path_factory.mktemp("template"))


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def council(template: Council, tmp_path: Path, mail: MailServer) -> Council:
    """A council made by `init`, sending through the test server."""
    made = copy_council(template, tmp_path)
    point_config_at(made.config, mail)
    return made


# --- notify test -----------------------------------------------------------------------------


def test_notify_test_sends_one_message(council: Council, mail: MailServer) -> None:
    result = council.ok("notify", "test", "it.helpdesk@clacks.example.gov.uk")
    assert result.stdout == (
        "sent a test message to it.helpdesk@clacks.example.gov.uk through "
        f"127.0.0.1:{mail.port} (none), from members-enquiries@clacks.example.gov.uk; check "
        "it arrived (and was not filed as junk)\n")
    [message] = mail.take()
    assert message.rcpt_tos == ["it.helpdesk@clacks.example.gov.uk"]
    assert message.mail_from == "members-enquiries@clacks.example.gov.uk"
    assert message.subject == ("Test message from Clackmannanshire Council's members' enquiries "
                               "system")
    assert "reminders, escalations and digests can reach it.helpdesk@" in message.body()
    assert message.header("From") == ("Clackmannanshire Council "
                                      "<members-enquiries@clacks.example.gov.uk>")


def test_notify_test_says_why_it_failed(council: Council, mail: MailServer) -> None:
    with mail.down():
        down = council.cli("notify", "test", "it.helpdesk@clacks.example.gov.uk")
    assert down.exit_code == 1
    assert down.stderr == (f"error: the mail server 127.0.0.1:{mail.port} refused the "
                           "connection: is it running, and are smtp.host and smtp.port right?\n")

    mail.refuse["nobody@clacks.example.gov.uk"] = "550 5.1.1 No such user"
    bounced = council.cli("notify", "test", "nobody@clacks.example.gov.uk")
    assert bounced.exit_code == 1
    assert bounced.stderr == ("error: every recipient was refused: nobody@clacks.example.gov.uk: "
                              "550 5.1.1 No such user\n")

    typo = council.cli("notify", "test", "it.helpdesk.clacks.example.gov.uk")
    assert typo.exit_code == 2
    assert typo.stderr == ("error: ADDRESS: 'it.helpdesk.clacks.example.gov.uk' is not an "
                           "e-mail address\n")
    assert mail.take() == []


# --- sync --dry-run, notify list, templates ----------------------------------------------------


def test_dry_run_lists_what_would_go_in_the_councils_own_words_and_records_nothing(
    council: Council, mail: MailServer
) -> None:
    (council.root / "mail-templates").mkdir()
    (council.root / "mail-templates" / "escalation.subject.txt").write_text(
        "[Escalation] {{ enquiry.reference }}: {{ enquiry.service }} has not answered\n")
    council.edit("config.yaml", "  # template_dir: mail-templates\n",
                 "  template_dir: mail-templates\n")
    reference = council.add(received=days_ago(40))  # long past its escalation date

    result = council.ok("sync", "--dry-run")

    assert (f"would e-mail escalation for {reference} to head.of.roads@clacks.example.gov.uk, "
            "roads@clacks.example.gov.uk, members.services@clacks.example.gov.uk: "
            f"[Escalation] {reference}: Roads and transportation has not answered\n"
            ) in result.stdout
    assert council.sql("SELECT count(*) FROM notifications") == [(0,)]
    assert mail.take() == []

    council.ok("sync")
    [escalation] = [m for m in mail.take() if m.kind == "escalation"]
    assert escalation.subject == (f"[Escalation] {reference}: Roads and transportation has "
                                  "not answered")
    assert "has still not arrived" in escalation.body()  # the body is still the shipped one

    listed = parse_json(council.ok("notify", "list", "--state", "sent", "--json").stdout)
    assert [(row["kind"], row["reference"], row["state"]) for row in listed
            if row["kind"] == "escalation"] == [("escalation", reference, "sent")]
    table = council.ok("notify", "list").stdout.splitlines()
    assert table[0].split() == ["decided", "kind", "state", "tries", "reference", "to", "note"]


def test_a_template_dir_that_is_not_there_stops_sync_with_the_fix(council: Council) -> None:
    council.edit("config.yaml", "  # template_dir: mail-templates\n",
                 "  template_dir: mail-templtes\n")
    result = council.cli("sync")
    assert result.exit_code == 2
    assert f"error: reminders.template_dir: {council.root / 'mail-templtes'} is not a folder" \
        in result.stderr


@pytest.fixture
def mailing(config_file: Path, store_url: str, mail: MailServer) -> Iterator[Bridge]:
    (config_file.parent / "mail").mkdir()
    bridge = open_council(config_file, store_url, mail,
                          edits={"  # template_dir: mail-templates":
                                 "  template_dir: mail"})
    yield bridge
    bridge.close()


def test_a_mistake_in_the_councils_template_holds_the_message_until_it_is_fixed(
    mailing: Bridge, mail: MailServer
) -> None:
    override = mailing.loaded.base_dir / "mail" / "heads_up.txt"
    override.write_text("Due {{ enquiry.target_date|longdate }} at {{ enquiry.adress }}\n")
    sim = Simulation(mailing, mail)
    sim.log("A", NOW)
    report = sim.sync(at(HEADS_UP_DAY, 9))
    assert ("mail template heads_up.txt line 1: 'dict object' has no attribute 'adress'; "
            "heads-up messages wait until it is fixed") in report.problems
    assert report.ok
    assert [m.kind for m in mail.take()] == ["digest"]

    override.write_text("Due {{ enquiry.target_date|longdate }} at {{ enquiry.location }}\n")
    sim.sync(at(HEADS_UP_DAY, 10))
    [heads_up] = mail.take()
    assert heads_up.to == [ROADS]
    assert heads_up.body() == "Due Monday 16 November 2026 at Main Street, Tillicoultry\n"


def test_reminders_switched_off_send_nothing(config_file: Path, store_url: str,
                                             mail: MailServer) -> None:
    bridge = open_council(config_file, store_url, mail,
                          edits={"  enabled: true": "  enabled: false"})
    try:
        sim = Simulation(bridge, mail)
        sim.log("A", NOW)
        for day in (HEADS_UP_DAY, date(2026, 11, 17), date(2026, 11, 23)):
            report = sim.sync(at(day, 9))
            assert (report.reminders, report.mail_waiting) == (0, 0)
        assert mail.take() == []
    finally:
        bridge.close()
