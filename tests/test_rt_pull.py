"""What the rt connector reads from a real RT5 to find changes, and what it costs: histories
read only where someone may have changed a ticket, progress marked page by page, and the
push's look-up and attachments. (tests/test_rt_connector.py covers what the officer sees.)"""

from __future__ import annotations

import base64
import logging
import re
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.connector_kit import make_enquiry
from support.rt_server import ROOT, RtOfficer, RtServer, rt_server

from connectors import rt_client
from connectors.base import CaseUpdate, ConnectorContext, CursorMark, Note, OutgoingAttachment
from connectors.rt import RtConnector, RtSettings
from connectors.rt_client import Txn
from connectors.rt_mapping import RtMapping
from crm_bridge.errors import TransientError
from crm_bridge.models import ServiceDestination

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def server() -> RtServer:
    return rt_server()


@pytest.fixture
def officer(server: RtServer) -> Iterator[RtOfficer]:
    with server.officer() as made:
        yield made


@pytest.fixture
def destination() -> ServiceDestination:
    return ServiceDestination(id="roads", name="Roads", crm_target=f"Pull {uuid.uuid4().hex[:8]}",
                              response_days=10, contact="roads@example.gov.uk")


@pytest.fixture
def connector(server: RtServer, tmp_path: Path,
              destination: ServiceDestination) -> Iterator[RtConnector]:
    data = yaml.safe_load((REPO / "mappings" / "rt.yaml").read_text(encoding="utf-8"))
    made = RtConnector(RtSettings(url=server.url, token=server.token),
                       ConnectorContext(tmp_path, RtMapping.model_validate(data)))
    assert all(f.ok for f in made.setup([destination]))
    yield made
    made.close()


class Calls:
    """The RT calls the connector made, from its own INFO line per call."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        caplog.set_level(logging.INFO, logger="connectors.rt_client")

    def lines(self) -> list[str]:
        return [r.getMessage() for r in self.caplog.records if r.name == "connectors.rt_client"]

    def histories(self, tickets: list[str]) -> list[str]:
        read = [re.match(r"RT GET /ticket/(\d+)/history ", line) for line in self.lines()]
        return [m.group(1) for m in read if m and m.group(1) in tickets]

    def clear(self) -> None:
        self.caplog.clear()


@pytest.fixture
def calls(caplog: pytest.LogCaptureFixture) -> Calls:
    return Calls(caplog)


def _before(officer: RtOfficer, ticket: str) -> str:
    """A cursor a second before RT opened ``ticket`` (RT's own clock)."""
    created = datetime.fromisoformat(officer.ticket(ticket)["Created"].replace("Z", "+00:00"))
    return f"{created - timedelta(seconds=1):%Y-%m-%dT%H:%M:%SZ}"


def _marks(items: list[Any]) -> list[str]:
    return [i.cursor for i in items if isinstance(i, CursorMark)]


def _when(cursor: str) -> str:
    return cursor.split(" ", 1)[0]


def test_after_the_bridges_own_push_a_sync_reads_no_history_and_the_cursor_moves(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination,
        calls: Calls) -> None:
    tickets = [connector.create_case(make_enquiry(destination), destination).id
               for _ in range(3)]
    start = _before(officer, tickets[0])
    newest = max(officer.ticket(t)["LastUpdated"] for t in tickets)

    calls.clear()
    first = list(connector.fetch_updates(start))
    second = list(connector.fetch_updates(_marks(first)[-1]))

    assert calls.histories(tickets) == []
    assert not [u for u in first + second if isinstance(u, CaseUpdate) and u.case_ref in tickets]
    assert _when(_marks(first)[-1]) >= newest > start
    assert _when(_marks(second)[-1]) >= _when(_marks(first)[-1])


def test_the_bridges_comment_is_read_once_and_an_officers_reply_after_it_comes_back(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination,
        calls: Calls) -> None:
    case = connector.create_case(make_enquiry(destination), destination)
    start = _before(officer, case.id)
    officer.set_status(case.id, "open")
    first = list(connector.fetch_updates(start))
    assert [u.crm_status for u in first if isinstance(u, CaseUpdate)
            and u.case_ref == case.id] == ["open"]

    connector.add_note(case.id, Note("A cyclist fell here on Friday.", "Morag Kinnaird"))
    calls.clear()
    second = list(connector.fetch_updates(_marks(first)[-1]))
    third = list(connector.fetch_updates(_marks(second)[-1]))
    assert len(calls.histories([case.id])) <= 1  # the comment's change, read once at most
    assert not [u for u in second + third if isinstance(u, CaseUpdate)
                and u.case_ref == case.id and u.event_id not in {
                    v.event_id for v in first if isinstance(v, CaseUpdate)}]

    officer.reply(case.id, "We will fill it on Monday.")
    fourth = [u for u in connector.fetch_updates(_marks(third)[-1])
              if isinstance(u, CaseUpdate) and u.case_ref == case.id]
    assert [u.response for u in fourth if u.response] == ["We will fill it on Monday."]


def test_progress_is_marked_page_by_page_so_a_late_failure_keeps_it(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rt_client, "PER_PAGE", 2)
    tickets = [connector.create_case(make_enquiry(destination), destination).id
               for _ in range(5)]
    start = _before(officer, tickets[0])
    for ticket in tickets:
        officer.set_status(ticket, "open")

    real_history = connector.client.history

    def failing(ticket_id: str) -> Iterator[Txn]:
        if ticket_id == tickets[3]:  # RT stops answering part-way through
            raise TransientError("RT is busy or failing: GET /ticket/n/history answered 503")
        return real_history(ticket_id)

    monkeypatch.setattr(connector.client, "history", failing)
    read: list[Any] = []
    with pytest.raises(TransientError):
        for item in connector.fetch_updates(start):
            read.append(item)
    assert _marks(read), "no progress was marked before the failure"
    kept = {u.case_ref for u in read if isinstance(u, CaseUpdate) and u.crm_status == "open"}
    assert set(tickets[:2]) <= kept and tickets[3] not in kept

    monkeypatch.setattr(connector.client, "history", real_history)
    resumed = list(connector.fetch_updates(_marks(read)[-1]))  # as the next try of pull does
    found = kept | {u.case_ref for u in resumed
                    if isinstance(u, CaseUpdate) and u.crm_status == "open"}
    assert set(tickets) <= found
    assert _when(_marks(resumed)[-1]) >= _when(_marks(read)[-1])


def test_a_fresh_create_skips_the_look_up_and_a_retry_still_finds_the_ticket(
        connector: RtConnector, officer: RtOfficer, destination: ServiceDestination,
        calls: Calls) -> None:
    enquiry = make_enquiry(destination)
    connector.create_case(make_enquiry(destination), destination)  # the queue checked once
    calls.clear()
    first = connector.create_case(enquiry, destination, fresh=True)
    fresh_calls = [line.split(" -> ")[0] for line in calls.lines()]
    calls.clear()
    again = connector.create_case(enquiry, destination)

    assert fresh_calls == ["RT POST /ticket"]
    assert [line.split(" -> ")[0] for line in calls.lines()] == ["RT GET /tickets"]
    assert (again.id, again.created) == (first.id, False)
    assert officer.tickets_with("Enquiry ID", str(enquiry.id)) == [first.id]


def _download(server: RtServer, link: str) -> bytes:
    """What the officer gets opening ``link`` in RT's web pages, logged in there."""
    with requests.Session() as web:
        web.post(f"{server.url}/NoAuth/Login.html", data={"user": ROOT[0], "pass": ROOT[1]},
                 timeout=30).close()
        with web.get(link, timeout=30, allow_redirects=False) as page:
            assert page.status_code == 200, (link, page.status_code)
            return page.content


def _files(officer: RtOfficer, ticket: str) -> dict[str, list[bytes]]:
    parts = officer._call("GET", f"ticket/{ticket}/attachments",
                          params={"fields": "Filename", "per_page": 100})["items"]
    found: dict[str, list[bytes]] = {}
    for part in parts:
        if part["Filename"]:
            content = officer._call("GET", f"attachment/{part['id']}")["Content"]
            found.setdefault(part["Filename"], []).append(base64.b64decode(content))
    return found


def test_a_photo_reaches_the_ticket_once_as_a_comment_even_when_sent_again(
        connector: RtConnector, officer: RtOfficer, server: RtServer,
        destination: ServiceDestination) -> None:
    case = connector.create_case(make_enquiry(destination), destination)
    photo = OutgoingAttachment(filename="pothole 1.jpg", content_type="image/jpeg",
                               data=b"\xff\xd8\xff\xe0 a photo", sha256="00", key="att-1-key")
    link = connector.add_attachment(case.id, photo)
    again = connector.add_attachment(case.id, photo)  # the first reply was lost
    other = connector.add_attachment(case.id, OutgoingAttachment(
        filename="pothole 1.jpg", content_type="image/jpeg", data=b"\xff\xd8\xff\xe0 later",
        sha256="01", key="att-2-key"))

    assert _files(officer, case.id) == {"pothole 1.jpg": [b"\xff\xd8\xff\xe0 a photo",
                                                          b"\xff\xd8\xff\xe0 later"]}
    assert officer.comments(case.id) == ["File attached by crm-bridge: pothole 1.jpg"] * 2
    assert link is not None and link == again != other
    assert link.startswith(f"{connector.client.base_url}/Ticket/Attachment/")
    assert link.endswith("/pothole%201.jpg")
    assert _download(server, link) == b"\xff\xd8\xff\xe0 a photo"


def test_files_on_the_services_reply_come_back_as_links_never_contents(
        connector: RtConnector, officer: RtOfficer, server: RtServer,
        destination: ServiceDestination) -> None:
    case = connector.create_case(make_enquiry(destination), destination)
    start = _before(officer, case.id)
    officer.reply(case.id, "Repaired: see the photos.",
                  files={"before.jpg": b"\xff\xd8 before", "after.jpg": b"\xff\xd8 after"})
    reply = [u for u in connector.fetch_updates(start)
             if isinstance(u, CaseUpdate) and u.case_ref == case.id and u.response]
    assert [u.response for u in reply] == ["Repaired: see the photos."]
    links = reply[0].attachments
    assert sorted(link.rsplit("/", 1)[1] for link in links) == ["after.jpg", "before.jpg"]
    assert all(link.startswith(f"{connector.client.base_url}/Ticket/Attachment/")
               for link in links)
    assert sorted(_download(server, link) for link in links) == [b"\xff\xd8 after",
                                                                 b"\xff\xd8 before"]
