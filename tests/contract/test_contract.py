"""What every connector promises the bridge, checked against each CRM for real.

Each test is run once per backend registered in conftest.py (``-k rt`` picks one).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.connector_kit import make_enquiry

from connectors.base import CaseUpdate, Connector, CursorMark, Note
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import Status

from .conftest import Backend


def _drain(connector: Connector, since: str | None) -> tuple[list[CaseUpdate], str | None]:
    """Every update since the cursor, and the cursor to resume from after them (the last
    update's, or a later CursorMark's)."""
    items: list[CaseUpdate | CursorMark] = list(connector.fetch_updates(since))
    updates = [u for u in items if isinstance(u, CaseUpdate)]
    return updates, (items[-1].cursor if items else since)


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
