"""The case's response reaches every member whose enquiry was folded into it, by e-mail as
for any response, each about their own enquiry only (a real SMTP server takes the mail)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from support.reminders import NOW, Simulation, at, open_council
from support.smtp import MailServer, mail_server

from crm_bridge.app import Bridge
from crm_bridge.links import Actor, link

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

STAFF = Actor(username="ms.officer", name="Members' Services", principal=None)
RUTH = {"name": "Ruth Moffat", "postcode": "FK13 6AB", "email": "ruth.moffat@example.com"}


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def council(config_file: Path, store_url: str, mail: MailServer) -> Iterator[Bridge]:
    bridge = open_council(config_file, store_url, mail, timeout=1)
    yield bridge
    bridge.close()


def test_each_member_is_told_of_the_response_on_their_own_enquiry(
        council: Bridge, mail: MailServer) -> None:
    sim = Simulation(council, mail)
    sim.log("kirsty", NOW)
    sim.log("iain", NOW + timedelta(minutes=40), member_id="cllr-iain-tennant",
            constituent=RUTH, description="Pothole by the school gate, my car hit it")
    with council.engine.begin() as conn:
        link(conn, STAFF, sim.ref("iain"), sim.ref("kirsty"), None, NOW + timedelta(hours=1))
    sim.sync(NOW + timedelta(hours=2))
    assert sim.stored("iain").crm_ref == sim.stored("kirsty").crm_ref
    mail.take()

    answered = NOW + timedelta(days=2)
    sim.respond("kirsty", answered, "The pothole was filled this morning.")
    sim.sync(at(answered.date(), 17))
    got = [m for m in mail.take() if m.kind == "response"]

    assert sorted((m.to[0], m.reference) for m in got) == [
        ("iain.tennant@clacks.example.gov.uk", sim.ref("iain")),
        ("kirsty.dalgleish@clacks.example.gov.uk", sim.ref("kirsty"))]
    for message in got:
        body = message.body()
        assert "The pothole was filled this morning." in body
        other = "Jean Paterson" if message.reference == sim.ref("iain") else "Ruth Moffat"
        assert other not in body, "no other member's constituent"
