"""A server that answers a create with a token (as open311-adapter's recorded Merton backend
does): the token is kept as the case reference until ``GET tokens`` gives the id, and
the request is never posted twice for it."""

from __future__ import annotations

import pytest
from support.connector_kit import make_enquiry
from support.open311_double import open311_double
from support.open311_kit import POTHOLES, connect

from connectors.base import CaseUpdate, Note
from crm_bridge.errors import TransientError


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_token_resolved_at_once_gives_the_request_id(fmt: str) -> None:
    with open311_double(tokens=True, token_pending=0) as server:
        case = connect(server, format=fmt).create_case(make_enquiry(POTHOLES), POTHOLES)
        assert case.id in server.state.requests
        assert server.calls["GET tokens"] == 1
        assert not server.problems


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_pending_token_is_kept_and_resolved_later(fmt: str) -> None:
    with open311_double(tokens=True, token_pending=2) as server:
        enquiry = make_enquiry(POTHOLES)
        case = connect(server, format=fmt).create_case(enquiry, POTHOLES)
        assert case.id.startswith("token:") and case.created

        later = connect(server, format=fmt)  # a later sync run
        with pytest.raises(TransientError, match="not yet given an id"):
            later.add_note(case.id, Note("Still there.", "cllr-x"))
        later.add_note(case.id, Note("Still there.", "cllr-x"))  # resolved now
        [request] = server.state.requests.values()
        assert [n["service_request_id"] for n in request.notes] == [request.id]
        assert later.get_case(case.id).case_ref == request.id

        # Updates name the enquiry by its marker, whatever reference the bridge holds.
        server.state.act(request.id, "in_progress")
        updates = [u for u in later.fetch_updates(None) if isinstance(u, CaseUpdate)]
        assert [(u.external_ref, u.case_ref) for u in updates] == [(str(enquiry.id),
                                                                   request.id)]


def test_a_repeat_create_after_a_token_opens_no_second_request() -> None:
    with open311_double(tokens=True, token_pending=5) as server:
        enquiry = make_enquiry(POTHOLES)
        first = connect(server).create_case(enquiry, POTHOLES)
        assert first.id.startswith("token:")
        again = connect(server).create_case(enquiry, POTHOLES)
        assert not again.created
        assert again.id in server.state.requests
        assert server.calls["POST requests"] == 1


def test_a_token_the_server_refuses_to_look_up_is_still_pending() -> None:
    """A server may answer 404 for a token it has not processed: no note is failed for it,
    it waits for a later run."""
    with open311_double(tokens=True) as server:
        with pytest.raises(TransientError, match="not yet given an id"):
            connect(server).add_note("token:0123456789abcdef", Note("Still there.", "cllr-x"))
        assert server.calls["GET tokens"] == 1
