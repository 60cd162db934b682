"""Getting reminders out against a real SMTP server that crashes, refuses, drops, stalls and
bounces: every message goes exactly once, late if need be, and a bounce is reported.

One enquiry throughout: a pothole logged on Monday 2 November 2026 for the roads service,
heads-up due Wednesday 11 November, response due Monday 16, reminder Tuesday 17,
escalation Monday 23. Members' services' digest goes with the first sync from 07:00 on
working days with something to report (here from the 11th, when the pothole is due
within the week).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from support.reminders import (
    HEAD_OF_ROADS,
    MEMBERS_SERVICES,
    NOW,
    ROADS,
    Simulation,
    at,
    open_council,
)
from support.smtp import MailServer, Received, mail_server
from support.tls import TlsFiles

from crm_bridge.app import Bridge
from crm_bridge.reminders import send as send_module
from crm_bridge.reminders.smtp import SmtpMailer
from crm_bridge.store.tables import notifications

HEADS_UP_DAY = date(2026, 11, 11)

# Tests of how the bridge talks SMTP run on SQLite only; those of what the store records
# (crashes, bounces, cancelling) run on PostgreSQL too.
SQLITE_ONLY = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


class Crash(BaseException):
    """The process dying mid-run: no ``except Exception`` in the bridge catches it."""


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def council(config_file: Path, store_url: str, mail: MailServer) -> Iterator[Bridge]:
    bridge = open_council(config_file, store_url, mail, timeout=1)
    yield bridge
    bridge.close()


@pytest.fixture
def sim(council: Bridge, mail: MailServer) -> Simulation:
    """The pothole logged and sent to the CRM; no mail yet."""
    sim = Simulation(council, mail)
    sim.log("A", NOW)
    sim.sync(NOW + timedelta(hours=1))
    assert mail.take() == []
    return sim


def rows(bridge: Bridge, kind: str = "heads_up") -> list[tuple[str, int, str | None]]:
    n = notifications.c
    with bridge.engine.connect() as conn:
        return [(r.state, r.attempts, r.last_error) for r in conn.execute(
            select(n.state, n.attempts, n.last_error).where(n.kind == kind).order_by(n.id))]


def kinds(received: list[Received]) -> list[tuple[str, list[str]]]:
    return sorted((m.kind, m.to) for m in received)


# --- a crash -----------------------------------------------------------------------------


def test_a_crash_after_deciding_sends_the_message_once_on_the_next_run(
    sim: Simulation, mail: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    def die(self: SmtpMailer, sender: str, recipients: Any, message: bytes) -> Any:
        raise Crash

    monkeypatch.setattr(SmtpMailer, "send", die)
    with pytest.raises(Crash):
        sim.sync(at(HEADS_UP_DAY, 9))
    assert mail.take() == []
    assert rows(sim.bridge) == [("pending", 0, None)]  # decided and recorded, not sent

    monkeypatch.undo()
    sim.sync(at(HEADS_UP_DAY, 9, 5))
    assert kinds(mail.take()) == [("digest", [MEMBERS_SERVICES]), ("heads_up", [ROADS])]
    for minute in (10, 15):
        sim.sync(at(HEADS_UP_DAY, 9, minute))
        sim.sync(at(HEADS_UP_DAY + timedelta(days=1), 8, minute))
    assert [m.kind for m in mail.take()] == ["digest"]  # the 12th's; no second heads-up
    assert rows(sim.bridge) == [("sent", 1, None)]


def test_a_crash_after_the_server_took_it_resends_the_same_message_once(
    sim: Simulation, mail: MailServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The documented trade-off: at least once. The copy is the same message, with the
    same Message-ID, so mail systems that de-duplicate by it drop it."""

    def die(*args: Any, **kwargs: Any) -> None:
        raise Crash

    monkeypatch.setattr(send_module, "mark_sent", die)
    with pytest.raises(Crash):
        sim.sync(at(HEADS_UP_DAY, 9))
    [first] = mail.take()
    assert first.kind == "heads_up"

    monkeypatch.undo()
    sim.sync(at(HEADS_UP_DAY, 9, 5))
    again = [m for m in mail.take() if m.kind == "heads_up"]
    assert len(again) == 1
    assert again[0].header("Message-ID") == first.header("Message-ID") != ""
    assert again[0].raw == first.raw
    sim.sync(at(HEADS_UP_DAY, 9, 10))
    assert mail.take() == []


# --- a mail server that is down or misbehaves ----------------------------------------------


@contextmanager
def replying(mail: MailServer, reply: str) -> Iterator[None]:
    mail.data_reply = reply
    try:
        yield
    finally:
        mail.data_reply = None


@contextmanager
def refusing(mail: MailServer, address: str, reply: str) -> Iterator[None]:
    mail.refuse[address] = reply
    try:
        yield
    finally:
        mail.refuse.clear()


TROUBLE: dict[str, tuple[Callable[[MailServer], AbstractContextManager[None]], str]] = {
    "refuses connections": (lambda m: m.down(), "refused the connection"),
    "drops every connection": (lambda m: m.dropping(), "closed the connection"),
    "never answers": (lambda m: m.silent(), "did not answer within 1 s"),
    "421 at DATA": (lambda m: replying(m, "421 4.3.2 Service shutting down"), "421 4.3.2"),
    "451 at DATA": (lambda m: replying(m, "451 4.3.0 Try again later"), "451 4.3.0"),
    "450 for the recipient": (lambda m: refusing(m, ROADS, "450 4.2.1 Mailbox busy"),
                              "450 4.2.1 Mailbox busy"),
}


@pytest.mark.parametrize("trouble", list(TROUBLE))
@SQLITE_ONLY
def test_a_server_in_trouble_loses_nothing_and_the_message_goes_once_it_is_back(
    sim: Simulation, mail: MailServer, trouble: str
) -> None:
    make, said = TROUBLE[trouble]
    with make(mail):
        report = sim.sync(at(HEADS_UP_DAY, 9))
    assert "heads_up" not in [m.kind for m in mail.take()]
    assert report.ok  # mail trouble does not fail the sync; the report says why
    assert report.mail_waiting >= 1
    [(state, attempts, error)] = rows(sim.bridge)
    assert (state, attempts) == ("pending", 1)
    assert error is not None and said in error

    later = sim.sync(at(HEADS_UP_DAY, 11))
    assert [(m.kind, m.to) for m in mail.take() if m.kind == "heads_up"] == [
        ("heads_up", [ROADS])]
    assert later.mail_waiting == 0
    assert rows(sim.bridge) == [("sent", 2, None)]
    sim.sync(at(HEADS_UP_DAY, 12))
    assert mail.take() == []


@SQLITE_ONLY
def test_while_the_server_is_down_one_connection_attempt_a_run(
    sim: Simulation, mail: MailServer
) -> None:
    with mail.down():
        report = sim.sync(at(HEADS_UP_DAY, 9))
    assert report.mail_waiting == 2  # the heads-up and the digest
    assert [line for line in report.problems if line.startswith("mail:")] == [
        f"mail: the mail server 127.0.0.1:{mail.port} refused the connection: is it running, "
        "and are smtp.host and smtp.port right?; 2 message(s) wait for the next sync"]
    assert rows(sim.bridge, "digest") == [("pending", 0, None)]  # not even tried


def test_a_recipient_refused_for_good_is_failed_with_the_reason_and_reported(
    sim: Simulation, mail: MailServer
) -> None:
    with refusing(mail, ROADS, "550 5.1.1 <roads@clacks.example.gov.uk>: no such mailbox"):
        report = sim.sync(at(HEADS_UP_DAY, 9))
    assert report.mail_failed == 1 and report.reminders == 1  # the digest went
    assert "mail: 1 message(s) refused for good: see `crm-bridge notify list --state failed`" \
        in report.problems
    [(state, _, error)] = rows(sim.bridge)
    assert state == "failed"
    assert error == ("every recipient was refused: roads@clacks.example.gov.uk: 550 5.1.1 "
                     "<roads@clacks.example.gov.uk>: no such mailbox")
    assert [m.kind for m in mail.take()] == ["digest"]

    sim.sync(at(HEADS_UP_DAY, 10))  # not retried: it would only bounce again
    assert mail.take() == []
    sim.sync(at(HEADS_UP_DAY + timedelta(days=1), 9))
    [digest] = mail.take()
    assert "E-MAILS THAT COULD NOT BE DELIVERED (last 7 days): 1" in digest.body()
    assert "550 5.1.1" in digest.body()
    assert digest.subject.endswith(", 1 e-mails undelivered")


def test_a_late_sync_catches_up_and_a_partly_refused_escalation_counts_as_sent(
    sim: Simulation, mail: MailServer
) -> None:
    """No sync from the 2nd to the 23rd: the stale heads-up is not sent, the reminder and
    the escalation are. Members' services' mailbox bounces: the escalation still reached
    the head of service, so it is sent (with a note), and the digest to that box failed."""
    with refusing(mail, MEMBERS_SERVICES, "550 5.2.1 Mailbox disabled"):
        report = sim.sync(at(date(2026, 11, 23), 9))
    assert kinds(mail.take()) == [("escalation", [HEAD_OF_ROADS]), ("reminder", [ROADS])]
    assert rows(sim.bridge, "heads_up") == []
    [(state, _, note)] = rows(sim.bridge, "escalation")
    assert state == "sent"
    assert note == ("not delivered to members.services@clacks.example.gov.uk "
                    "(550 5.2.1 Mailbox disabled)")
    assert [state for state, _, _ in rows(sim.bridge, "digest")] == ["failed"]
    assert report.reminders == 2 and report.mail_failed == 1


def test_a_response_that_arrives_while_the_reminder_waits_stops_it(
    sim: Simulation, mail: MailServer
) -> None:
    reminder_day = date(2026, 11, 17)
    with mail.down():
        sim.sync(at(reminder_day, 9))
    assert rows(sim.bridge, "reminder") == [
        ("pending", 1, f"the mail server 127.0.0.1:{mail.port} refused the connection: "
                       "is it running, and are smtp.host and smtp.port right?")]
    sim.respond("A", at(reminder_day, 10), "Patched this morning.")
    sim.sync(at(reminder_day, 11))
    got = mail.take()
    assert "reminder" not in [m.kind for m in got]
    assert ("response", ["kirsty.dalgleish@clacks.example.gov.uk"]) in kinds(got)
    assert rows(sim.bridge, "reminder") == [("cancelled", 1, "the enquiry is responded now")]


# --- the mail server's login and TLS --------------------------------------------------------


@SQLITE_ONLY
def test_the_password_comes_from_the_environment_and_never_shows(
    config_file: Path, store_url: str, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture, test_ca: TlsFiles
) -> None:
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("  # username: crm-bridge\n", "  username: crm-bridge\n")
                           .replace("  # ca_file: council-ca.pem\n",
                                    f"  ca_file: {test_ca.ca_file}\n"), encoding="utf-8")
    caplog.set_level(logging.DEBUG)
    with mail_server(login=("crm-bridge", "correct horse"),
                     tls=test_ca.server_context()) as mail:
        monkeypatch.setenv("SMTP_PASSWORD", "wrong battery")
        bridge = open_council(config_file, store_url, mail)
        try:
            sim = Simulation(bridge, mail)
            sim.log("A", NOW)
            report = sim.sync(at(HEADS_UP_DAY, 9))
        finally:
            bridge.close()
        assert mail.take() == []
        assert any("refused the login for 'crm-bridge' (535" in line for line in report.problems)
        assert "wrong battery" not in " ".join(report.problems) + caplog.text

        monkeypatch.setenv("SMTP_PASSWORD", "correct horse")
        bridge = Bridge.open(config_file)
        try:
            report = Simulation(bridge, mail).sync(at(HEADS_UP_DAY, 9, 1))
        finally:
            bridge.close()
        assert kinds(mail.take()) == [("digest", [MEMBERS_SERVICES]), ("heads_up", [ROADS])]
        assert "correct horse" not in " ".join(report.problems) + caplog.text


@SQLITE_ONLY
def test_starttls_asked_of_a_server_without_it_keeps_the_message(
    config_file: Path, store_url: str, mail: MailServer
) -> None:
    bridge = open_council(config_file, store_url, mail,
                          edits={"  security: starttls": "  security: starttls"})
    try:
        sim = Simulation(bridge, mail)
        sim.log("A", NOW)
        report = sim.sync(at(HEADS_UP_DAY, 9))
        assert mail.take() == []
        assert any("does not support what smtp: asks for" in line and "STARTTLS" in line
                   for line in report.problems)
        assert [state for state, _, _ in rows(bridge)] == ["pending"]
    finally:
        bridge.close()


@SQLITE_ONLY
def test_a_run_sends_at_most_max_per_run(config_file: Path, store_url: str,
                                         mail: MailServer) -> None:
    bridge = open_council(config_file, store_url, mail,
                          edits={"  max_per_run: 500": "  max_per_run: 1"})
    try:
        sim = Simulation(bridge, mail)
        sim.log("A", NOW)
        first = sim.sync(at(HEADS_UP_DAY, 9))
        assert (first.reminders, first.mail_waiting) == (1, 1)
        assert [m.kind for m in mail.take()] == ["heads_up"]  # decided first, sent first
        second = sim.sync(at(HEADS_UP_DAY, 9, 5))
        assert (second.reminders, second.mail_waiting) == (1, 0)
        assert [m.kind for m in mail.take()] == ["digest"]
    finally:
        bridge.close()
