"""Changes read back from an Open311 server: from mySociety's servicerequestupdates when it
is offered (each update once, by its update_id), else from GET requests; statuses through
the mapping; the cursor carried past what is not the bridge's to apply."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from support.connector_kit import make_enquiry
from support.open311_double import open311_double
from support.open311_kit import POTHOLES, connect, site_mapping

from connectors.base import CaseUpdate, CursorMark, Note
from connectors.open311 import Open311Connector
from crm_bridge.errors import PermanentError
from crm_bridge.models import Status


def _read(crm: Open311Connector, since: str | None) -> tuple[list[CaseUpdate], str | None]:
    read = list(crm.fetch_updates(since))
    return [u for u in read if isinstance(u, CaseUpdate)], (read[-1].cursor if read else since)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_each_update_comes_once_by_its_update_id(fmt: str) -> None:
    with open311_double() as server:
        crm = connect(server, format=fmt)
        enquiry = make_enquiry(POTHOLES)
        case = crm.create_case(enquiry, POTHOLES)
        server.state.act(case.id, "investigating")
        server.state.act(case.id, "action_scheduled", "A crew is booked for Monday.")
        server.state.act(case.id, "FIXED")

        updates, cursor = _read(crm, None)
        assert [u.event_id for u in updates] == ["update:u1", "update:u2", "update:u3"]
        assert server.calls["GET servicerequestupdates"] >= 2  # read again from the newest
        assert [crm.mapping.bridge_status(u.crm_status or "") for u in updates] == [
            Status.IN_PROGRESS, Status.IN_PROGRESS, Status.RESPONDED]
        assert [u.response for u in updates] == [None, "A crew is booked for Monday.", None]
        assert {u.external_ref for u in updates} == {str(enquiry.id)}

        # From the cursor, the overlap re-reads them: the same ids, nothing new.
        again, _ = _read(connect(server, format=fmt), cursor)
        assert [u.event_id for u in again] == [u.event_id for u in updates]
        assert not server.problems


def test_the_bridges_own_notes_listed_back_are_read_past() -> None:
    with open311_double() as server:
        crm = connect(server)
        case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
        server.state.act(case.id, "in_progress")
        start = datetime.now(UTC) - timedelta(minutes=1)
        # A server that lists client updates back, as some do: the bridge's note.
        later = server.state.act(case.id, "in_progress", "Follow-up\n\n[crm-bridge note]",
                                 at=datetime.now(UTC) + timedelta(seconds=2))
        read = list(crm.fetch_updates(start.strftime("%Y-%m-%dT%H:%M:%SZ")))
        updates = [u for u in read if isinstance(u, CaseUpdate)]
        assert [u.event_id for u in updates] == ["update:u1"]
        assert isinstance(read[-1], CursorMark)
        assert read[-1].cursor == later.at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_without_the_extension_changes_come_from_get_requests(fmt: str) -> None:
    with open311_double(updates_extension=False) as server:
        crm = connect(server, format=fmt)
        assert crm.updates_source() == "requests"
        enquiry = make_enquiry(POTHOLES)
        case = crm.create_case(enquiry, POTHOLES)
        theirs = server.state.create({"service_code": ["POT"], "description": ["not ours"],
                                      "address_string": ["High Street"]})
        server.state.act(case.id, "closed", "Filled on Monday.",
                         at=datetime.now(UTC) + timedelta(seconds=1))

        read = list(crm.fetch_updates(None))
        updates = [u for u in read if isinstance(u, CaseUpdate)]
        assert [(u.case_ref, u.crm_status, u.response) for u in updates] == [
            (case.id, "closed", "Filled on Monday.")]
        assert updates[0].external_ref == str(enquiry.id)
        assert theirs.id not in {u.case_ref for u in updates}
        assert crm.mapping.bridge_status("closed") is Status.RESPONDED
        assert {name for route, params in server.seen if route == "GET requests"
                for name, _ in params} >= {"jurisdiction_id"}

        with pytest.raises(PermanentError, match="takes no updates"):
            crm.add_note(case.id, Note("follow-up", "cllr-x"))
        assert not server.problems


def test_a_foreign_request_alone_still_moves_the_cursor() -> None:
    with open311_double(updates_extension=False) as server:
        crm = connect(server, updates="requests")
        server.state.create({"service_code": ["POT"], "description": ["not ours"],
                             "address_string": ["High Street"]})
        read = list(crm.fetch_updates(None))
        assert len(read) == 1 and isinstance(read[0], CursorMark)


def test_the_updated_after_parameter_is_a_setting() -> None:
    with open311_double(updates_extension=False) as server:
        crm = connect(server, updates="requests")
        list(crm.fetch_updates("2026-11-02T10:00:00Z"))
        asked = [dict(params) for route, params in server.seen if route == "GET requests"]
        assert asked[0]["updated_after"] == "2026-11-02T09:55:00Z"  # the overlap before it
        renamed = connect(server, updates="requests", updated_after_param="start_date")
        list(renamed.fetch_updates("2026-11-02T10:00:00Z"))
        asked = [dict(params) for route, params in server.seen if route == "GET requests"]
        assert asked[-1]["start_date"] == "2026-11-02T09:55:00Z"


def test_notes_name_the_mapping_note_marker() -> None:
    mapping = site_mapping(note_marker="[from the members' office]")
    with open311_double() as server:
        crm = connect(server, mapping)
        case = crm.create_case(make_enquiry(POTHOLES), POTHOLES)
        crm.add_note(case.id, Note("Rang again.", "cllr-x"))
        assert server.state.requests[case.id].notes[0]["description"].endswith(
            "[from the members' office]")
