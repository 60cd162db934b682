"""`crm-bridge enquiry extend`: a member-agreed extension moves the response date by working
days, is recorded with its reason, reaches the CRM case as a note, and stops reminders
that were waiting for the old date.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_support import Council, copy_council, make_council, parse_json
from sqlalchemy import select
from support.reminders import NOW, ROADS, Simulation, at, open_council
from support.smtp import MailServer, mail_server

from crm_bridge.app import Bridge
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.models import Enquiry
from crm_bridge.reminders.extension import extend_deadline
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.tables import notifications
from crm_bridge.sync.runner import run_sync
from crm_bridge.workdays import WorkingCalendar

REASON = "Awaiting a contractor's quote; agreed with Cllr Kinnaird at her surgery"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Council:
    return make_council(tmp_path_factory.mktemp("template"))


@pytest.fixture
def council(template: Council, tmp_path: Path) -> Council:
    return copy_council(template, tmp_path)


def calendar() -> WorkingCalendar:
    return WorkingCalendar("Europe/London", "GB-SCT", [date(2026, 12, d) for d in (29, 30, 31)]
                           + [date(2027, 12, d) for d in (29, 30, 31)])


def shown(council: Council, reference: str) -> dict[str, object]:
    data: dict[str, object] = parse_json(
        council.ok("enquiry", "show", reference, "--json").stdout)
    return data


# --- the command -----------------------------------------------------------------------------


def test_extend_moves_the_dates_records_the_reason_and_notes_the_case(council: Council) -> None:
    reference = council.add()
    council.ok("sync")
    before = date.fromisoformat(str(shown(council, reference)["target_date"]))

    result = council.ok("enquiry", "extend", reference, "--days", "3", "--reason", REASON,
                        "--by", "members.services")

    after = shown(council, reference)
    target = date.fromisoformat(str(after["target_date"]))
    assert target == calendar().add_working_days(before, 3)
    assert result.stdout == (
        f"{reference}: response now due {target:%a %d %b %Y} (was {before:%a %d %b %Y}); "
        "extended by 3 working days in all. The CRM case gets a note on the next sync.\n")
    assert date.fromisoformat(str(after["warning_date"])) == calendar().subtract_working_days(
        target, 3)  # roads' heads-up stays 3 working days before the (new) date
    history = after["history"]
    assert isinstance(history, list)
    extended = history[-1]
    assert (extended["event"], extended["actor"]) == ("extended", "members.services")
    assert extended["detail"] == (
        f"response date moved from {before.isoformat()} to {target.isoformat()} "
        f"(+3 working days, agreed with the member): {REASON}")

    council.ok("sync")
    history = shown(council, reference)["history"]
    assert isinstance(history, list)
    assert history[-1]["event"] == "note_sent"  # the officer sees the new date in the CRM


def test_extensions_add_up_and_json_says_so(council: Council) -> None:
    reference = council.add()
    original = date.fromisoformat(str(shown(council, reference)["target_date"]))
    council.ok("enquiry", "extend", reference, "--days", "2", "--reason", "Part ordered")
    data = parse_json(council.ok("enquiry", "extend", reference.lower(), "--days", "3",
                                 "--reason", "Part delayed", "--json").stdout)
    assert data["reference"] == reference
    assert (data["days"], data["total_days"]) == (3, 5)
    assert date.fromisoformat(data["target_date"]) == calendar().add_working_days(original, 5)
    assert data["reason"] == "Part delayed"


@pytest.mark.parametrize(("args", "message"), [
    (["ENQ-2026-999999", "--days", "3", "--reason", "x"],
     "error: no enquiry 'ENQ-2026-999999': check the reference (like ENQ-2026-000123)\n"),
    (["{ref}", "--days", "3", "--reason", "   "],
     "error: reason: say why the member agreed to more time\n"),
    (["{ref}", "--days", "0", "--reason", "x"], "0 is not in the range 1<=x<=60"),
    (["{ref}", "--days", "3"], "Missing option '--reason'"),
])
def test_extend_refuses_with_a_reason_you_can_act_on(council: Council, args: list[str],
                                                   message: str) -> None:
    reference = council.add()
    before = shown(council, reference)
    result = council.cli("enquiry", "extend", *[a.replace("{ref}", reference) for a in args])
    assert result.exit_code == 2
    assert message in result.stderr
    assert shown(council, reference) == before


def test_an_answered_enquiry_has_no_date_to_extend(council: Council) -> None:
    reference = council.add()
    council.ok("sync")
    case = str(shown(council, reference)["crm_ref"])
    council.ok("officer", "respond", case, "--text", "Patched")
    council.ok("sync")
    result = council.cli("enquiry", "extend", reference, "--days", "3", "--reason", "x")
    assert result.exit_code == 2
    assert result.stderr == (f"error: reference: {reference} is responded: its response has "
                             "arrived, so there is no date to extend\n")


# --- the function the portal calls -----------------------------------------------------------


def test_an_overdue_enquiry_extended_is_no_longer_overdue(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()  # due Monday 16 November 2026
    friday = at(date(2026, 11, 20), 9)
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      now=friday, only=("push", "overdue"))
    assert report.overdue == 1

    done = extend_deadline(bridge.engine, bridge.router, enquiry.reference, 5, "Storm damage",
                           "portal:alasdair", now=friday + timedelta(hours=1))
    assert (done.previous_target, done.target_date) == (date(2026, 11, 16), date(2026, 11, 23))
    with bridge.engine.connect() as conn:
        stored = get_enquiry(conn, str(enquiry.id))  # by id, as the portal may
    assert stored is not None
    assert (stored.target_date, stored.overdue) == (date(2026, 11, 23), False)

    with pytest.raises(InputError) as refused:
        extend_deadline(bridge.engine, bridge.router, enquiry.reference, 1, "More storms",
                        "portal:alasdair", now=at(date(2026, 11, 30), 9))
    assert refused.value.field == "days"
    assert "Tuesday 24 November 2026, which has passed already" in refused.value.message
    with pytest.raises(NotFoundError):
        extend_deadline(bridge.engine, bridge.router, "ENQ-2026-424242", 1, "x", "me", now=NOW)
    with pytest.raises(InputError, match="at most 500 characters"):
        extend_deadline(bridge.engine, bridge.router, enquiry.reference, 1, "x" * 501, "me",
                        now=NOW)


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def mailing(config_file: Path, store_url: str, mail: MailServer) -> Iterator[Bridge]:
    bridge = open_council(config_file, store_url, mail)
    yield bridge
    bridge.close()


def test_a_reminder_waiting_for_the_old_date_is_not_sent(
    mailing: Bridge, mail: MailServer
) -> None:
    sim = Simulation(mailing, mail)
    sim.log("A", NOW)  # due Monday 16 November; reminder Tuesday 17th
    tuesday = date(2026, 11, 17)
    with mail.down():
        sim.sync(at(tuesday, 9))  # the reminder is decided, and waits for the server
    extend_deadline(mailing.engine, mailing.router, sim.ref("A"), 5, "Storm damage",
                    "members.services", now=at(tuesday, 10))  # now due Monday 23rd
    sim.sync(at(tuesday, 11))
    assert [m.kind for m in mail.take()] == ["digest"]
    n = notifications.c
    with mailing.engine.connect() as conn:
        reminder = conn.execute(select(n.state, n.last_error).where(n.kind == "reminder")).one()
    assert tuple(reminder) == ("cancelled", "the response date moved to 2026-11-23")

    sim.sync(at(date(2026, 11, 18), 9))  # the heads-up for the new date: 3 working days before
    assert [(m.kind, m.to) for m in mail.take() if m.kind != "digest"] == [
        ("heads_up", [ROADS])]
