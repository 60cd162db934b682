"""Linked enquiries: one CRM case for the same issue, its answers for every member involved,
and unlinking recorded and undone in the CRM too. On SQLite and PostgreSQL, through the real
sync with the embedded CRM (the `local` connector)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select
from support.constants import NOW

from crm_bridge.access.audit import read_audit
from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.links import Actor, LinkDone, link, unlink
from crm_bridge.models import Enquiry, Status
from crm_bridge.privacy.scrub import scrub
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import enquiries, enquiry_links
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync

pytestmark = pytest.mark.timeout(60)

KIRSTY, IAIN, GORDON = "cllr-kirsty-dalgleish", "cllr-iain-tennant", "cllr-gordon-haldane"
STAFF = Actor(username="ms.officer", name="Members' Services", principal=None)
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0)


def sync(bridge: Bridge, now: datetime) -> SyncReport:
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      now=now, policy=NO_WAIT, only=("push", "pull"))
    assert report.ok, report.problems
    return report


def stored(bridge: Bridge, enquiry: Enquiry) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, enquiry.reference)
    assert found is not None
    return found


def do(bridge: Bridge, action: Callable[..., LinkDone], a: Enquiry, b: Enquiry,
       reason: str | None = None, who: Actor = STAFF, at: datetime = NOW) -> LinkDone:
    with bridge.engine.begin() as conn:
        return action(conn, who, a.reference, b.reference, reason, at)


def member(bridge: Bridge, member_id: str) -> Actor:
    principal: Principal = principal_for(
        bridge.config, user_id=1, username=member_id, name=member_id, role=UserRole.MEMBER,
        member_id=member_id, staff_group=None, session_id="t")
    return Actor(username=member_id, name=member_id, principal=principal)


def notes_on(bridge: Bridge, case_ref: str) -> list[str]:
    desk = bridge.connector().desk()
    return [e.body for e in desk.events_since(0, kinds=("note",)) if e.case_ref == case_ref]


def cases(bridge: Bridge) -> list[str]:
    return [c.case_ref for c in bridge.connector().desk().queue(include_done=True)]


def pair(log: Callable[..., Enquiry]) -> tuple[Enquiry, Enquiry]:
    first = log()
    second = log(member_id=IAIN, description="Pothole by the school gates, a car hit it",
                 constituent={"name": "Ruth Moffat", "postcode": "FK13 6AB",
                              "email": "ruth.moffat@example.com"},
                 now=NOW + timedelta(minutes=30))
    return first, second


def test_linked_before_sending_the_second_joins_the_first_case_as_a_note(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    done = do(bridge, link, second, first, "same pothole, school gates")
    assert done.changed and "opens one CRM case" in done.crm

    report = sync(bridge, NOW + timedelta(hours=2))

    assert report.pushed == 2
    assert len(cases(bridge)) == 1, "one CRM case for the pair"
    a, b = stored(bridge, first), stored(bridge, second)
    assert a.crm_ref is not None and b.crm_ref == a.crm_ref
    assert (a.status, b.status) == (Status.SENT, Status.SENT)
    assert a.linked == [second.reference] and b.linked == [first.reference]
    [note] = notes_on(bridge, a.crm_ref)
    assert second.reference in note and "Pothole by the school gates" in note
    assert "Ruth Moffat" not in note and "ruth.moffat" not in note, "no constituent details"
    assert [e.detail for e in b.history if e.event == "linked"] == [
        f"{first.reference}: same pothole, school gates"]
    assert any(e.event == "linked_added" and second.reference in e.detail for e in a.history)
    with bridge.engine.connect() as conn:
        audited = {(r.action, r.reference) for r in read_audit(conn, user="ms.officer")}
    assert audited == {("linked", first.reference), ("linked", second.reference)}
    assert sync(bridge, NOW + timedelta(hours=3)).pushed == 0, "sending twice sends nothing"
    assert len(notes_on(bridge, a.crm_ref)) == 1


def test_the_cases_answers_reach_every_enquiry_folded_into_it(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    do(bridge, link, first, second)
    sync(bridge, NOW + timedelta(hours=2))
    case = stored(bridge, first).crm_ref
    assert case is not None
    answered = NOW + timedelta(days=2)
    bridge.connector().desk().set_status(case, "resolved", "roads.officer",
                                         response="Filled on Tuesday.", at=answered)

    assert sync(bridge, answered + timedelta(hours=1)).updated == 2

    for enquiry in (first, second):
        after = stored(bridge, enquiry)
        assert after.status is Status.RESPONDED
        assert after.response == "Filled on Tuesday."
        assert [e.detail for e in after.history if e.event == "response"] == [
            "Filled on Tuesday."]
    replay = sync(bridge, answered + timedelta(hours=2))
    assert replay.updated == 0


def test_both_sent_already_each_case_gets_a_note_about_the_other(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    sync(bridge, NOW + timedelta(hours=2))
    a, b = stored(bridge, first), stored(bridge, second)
    assert a.crm_ref != b.crm_ref

    done = do(bridge, link, first, second, at=NOW + timedelta(days=1))
    assert "a note about the other to each CRM case" in done.crm
    sync(bridge, NOW + timedelta(days=1, hours=1))

    assert len(cases(bridge)) == 2
    assert a.crm_ref is not None and b.crm_ref is not None
    assert notes_on(bridge, a.crm_ref) == [f"Linked enquiry:\n\nSame issue as "
                                           f"{second.reference} (CRM case {b.crm_ref})."]
    assert notes_on(bridge, b.crm_ref) == [f"Linked enquiry:\n\nSame issue as "
                                           f"{first.reference} (CRM case {a.crm_ref})."]
    assert stored(bridge, second).crm_ref == b.crm_ref, "each keeps its own case"


def test_unlinking_a_folded_enquiry_notes_it_and_gives_it_its_own_case(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    do(bridge, link, first, second)
    sync(bridge, NOW + timedelta(hours=2))
    shared = stored(bridge, first).crm_ref
    assert shared is not None and stored(bridge, second).crm_ref == shared

    with pytest.raises(InputError) as no_reason:
        do(bridge, unlink, second, first, "  ", at=NOW + timedelta(days=1))
    assert no_reason.value.field == "reason"
    done = do(bridge, unlink, second, first, "a different pothole, further up",
              at=NOW + timedelta(days=1))
    assert "opens a case of its own" in done.crm
    sync(bridge, NOW + timedelta(days=1, hours=1))

    own = stored(bridge, second).crm_ref
    assert own is not None and own != shared
    assert len(cases(bridge)) == 2
    assert stored(bridge, second).status is Status.SENT
    assert stored(bridge, first).linked == [] and stored(bridge, second).linked == []
    assert any(second.reference in n and "no longer linked" in n
               for n in notes_on(bridge, shared))
    with bridge.engine.connect() as conn:
        kept = conn.execute(select(enquiry_links).where(
            enquiry_links.c.enquiry_id == str(second.id))).one()
    assert (kept.unlinked_by, kept.unlink_reason) == ("ms.officer",
                                                      "a different pothole, further up")
    assert kept.linked_by == "ms.officer", "the link's own record is kept"
    assert [e.detail for e in stored(bridge, first).history if e.event == "unlinked"] == [
        f"{second.reference}: a different pothole, further up"]

    answered = NOW + timedelta(days=3)
    bridge.connector().desk().set_status(shared, "resolved", "roads.officer",
                                         response="Filled.", at=answered)
    sync(bridge, answered + timedelta(hours=1))
    assert stored(bridge, first).response == "Filled."
    assert stored(bridge, second).response is None, "the old case no longer answers it"


def test_unlinking_two_sent_enquiries_notes_each_case(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    sync(bridge, NOW + timedelta(hours=2))
    do(bridge, link, first, second, at=NOW + timedelta(hours=3))
    do(bridge, unlink, first, second, "not the same", at=NOW + timedelta(hours=4))
    sync(bridge, NOW + timedelta(hours=5))

    for enquiry, other in ((first, second), (second, first)):
        ref = stored(bridge, enquiry).crm_ref
        assert ref is not None
        assert notes_on(bridge, ref)[-1].startswith(
            f"Enquiry unlinked:\n\nNo longer the same issue as {other.reference}")
    again = do(bridge, link, first, second, "they are the same after all",
               at=NOW + timedelta(hours=6))
    assert again.changed
    assert stored(bridge, first).linked == [second.reference]


def test_linking_follows_the_access_policy(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    kirsty = log()
    private = log(member_id=IAIN, consent_to_share=False)
    shared = log(member_id=IAIN)
    elsewhere = log(member_id=GORDON, ward_id="clacks-central")

    with pytest.raises(NotFoundError):  # not hers to see: as if it did not exist
        do(bridge, link, kirsty, private, who=member(bridge, KIRSTY))
    with pytest.raises(InputError) as neither_own:  # he sees both, owns neither
        do(bridge, link, kirsty, shared, who=member(bridge, "cllr-callum-menzies"))
    assert neither_own.value.field == "other"
    with pytest.raises(InputError):
        do(bridge, link, kirsty, kirsty)
    assert do(bridge, link, kirsty, shared, who=member(bridge, KIRSTY)).changed
    assert not do(bridge, link, shared, kirsty, who=member(bridge, IAIN)).changed

    staff = principal_for(bridge.config, user_id=2, username="ms", name="MS",
                          role=UserRole.STAFF, member_id=None, staff_group=None,
                          session_id="t")
    across = do(bridge, link, private, elsewhere,
                who=Actor(username="ms", name="MS", principal=staff))
    assert across.changed, "members' services link across the members they work for"
    with bridge.engine.connect() as conn:
        rows = conn.execute(select(enquiries.c.reference, enquiries.c.folded_into)).all()
    assert all(row.folded_into is None for row in rows), "nothing sent yet"


def test_one_sent_the_other_linked_later_joins_its_case_and_its_notes_follow(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first = log()
    sync(bridge, NOW + timedelta(hours=1))
    second = log(member_id=IAIN, description="Same pothole, reported next day",
                 now=NOW + timedelta(days=1))
    done = do(bridge, link, first, second, at=NOW + timedelta(days=1, minutes=5))
    assert f"adds {second.reference} to the CRM case of {first.reference}" in done.crm
    with bridge.engine.begin() as conn:
        enqueue(conn, str(second.id), "add_note",
                {"text": "Constituent rang again", "author": IAIN, "kind": "follow_up"},
                NOW + timedelta(days=1, minutes=6))
    sync(bridge, NOW + timedelta(days=1, hours=1))

    case = stored(bridge, first).crm_ref
    assert case is not None and stored(bridge, second).crm_ref == case
    assert len(cases(bridge)) == 1
    notes = notes_on(bridge, case)
    assert second.reference in notes[0] and notes[1] == "Constituent rang again"


def test_a_closed_case_takes_no_more_enquiries(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first = log()
    sync(bridge, NOW + timedelta(hours=1))
    case = stored(bridge, first).crm_ref
    assert case is not None
    bridge.connector().desk().set_status(case, "closed", "roads.officer",
                                         at=NOW + timedelta(days=1))
    sync(bridge, NOW + timedelta(days=1, hours=1))
    second = log(member_id=IAIN, now=NOW + timedelta(days=2))
    do(bridge, link, first, second, at=NOW + timedelta(days=2, minutes=5))
    sync(bridge, NOW + timedelta(days=2, hours=1))

    own = stored(bridge, second).crm_ref
    assert own is not None and own != case
    assert notes_on(bridge, case) == []


def test_erasing_an_enquiry_removes_why_it_was_linked(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    do(bridge, link, first, second, "Jean Paterson's neighbour saw it too")
    do(bridge, unlink, first, second, "Ruth Moffat says it is another hole")
    with bridge.engine.begin() as conn:
        scrub(conn, [str(first.id)], NOW + timedelta(days=400))
        rows = conn.execute(select(enquiry_links.c.reason, enquiry_links.c.unlink_reason,
                                   enquiry_links.c.linked_by)).all()
    assert rows and all(r.reason is None and r.unlink_reason is None for r in rows)
    assert all(r.linked_by == "ms.officer" for r in rows), "who and when stay"


def test_unlinking_after_the_shared_case_was_answered_waits_for_its_own_answer(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    first, second = pair(log)
    do(bridge, link, first, second)
    sync(bridge, NOW + timedelta(hours=2))
    shared = stored(bridge, first).crm_ref
    assert shared is not None
    desk = bridge.connector().desk()
    desk.set_status(shared, "resolved", "roads.officer", response="Filled.",
                    at=NOW + timedelta(days=1))
    desk.set_status(shared, "closed", "roads.officer", at=NOW + timedelta(days=2))
    sync(bridge, NOW + timedelta(days=2, hours=1))
    assert stored(bridge, second).status is Status.CLOSED

    do(bridge, unlink, first, second, "another hole", at=NOW + timedelta(days=3))
    waiting = stored(bridge, second)
    assert (waiting.status, waiting.response, waiting.closed_at) == (Status.LOGGED, None, None)
    assert [e.detail for e in waiting.history if e.event == "response"] == ["Filled."]
    sync(bridge, NOW + timedelta(days=3, hours=1))

    own = stored(bridge, second)
    assert own.status is Status.SENT and own.crm_ref not in (None, shared)
    assert stored(bridge, first).status is Status.CLOSED


def test_enquiries_for_two_services_keep_their_own_cases_each_noting_the_other(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    pothole = log()
    lamp = log(member_id=IAIN, category_id="street-lighting",
               description="Lamp out over the pothole at the school gates")
    done = do(bridge, link, pothole, lamp)
    assert "each keeps its own CRM case" in done.crm
    sync(bridge, NOW + timedelta(hours=2))

    a, b = stored(bridge, pothole), stored(bridge, lamp)
    assert a.crm_ref is not None and b.crm_ref is not None and a.crm_ref != b.crm_ref
    assert notes_on(bridge, a.crm_ref) == [
        f"Linked enquiry:\n\nSame issue as {lamp.reference}."]
    assert notes_on(bridge, b.crm_ref) == [
        f"Linked enquiry:\n\nSame issue as {pothole.reference}."]
