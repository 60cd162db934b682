"""The ``rest`` connector's idempotency key, against the CRM stand-in over real HTTP.

A try that times out (or whose process is killed) while the CRM is still writing leaves a
window the look-ups cannot close: the retry's look-up finds nothing yet, so it writes again.
The stand-in holds the first write, received but not committed, until the test releases it,
so each test walks that window step by step with no timing in it: the client's short
timeout ends the first try while the write is held, and nothing moves on until the test
says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from support.connector_kit import make_enquiry
from support.crm_standin import REJECT_MARK, CrmStandin, Faults, crm_standin

from connectors.base import ConnectorContext, Note
from connectors.rest import RestConnector, RestSettings
from connectors.rest_mapping import RestMapping
from crm_bridge.errors import PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination

REPO = Path(__file__).resolve().parents[2]
ROADS = ServiceDestination(id="roads", name="Roads and transportation", crm_target="Roads",
                           response_days=10, contact="roads@example.gov.uk")
NOTE = Note(text="Constituent phoned again", author="Cllr Dalgleish", key="note-e1-41")

pytestmark = pytest.mark.timeout(60)


def make(crm: CrmStandin, **changes: Any) -> RestConnector:
    data = yaml.safe_load((REPO / "mappings" / "rest.yaml").read_text("utf-8"))
    data.update(changes)
    settings = RestSettings(url=crm.url, token=SecretStr(crm.token), timeout_seconds=0.4,
                            connect_timeout_seconds=0.4)
    return RestConnector(settings, ConnectorContext(Path("."), RestMapping.model_validate(data)))


@pytest.fixture
def crm() -> Iterator[CrmStandin]:
    with crm_standin(Faults()) as standin:
        yield standin


def _write(route: str, connector: RestConnector, enquiry: Enquiry,
           case_id: str) -> Callable[[], Any]:
    if route == "create":
        return lambda: connector.create_case(enquiry, ROADS)
    return lambda: connector.add_note(case_id, NOTE)


def _made(crm: CrmStandin, route: str, enquiry: Enquiry, case_id: str) -> int:
    """How many cases carry the enquiry's id, or how many notes the case has."""
    if route == "create":
        return len(crm.cases_for(str(enquiry.id)))
    return len(crm.cases[case_id].notes)


def _timed_out_while_the_crm_writes(crm: CrmStandin, route: str,
                                    write: Callable[[], Any]) -> Any:
    """The first try: the CRM receives it and holds it uncommitted; the client times out."""
    held = crm.hold(route)
    with pytest.raises(TransientError, match="did not answer"):
        write()
    assert held.received.wait(10)
    return held


@pytest.mark.parametrize("route", ["create", "add_note"])
def test_without_the_key_a_write_still_in_progress_is_made_twice(
    crm: CrmStandin, route: str
) -> None:
    """The known limit of search-before-write, and why the key exists."""
    connector = make(crm, idempotency_header=None)
    enquiry = make_enquiry(ROADS)
    case_id = "" if route == "create" else make(crm).create_case(make_enquiry(ROADS), ROADS).id
    write = _write(route, connector, enquiry, case_id)

    held = _timed_out_while_the_crm_writes(crm, route, write)
    write()  # the look-up finds nothing yet, so it writes again
    held.release()
    assert held.committed.wait(10)

    assert _made(crm, route, enquiry, case_id) == 2


@pytest.mark.parametrize("route", ["create", "add_note"])
def test_with_the_key_a_repeat_waits_for_the_first_try_and_nothing_is_made_twice(
    crm: CrmStandin, route: str
) -> None:
    connector = make(crm)
    enquiry = make_enquiry(ROADS)
    case_id = "" if route == "create" else connector.create_case(make_enquiry(ROADS), ROADS).id
    write = _write(route, connector, enquiry, case_id)

    held = _timed_out_while_the_crm_writes(crm, route, write)
    with pytest.raises(TransientError, match=r"still carrying out an earlier try .*HTTP 409"):
        write()  # the CRM knows the key: the first try is still running
    held.release()
    assert held.committed.wait(10)
    write()  # sync's next try: the look-up finds what the first try made

    assert _made(crm, route, enquiry, case_id) == 1


def test_a_repeat_after_the_first_try_finished_gets_its_result_without_any_look_up(
    crm: CrmStandin,
) -> None:
    """With no notes endpoint only the key can tell a repeat: the CRM answers the first
    result, and the case keeps one note."""
    endpoints = yaml.safe_load((REPO / "mappings" / "rest.yaml").read_text("utf-8"))["endpoints"]
    del endpoints["notes"]
    connector = make(crm, endpoints=endpoints)
    case_id = connector.create_case(make_enquiry(ROADS), ROADS).id
    crm.force("drop")  # the note is added, then the answer is lost

    with pytest.raises(TransientError):
        connector.add_note(case_id, NOTE)
    connector.add_note(case_id, NOTE)
    connector.add_note(case_id, Note(NOTE.text, NOTE.author, key="note-e1-42"))  # a new row

    assert [n["text"] for n in crm.cases[case_id].notes] == [NOTE.text, NOTE.text]
    assert crm.calls["add_note"] == 3


def test_the_key_is_sent_only_in_the_configured_header_and_form(crm: CrmStandin) -> None:
    crm.idempotency_header = "X-Request-Key"
    connector = make(crm, idempotency_header="X-Request-Key", idempotency_value='"{key}"')
    case_id = connector.create_case(make_enquiry(ROADS), ROADS).id
    connector.add_note(case_id, NOTE)

    assert set(crm.keyed) == {f'create "case-{crm.cases[case_id].external_ref}"',
                              'add_note "note-e1-41"'}


def test_a_refusal_is_not_remembered_under_the_key(crm: CrmStandin) -> None:
    """A create the CRM refused may be tried again (``enquiry retry``) once it is fixed."""
    connector = make(crm)
    enquiry = make_enquiry(ROADS, description=f"Pothole {REJECT_MARK}")

    with pytest.raises(PermanentError, match="HTTP 422"):
        connector.create_case(enquiry, ROADS)
    crm.reject = None  # the queue is open again
    assert connector.create_case(enquiry, ROADS).created
    assert len(crm.cases_for(str(enquiry.id))) == 1
