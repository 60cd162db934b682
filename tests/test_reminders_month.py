"""Reminders across simulated months, against a real SMTP server: who gets which e-mail, on
which day, with the clock moved one day at a time and `sync` run each morning at 09:00.

Both months have holidays in them: St Andrew's Day (Monday 30 November 2026) and
Christmas and New Year 2026-27 with the example council's closure days (29-31 December).
The example council's services: roads (10 working days, heads-up 3 before, escalation 5
after), street lighting (10, 2, 5), waste (5, 1, 3). Members' services' digest goes from
07:00, so the 09:00 sync sends it on each working day with something to report.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from support.reminders import (
    HEAD_OF_ROADS,
    LIGHTING,
    MEMBERS_SERVICES,
    PORTAL,
    ROADS,
    WASTE,
    Mail,
    Simulation,
    at,
    open_council,
    working_days,
)
from support.smtp import MailServer, mail_server

from crm_bridge.app import Bridge
from crm_bridge.reminders.extension import extend_deadline


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def council(config_file: Path, store_url: str, mail: MailServer) -> Iterator[Bridge]:
    """The example council on the parametrised store, sending through ``mail``."""
    bridge = open_council(config_file, store_url, mail)
    yield bridge
    bridge.close()


def test_a_month_around_st_andrews_day(council: Bridge, mail: MailServer) -> None:
    sim = Simulation(council, mail)
    d = date
    actions: dict[date, list[Callable[[], None]]] = {
        # A: a pothole, never answered. Due Tue 1 Dec, not Mon 30 Nov (St Andrew's Day).
        d(2026, 11, 16): [
            lambda: sim.log("A", at(d(2026, 11, 16), 8, 30),
                            description="Pothole & broken kerb <by the school gates>"),
            # B: a street light, answered on its last day (16:00 Tue 1 Dec): no reminder.
            lambda: sim.log("B", at(d(2026, 11, 16), 8, 45), member_id="cllr-morag-kinnaird",
                            category_id="street-lighting", description="Street light out",
                            location="Mar Street, Alloa"),
        ],
        # D: answered within two days by a member who wants no e-mail: nothing for anyone.
        d(2026, 11, 17): [lambda: sim.log("D", at(d(2026, 11, 17), 8, 30),
                                          member_id="cllr-callum-menzies")],
        d(2026, 11, 19): [lambda: sim.respond("D", at(d(2026, 11, 19), 10), "Filled today.")],
        # C: a missed bin for a member on the daily digest; due Tue 1 Dec, extended on
        # Fri 27 Nov by 3 working days to Fri 4 Dec, answered late on Mon 7 Dec.
        d(2026, 11, 23): [lambda: sim.log("C", at(d(2026, 11, 23), 8, 30),
                                          member_id="cllr-alasdair-baird",
                                          category_id="missed-bin",
                                          description="Bins missed two weeks running",
                                          location="Bank Street, Alloa")],
        d(2026, 11, 28): [lambda: extend_deadline(
            council.engine, council.router, sim.ref("C"), 3,
            "Crew shortage; the member agreed to give the service until Friday",
            "members.services", now=at(d(2026, 11, 27), 11))],
        # (Actions keyed to a day happen before its 09:00 sync: these two were the
        # afternoon before.)
        d(2026, 12, 2): [lambda: sim.respond("B", at(d(2026, 12, 1), 16),
                                             "Lamp replaced this afternoon.")],
        d(2026, 12, 8): [lambda: sim.respond("C", at(d(2026, 12, 7), 14),
                                             "Collected on Monday; the round is fixed.")],
    }

    sim.run(d(2026, 11, 16), d(2026, 12, 11), actions)

    a, b, c = sim.ref("A"), sim.ref("B"), sim.ref("C")
    assert sorted(sim.mails(), key=lambda m: (m.day, m.kind, m.reference)) == [
        Mail(d(2026, 11, 25), "heads_up", (ROADS,), (), a),
        Mail(d(2026, 11, 26), "heads_up", (LIGHTING,), (), b),
        Mail(d(2026, 11, 27), "heads_up", (WASTE,), (), c),  # before the extension
        Mail(d(2026, 12, 2), "reminder", (ROADS,), (), a),  # not 1 Dec: St Andrew's Day
        Mail(d(2026, 12, 2), "response", ("morag.kinnaird@clacks.example.gov.uk",), (), b),
        Mail(d(2026, 12, 3), "heads_up", (WASTE,), (), c),  # the new date, Fri 4 Dec
        Mail(d(2026, 12, 7), "reminder", (WASTE,), (), c),
        Mail(d(2026, 12, 8), "escalation", (HEAD_OF_ROADS,), (ROADS, MEMBERS_SERVICES), a),
        Mail(d(2026, 12, 8), "member_digest", ("alasdair.baird@clacks.example.gov.uk",), (),
             ""),
    ]
    # Members' services hear every working day once something is due within the week, and
    # never at weekends or on the bank holiday.
    assert sim.digest_days() == working_days(sim, d(2026, 11, 24), d(2026, 12, 11))
    assert d(2026, 11, 30) not in sim.received or sim.received[d(2026, 11, 30)] == []

    # What the service reads: enough to act, nothing about the constituent.
    heads_up = sim.one(d(2026, 11, 25), "heads_up", "A")
    assert heads_up.subject == f"Response due Tue 1 Dec 2026: {a} Pothole or road surface"
    text, html = heads_up.body("plain"), heads_up.body("html")
    assert "is due by Tuesday 1 December 2026 (3 working days from today)" in text
    assert "Pothole & broken kerb <by the school gates>" in text
    assert "Main Street, Tillicoultry" in text  # the location: where the service must go
    assert "Kirsty Dalgleish" in text
    assert f"{PORTAL}/enquiries/{a}" in text and f'href="{PORTAL}/enquiries/{a}"' in html
    assert "Pothole &amp; broken kerb &lt;by the school gates&gt;" in html
    assert "<by the school gates>" not in html
    for message in sim.mails(include_digest=True):
        if message.kind in ("heads_up", "reminder", "escalation", "digest"):
            got = [m for m in sim.received[message.day] if m.kind == message.kind]
            for m in got:
                everything = m.subject + m.body("plain") + m.body("html")
                for personal in ("Jean Paterson", "jean.paterson@example.com", "01259 000000",
                                 "12 Main Street", "FK13 6AA"):
                    assert personal not in everything, (message, personal)

    reminder = sim.one(d(2026, 12, 2), "reminder", "A")
    assert "it is 1 working day overdue" in reminder.body()
    assert ("escalated to head.of.roads@clacks.example.gov.uk on Tuesday 8 December 2026"
            in reminder.body())
    escalation = sim.one(d(2026, 12, 8), "escalation", "A")
    assert escalation.subject == (f"Escalation: {a} Pothole or road surface is 5 working days "
                                  "overdue")

    # The member on "immediately" reads the response the morning it came back.
    response = sim.one(d(2026, 12, 2), "response", "B")
    assert "Dear Morag Kinnaird" in response.body()
    assert "Lamp replaced this afternoon." in response.body()
    assert "within the response date of Tuesday 1 December 2026" in response.body()
    # The member on "daily" reads it in the next morning's digest: late, after the extension.
    digest = sim.one(d(2026, 12, 8), "member_digest")
    assert digest.subject == "1 response to your enquiries"
    assert c in digest.body() and "Collected on Monday; the round is fixed." in digest.body()
    assert "after the response date of Friday 4 December 2026" in digest.body()

    # Members' services' digest: the pothole overdue under Roads, escalated by the 9th.
    staff = sim.one(d(2026, 12, 9), "digest")
    assert staff.subject.startswith("Members' enquiries Wed 9 Dec 2026: 1 overdue, ")
    assert f"{a}  Pothole or road surface, due Tue 1 Dec 2026, 6 working days late, escalated" \
        in staff.body()
    assert "Roads and transportation: 1 overdue" in staff.body()

    # The extension is in C's history with its reason, and the case got a note.
    extended = [h for h in sim.stored("C").history if h.event == "extended"]
    assert len(extended) == 1
    assert "from 2026-12-01 to 2026-12-04" in extended[0].detail
    assert "Crew shortage" in extended[0].detail
    # And every e-mail a service got is in the enquiry's history.
    assert [h.event for h in sim.stored("A").history
            if h.event in ("heads_up_sent", "reminder_sent", "escalated")] == [
        "heads_up_sent", "reminder_sent", "escalated"]

    # Running sync again sends nothing twice.
    again = sim.sync(at(d(2026, 12, 11), 15))
    assert mail.take() == []
    assert again.reminders == 0


def test_christmas_and_new_year_closure(council: Bridge, mail: MailServer) -> None:
    sim = Simulation(council, mail)
    d = date
    sim.run(d(2026, 12, 14), d(2027, 1, 15), {
        # Ten working days from Mon 14 Dec skip Christmas, Boxing Day's substitute (Mon 28),
        # the closure days (29-31 Dec), New Year's Day and 2 January's substitute (Mon 4).
        d(2026, 12, 14): [lambda: sim.log("A", at(d(2026, 12, 14), 8, 30))],
        # Waste, five working days from Mon 21 Dec: due Wed 6 Jan, heads-up Tue 5 Jan.
        d(2026, 12, 21): [lambda: sim.log("W", at(d(2026, 12, 21), 8, 30),
                                          category_id="missed-bin",
                                          member_id="cllr-iain-tennant")],
        d(2027, 1, 6): [lambda: sim.respond("W", at(d(2027, 1, 6), 8), "Collected.")],
    })
    a, w = sim.ref("A"), sim.ref("W")
    assert sorted(sim.mails(), key=lambda m: (m.day, m.kind)) == [
        Mail(d(2026, 12, 23), "heads_up", (ROADS,), (), a),
        Mail(d(2027, 1, 5), "heads_up", (WASTE,), (), w),
        Mail(d(2027, 1, 6), "response", ("iain.tennant@clacks.example.gov.uk",), (), w),
        Mail(d(2027, 1, 7), "reminder", (ROADS,), (), a),
        Mail(d(2027, 1, 13), "escalation", (HEAD_OF_ROADS,), (ROADS, MEMBERS_SERVICES), a),
    ]
    assert sim.one(d(2026, 12, 23), "heads_up").subject.startswith("Response due Wed 6 Jan 2027")
    # Nothing at all between Christmas Eve and Tuesday 5 January.
    quiet = [day for day, got in sim.received.items()
             if d(2026, 12, 25) <= day <= d(2027, 1, 4) and got]
    assert quiet == []
    assert sim.digest_days() == working_days(sim, d(2026, 12, 22), d(2027, 1, 15))
