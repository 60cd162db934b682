"""The rt connector against a real RT5: what the service officer sees in RT, and what the
bridge reads back. (What every connector promises is in tests/contract/.)"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import yaml
from support.connector_kit import make_enquiry
from support.rt_server import RtOfficer, RtServer, rt_server

from connectors import rt_client
from connectors.base import CaseUpdate, ConnectorContext
from connectors.rt import RtConnector, RtSettings
from connectors.rt_client import Ref, TicketRow, Txn
from connectors.rt_mapping import CustomFieldSpec, RtMapping, units_from_history
from crm_bridge.errors import PermanentError
from crm_bridge.models import ServiceDestination

REPO = Path(__file__).resolve().parents[1]


def _mapping(**changes: Any) -> RtMapping:
    data = yaml.safe_load((REPO / "mappings" / "rt.yaml").read_text(encoding="utf-8"))
    data.update(changes)
    return RtMapping.model_validate(data)


def _updates(connector: RtConnector, since: str | None) -> list[CaseUpdate]:
    return [u for u in connector.fetch_updates(since) if isinstance(u, CaseUpdate)]


@pytest.fixture
def server() -> RtServer:
    return rt_server()


@pytest.fixture
def officer(server: RtServer) -> Iterator[RtOfficer]:
    with server.officer() as made:
        yield made


@pytest.fixture
def destination() -> ServiceDestination:
    return ServiceDestination(id="roads", name="Roads and transportation",
                              crm_target=f"Roads {uuid.uuid4().hex[:8]}", response_days=10,
                              contact="roads@example.gov.uk")


def _connect(server: RtServer, tmp_path: Path, mapping: RtMapping | None = None,
             **settings: Any) -> RtConnector:
    return RtConnector(RtSettings(url=server.url, token=server.token, **settings),
                       ConnectorContext(tmp_path, mapping or _mapping()))


@pytest.fixture
def connector(server: RtServer, tmp_path: Path,
              destination: ServiceDestination) -> Iterator[RtConnector]:
    made = _connect(server, tmp_path)
    assert all(f.ok for f in made.setup([destination]))
    yield made
    made.close()


def test_the_ticket_carries_the_enquiry_as_the_officer_needs_it(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination) -> None:
    enquiry = make_enquiry(destination)
    case = connector.create_case(enquiry, destination)

    ticket = officer.ticket(case.id)
    assert ticket["Subject"] == f"{enquiry.reference}: pothole - Main Street, Tillicoultry"
    assert officer.custom_fields(case.id) == {
        "Enquiry reference": [enquiry.reference], "Enquiry ID": [str(enquiry.id)],
        "Elected member": ["cllr-kirsty-dalgleish"], "Ward": ["clacks-north"],
        "Enquiry category": ["pothole"], "Response due": ["2026-11-16"],
    }
    assert ticket["Requestor"] == []  # RT e-mails no one unless the council chooses so


def test_the_constituent_becomes_requestor_only_when_configured(
        server: RtServer, officer: RtOfficer, tmp_path: Path,
        destination: ServiceDestination) -> None:
    made = _connect(server, tmp_path, constituent_as_requestor=True)
    try:
        assert all(f.ok for f in made.setup([destination]))
        case = made.create_case(make_enquiry(destination), destination)
    finally:
        made.close()
    assert [r["id"] for r in officer.ticket(case.id)["Requestor"]] == ["jean.paterson@example.com"]


def test_the_enquiry_text_is_the_ticket_content_with_only_the_mapped_details(
        connector: RtConnector, server: RtServer, destination: ServiceDestination) -> None:
    """The mapping shares name, address and postcode with the service; not e-mail or phone."""
    enquiry = make_enquiry(destination)
    case = connector.create_case(enquiry, destination)
    with server.officer() as officer:
        history = officer._call("GET", f"ticket/{case.id}/attachments",
                                params={"fields": "Content,ContentType"})
    content = history["items"][0]["Content"]
    assert content.startswith("Deep pothole outside the primary school gates")
    assert "Constituent name: Jean Paterson" in content
    assert "Constituent postcode: FK13 6AA" in content
    assert "jean.paterson@example.com" not in content


def test_a_queue_rt_lacks_fails_the_enquiry_with_the_fix(
        connector: RtConnector, destination: ServiceDestination) -> None:
    elsewhere = destination.model_copy(update={"crm_target": "No Such Queue"})
    with pytest.raises(PermanentError, match=r"RT has no queue 'No Such Queue'.*connector setup"):
        connector.create_case(make_enquiry(elsewhere), elsewhere)


def test_a_custom_field_rt_lacks_is_refused_before_rt_could_drop_it(
        connector: RtConnector, server: RtServer, tmp_path: Path,
        destination: ServiceDestination) -> None:
    """RT opens the ticket and silently drops a value for a field that does not apply;
    without the external id a retry would open a second ticket, so the bridge refuses."""
    base = _mapping()
    fields = {**base.custom_fields, "channel": CustomFieldSpec(name=f"Channel {uuid.uuid4()}")}
    made = _connect(server, tmp_path, base.model_copy(update={"custom_fields": fields}))
    try:
        with pytest.raises(PermanentError, match="lacks the custom field"):
            made.create_case(make_enquiry(destination), destination)
        assert [f.subject for f in made.check([destination]) if not f.ok] == [
            f"custom field '{fields['channel'].name}' (channel) on queue "
            f"'{destination.crm_target}'"]
    finally:
        made.close()


def test_setup_is_safe_to_repeat(connector: RtConnector, destination: ServiceDestination) -> None:
    again = connector.setup([destination])
    assert all(f.ok for f in again) and not any(f.changed for f in again)


def test_an_html_reply_with_a_file_comes_back_as_text_and_a_link(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination) -> None:
    case = connector.create_case(make_enquiry(destination), destination)
    officer.set_status(case.id, "open")
    officer.reply(case.id, "<p>Filled on <b>Monday</b> &amp; inspected.</p><p>Roads team</p>",
                  html=True, files={"after repair.jpg": b"\xff\xd8\xff"})
    reply = [u for u in _updates(connector, None) if u.case_ref == case.id and u.response]
    assert [u.response for u in reply] == ["Filled on Monday & inspected.\n\nRoads team"]
    assert reply[0].attachments[0].startswith(f"{connector.client.base_url}/Ticket/Attachment/")
    assert reply[0].attachments[0].endswith("/after%20repair.jpg")
    assert reply[0].actor == "root"


def test_a_reply_to_a_new_ticket_is_one_update_not_a_step_back(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination) -> None:
    """RT opens a new ticket when the service replies; bridge sees the reply with 'open',
    so the enquiry ends responded, not moved back to in progress after the response."""
    case = connector.create_case(make_enquiry(destination), destination)
    officer.reply(case.id, "We will fill it on Monday.")
    mine = [u for u in _updates(connector, None) if u.case_ref == case.id]
    assert [(u.crm_status, u.response) for u in mine] == [("open", "We will fill it on Monday.")]


def test_changes_are_found_across_pages(connector: RtConnector, officer: RtOfficer,
                                        destination: ServiceDestination,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """RT leaves the page count empty for accounts that are not superusers: paging must
    follow the items, or changes past the first page would never reach the bridge."""
    monkeypatch.setattr(rt_client, "PER_PAGE", 2)
    cases = [connector.create_case(make_enquiry(destination), destination) for _ in range(5)]
    for case in cases:
        officer.set_status(case.id, "open")
    found = {u.case_ref for u in _updates(connector, None) if u.crm_status == "open"}
    assert {c.id for c in cases} <= found


def test_each_rt_call_logs_one_info_line_without_personal_data(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination,
        caplog: pytest.LogCaptureFixture) -> None:
    enquiry = make_enquiry(destination)
    caplog.set_level(logging.INFO, logger="connectors")
    case = connector.create_case(enquiry, destination)
    officer.reply(case.id, "We will fill it on Monday.")
    list(connector.fetch_updates(None))
    calls = [r.getMessage() for r in caplog.records if r.name == "connectors.rt_client"]
    assert [c.split(" -> ")[0] for c in calls[:3]] == [
        f"RT GET /queue/{quote(destination.crm_target, safe='')}", "RT GET /tickets",
        "RT POST /ticket"]
    assert all(" -> 20" in c for c in calls)
    for private in ("Jean Paterson", "jean.paterson", "12 Main Street", "FK13", "pothole outside",
                    "fill it on Monday"):
        assert private not in caplog.text


def test_a_case_reference_that_is_not_a_ticket_number_is_refused(
        connector: RtConnector) -> None:
    with pytest.raises(PermanentError, match="not an RT ticket number"):
        connector.get_case("LOC-000001")


# -- the history rules, on RT's own JSON shapes ----------------------------------------------

T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def _txn(txn_id: int, kind: str, by: str, at: timedelta = timedelta(), **extra: str) -> Txn:
    return Txn.model_validate({"id": txn_id, "Type": kind, "Created": (T0 + at).isoformat(),
                               "Creator": {"id": by, "type": "user"}, **extra})


def _row(requestors: tuple[str, ...] = ()) -> TicketRow:
    return TicketRow.model_validate({
        "id": "7", "LastUpdated": T0.isoformat(), "Status": "open",
        "Requestor": [Ref(id=r).model_dump() for r in requestors]})


def test_the_constituents_own_mail_is_not_the_services_response() -> None:
    units = units_from_history(_row(("jean@example.com",)), [
        _txn(10, "Correspond", "jean@example.com"),
        _txn(11, "Status", "RT_System", timedelta(seconds=1), NewValue="open", Field="Status"),
        _txn(12, "Correspond", "roads.officer", timedelta(minutes=5)),
    ])
    assert [(u.event_id, u.status, u.reply is not None) for u in units] == [
        ("rt-11", "open", False), ("rt-12", None, True)]


def test_only_rts_own_status_change_right_after_a_reply_is_folded_into_it() -> None:
    units = units_from_history(_row(), [
        _txn(20, "Correspond", "officer"),
        _txn(21, "Status", "RT_System", timedelta(seconds=1), NewValue="open", Field="Status"),
        _txn(22, "Comment", "officer", timedelta(minutes=1)),
        _txn(23, "Correspond", "officer", timedelta(minutes=2)),
        _txn(24, "Status", "officer", timedelta(minutes=2), NewValue="resolved", Field="Status"),
    ])
    assert [(u.event_id, u.status, u.reply is not None) for u in units] == [
        ("rt-20", "open", True), ("rt-23", None, True), ("rt-24", "resolved", False)]
