"""What every connector promises the bridge, checked against each CRM for real.

Each test is run once per backend registered in conftest.py (``-k rt`` picks one).
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable

import pytest
from PIL import Image
from support.connector_kit import make_enquiry

from connectors.base import CaseUpdate, Connector, Note, OutgoingAttachment, SendsAttachments
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import Status

from .conftest import Backend, SeesFiles


def _drain(connector: Connector, since: str | None) -> tuple[list[CaseUpdate], str | None]:
    """Every update since the cursor, and the cursor to resume from after them (the last
    update's, or a later ``CursorMark``'s)."""
    read = list(connector.fetch_updates(since))
    updates = [u for u in read if isinstance(u, CaseUpdate)]
    return updates, (read[-1].cursor if read else since)


def _for(updates: list[CaseUpdate], case_ref: str) -> list[CaseUpdate]:
    return [u for u in updates if u.case_ref == case_ref]


def test_create_is_idempotent_by_external_reference(backend: Backend) -> None:
    """A retried push, even from a new sync process, finds the case instead of opening another."""
    enquiry = make_enquiry(backend.destination)
    first = backend.connector.create_case(enquiry, backend.destination)
    again = backend.connector.create_case(enquiry, backend.destination)
    later = backend.reconnect().create_case(enquiry, backend.destination)

    assert first.created
    assert (again.id, again.created) == (first.id, False)
    assert (later.id, later.created) == (first.id, False)
    assert backend.officer.cases_for(enquiry) == [first.id]


def test_each_enquiry_gets_its_own_case(backend: Backend) -> None:
    one = backend.connector.create_case(make_enquiry(backend.destination), backend.destination)
    two = backend.connector.create_case(make_enquiry(backend.destination), backend.destination)
    assert one.id != two.id


def test_notes_reach_the_case_in_order(backend: Backend) -> None:
    """Member follow-ups and links to duplicates are read by the officer on the case."""
    case = backend.connector.create_case(make_enquiry(backend.destination), backend.destination)
    backend.connector.add_note(case.id, Note("Constituent rang again: a child tripped.",
                                             "cllr-kirsty-dalgleish"))
    backend.connector.add_note(case.id, Note("Same pothole as ENQ-2026-000007.",
                                             "members.services", kind="duplicate_link"))
    notes = backend.officer.notes(case.id)
    assert len(notes) == 2
    assert "Constituent rang again: a child tripped." in notes[0]
    assert "Same pothole as ENQ-2026-000007." in notes[1]


def test_link_and_unlink_notes_reach_the_case_each_saying_which_it_is(
        backend: Backend) -> None:
    """Linking two enquiries puts a duplicate_link note on the case; undoing the link a
    duplicate_unlink note. The officer reads both, in order, and can tell which is which
    (a heading or a field of the CRM's own, not only the words of the text)."""
    case = backend.connector.create_case(make_enquiry(backend.destination), backend.destination)
    backend.connector.add_note(case.id, Note(
        "Same pothole as ENQ-2026-000007 (CRM case 12), raised with Cllr Tennant.",
        "Members' Services", kind="duplicate_link", key=f"link-{case.id}"))
    backend.connector.add_note(case.id, Note(
        "Not the same pothole as ENQ-2026-000007 after all.",
        "Members' Services", kind="duplicate_unlink", key=f"unlink-{case.id}"))

    notes = backend.officer.notes(case.id)
    assert len(notes) == 2, notes
    linked, unlinked = notes
    assert "Same pothole as ENQ-2026-000007 (CRM case 12), raised with Cllr Tennant." in linked
    assert "Not the same pothole as ENQ-2026-000007 after all." in unlinked
    assert "link" in linked.lower() and "unlink" not in linked.lower(), linked
    assert "unlink" in unlinked.lower(), unlinked


def test_officer_statuses_map_to_bridge_statuses(backend: Backend) -> None:
    """Taking a case reads as in progress; resolving it as responded, or closed where the
    mapping closes the enquiry on the CRM's resolve (rt)."""
    _, cursor = _drain(backend.connector, None)
    case = backend.connector.create_case(make_enquiry(backend.destination), backend.destination)

    backend.officer.take(case.id)
    taken, cursor = _drain(backend.connector, cursor)
    statuses = [u.crm_status for u in _for(taken, case.id) if u.crm_status]
    assert statuses, f"no status update for {case.id}"
    assert backend.mapping.bridge_status(statuses[-1]) is Status.IN_PROGRESS

    backend.officer.resolve(case.id)
    resolved, _ = _drain(backend.connector, cursor)
    statuses = [u.crm_status for u in _for(resolved, case.id) if u.crm_status]
    assert backend.mapping.bridge_status(statuses[-1]) in (Status.RESPONDED, Status.CLOSED)


def test_updates_since_a_cursor_miss_nothing_and_rereading_is_harmless(
        backend: Backend) -> None:
    """Every change made after a cursor comes back from it; a change read twice keeps its
    event id, so the bridge applies it once."""
    enquiry = make_enquiry(backend.destination)
    _, start = _drain(backend.connector, None)
    case = backend.connector.create_case(enquiry, backend.destination)
    backend.officer.take(case.id)
    first, cursor = _drain(backend.connector, start)
    backend.officer.reply(case.id, "We will fill the pothole on Monday.")
    second, _ = _drain(backend.connector, cursor)
    again, _ = _drain(backend.connector, cursor)

    replies = [u for u in _for(second, case.id) if u.response]
    assert [u.response for u in replies] == ["We will fill the pothole on Monday."]
    assert replies[0].external_ref == str(enquiry.id)
    assert replies[0].event_id not in {u.event_id for u in first}
    assert [u.event_id for u in _for(again, case.id)] == [u.event_id for u in _for(second,
                                                                                  case.id)]
    ids = [u.event_id for u in _for(first, case.id) + _for(second, case.id)]
    changes = {(u.event_id, u.crm_status, u.response) for u in _for(first + second, case.id)}
    assert len(changes) == len(set(ids)), "one event id names two different changes"


@pytest.mark.needs("cursor_marks")
def test_a_read_with_nothing_to_apply_still_hands_back_a_cursor(backend: Backend) -> None:
    """A CRM with no change for the bridge (or only the bridge's own) is read up to a
    cursor all the same, so the next run starts there instead of from the beginning."""
    _, cursor = _drain(backend.connector, None)
    assert cursor is not None
    _, later = _drain(backend.connector, cursor)
    assert later is not None


def test_case_snapshot_shows_status_and_response(backend: Backend) -> None:
    enquiry = make_enquiry(backend.destination)
    case = backend.connector.create_case(enquiry, backend.destination)
    backend.officer.reply(case.id, "Filled on Monday; thank you for reporting it.")
    backend.officer.resolve(case.id)

    snapshot = backend.connector.get_case(case.id)
    assert snapshot.case_ref == case.id
    assert snapshot.external_ref == str(enquiry.id)
    assert backend.mapping.bridge_status(snapshot.crm_status) in (Status.RESPONDED,
                                                                   Status.CLOSED)
    assert snapshot.response == "Filled on Monday; thank you for reporting it."


def test_a_refused_call_is_permanent_and_says_why(backend: Backend) -> None:
    with pytest.raises(PermanentError) as refused:
        backend.reject(backend.connector)
    assert backend.reason in str(refused.value)


def _each_call(backend: Backend) -> list[Callable[[Connector], object]]:
    enquiry = make_enquiry(backend.destination)
    return [lambda c: c.health(),
            lambda c: c.create_case(enquiry, backend.destination),
            lambda c: list(c.fetch_updates(None))]


def test_an_unreachable_crm_is_transient(backend: Backend) -> None:
    """Sync leaves the work for the next run rather than failing the enquiry."""
    for call in _each_call(backend):
        with pytest.raises(TransientError):
            call(backend.unreachable())


@pytest.mark.needs("credentials")
def test_wrong_credentials_are_an_auth_error(backend: Backend) -> None:
    """Sync stops the run: nothing will work until the login is fixed."""
    assert backend.wrong_credentials is not None
    for call in _each_call(backend):
        with pytest.raises(AuthError):
            call(backend.wrong_credentials())


def _png(colour: tuple[int, int, int]) -> bytes:
    """A small PNG with no metadata, as the portal stores a photo."""
    out = io.BytesIO()
    Image.new("RGB", (4, 3), colour).save(out, "PNG")
    return out.getvalue()


@pytest.mark.needs("attachments")
def test_a_photo_reaches_the_case_once_even_after_a_lost_reply(backend: Backend) -> None:
    """The bridge sends a photo again, with the same key, when the CRM's answer never came
    (and again from a later sync run): the officer sees it once, as it was sent."""
    connector, officer = backend.connector, backend.officer
    assert isinstance(connector, SendsAttachments) and isinstance(officer, SeesFiles)
    case = connector.create_case(make_enquiry(backend.destination), backend.destination)
    data, other_data = _png((200, 30, 30)), _png((30, 30, 200))
    photo = OutgoingAttachment(filename="pothole.png", content_type="image/png", data=data,
                               sha256=hashlib.sha256(data).hexdigest(),
                               key=f"photo-contract-{case.id}-1")

    connector.add_attachment(case.id, photo)
    connector.add_attachment(case.id, photo)  # the reply to the first was lost: sent again
    later = backend.reconnect()  # and once more from the next sync run
    assert isinstance(later, SendsAttachments)
    later.add_attachment(case.id, photo)

    assert officer.files(case.id) == [("pothole.png", data)]
    other = OutgoingAttachment(filename="kerb.png", content_type="image/png", data=other_data,
                               sha256=hashlib.sha256(other_data).hexdigest(),
                               key=f"photo-contract-{case.id}-2")
    connector.add_attachment(case.id, other)
    assert officer.files(case.id) == [("pothole.png", data), ("kerb.png", other_data)]


@pytest.mark.needs("faults")
@pytest.mark.parametrize("fault", ["refused", "500", "429", "drop"])
def test_a_fault_on_create_never_makes_a_second_case(backend: Backend, fault: str) -> None:
    """Refused, failing, busy, or carried out with the answer lost: the try is transient,
    and the next try (a later sync run) leaves the enquiry with exactly one case."""
    assert backend.fail_next_write is not None
    enquiry = make_enquiry(backend.destination)
    backend.fail_next_write(fault)
    with pytest.raises(TransientError):
        backend.connector.create_case(enquiry, backend.destination)
    again = backend.reconnect().create_case(enquiry, backend.destination)

    assert backend.officer.cases_for(enquiry) == [again.id]
    assert again.created is (fault != "drop")
