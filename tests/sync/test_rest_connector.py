"""The generic ``rest`` connector against the CRM stand-in, over real HTTP.

Every failure the stand-in can produce is fired at it and must come back as the bridge's
error for what sync should do; every write it makes must be safe to repeat after an answer
is lost. What the connector sends and logs is checked for personal data.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr, ValidationError
from support.connector_kit import closed_port, make_enquiry
from support.crm_standin import REJECT_MARK, CrmStandin, Faults, crm_standin

from connectors.base import CaseUpdate, Connector, ConnectorContext, CursorMark, Note
from connectors.rest import RestConnector, RestSettings
from connectors.rest_answers import MalformedAnswer, RemoteEvent
from connectors.rest_client import retry_after_seconds
from connectors.rest_mapping import RestMapping
from crm_bridge.errors import AuthError, ConfigError, PermanentError, TransientError
from crm_bridge.models import ServiceDestination
from crm_bridge.sync.retry import RetryPolicy, call_with_retry

REPO = Path(__file__).resolve().parents[2]
ROADS = ServiceDestination(id="roads", name="Roads and transportation", crm_target="Roads",
                           response_days=10, contact="roads@example.gov.uk")
QUICK = RetryPolicy(attempts=3, initial_wait=0, max_wait=0.01)

pytestmark = pytest.mark.timeout(60)


def mapping_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "mappings" / "rest.yaml").read_text("utf-8"))
    data.update(changes)
    return data


def make(crm: CrmStandin, url: str | None = None, token: str | None = "standin-token",
         **mapping: Any) -> RestConnector:
    settings = RestSettings(url=url or crm.url, token=SecretStr(token) if token else None,
                            timeout_seconds=0.4, connect_timeout_seconds=0.4)
    return RestConnector(settings, ConnectorContext(
        Path("."), RestMapping.model_validate(mapping_data(**mapping))))


@pytest.fixture
def crm() -> Iterator[CrmStandin]:
    with crm_standin(Faults(hang_seconds=0.8)) as standin:
        yield standin


@pytest.fixture
def connector(crm: CrmStandin) -> Iterator[RestConnector]:
    made = make(crm)
    yield made
    made.close()


def test_it_is_a_connector_found_by_name() -> None:
    from crm_bridge.registry import connector_class

    assert connector_class("rest") is RestConnector
    assert issubclass(RestConnector, object)


def test_a_case_is_opened_once_and_found_again_by_the_enquirys_id(
    crm: CrmStandin, connector: RestConnector
) -> None:
    assert isinstance(connector, Connector)
    enquiry = make_enquiry(ROADS)

    first = connector.create_case(enquiry, ROADS)
    again = connector.create_case(enquiry, ROADS)

    assert first.created and not again.created
    assert again.id == first.id
    assert [c.id for c in crm.cases_for(str(enquiry.id))] == [first.id]


def test_the_case_carries_the_mapped_fields_and_only_the_listed_constituent_details(
    crm: CrmStandin, connector: RestConnector
) -> None:
    enquiry = make_enquiry(ROADS, location=None)
    case = crm.cases[connector.create_case(enquiry, ROADS).id]

    assert case.body["external_ref"] == str(enquiry.id)
    assert case.body["queue"] == "Roads"
    assert case.body["title"] == f"{enquiry.reference}: pothole"
    assert case.body["location"] is None  # a lone placeholder keeps its type
    assert case.body["custom"] == {"reference": enquiry.reference,
                                   "member": "cllr-kirsty-dalgleish", "ward": "clacks-north"}
    assert case.body["contact"] == {"name": "Jean Paterson", "postcode": "FK13 6AA"}
    sent = repr(case.body)
    assert "12 Main Street" not in sent and "jean.paterson@example.com" not in sent


@pytest.mark.parametrize("fault", ["drop", "timeout", "malformed"])
def test_a_case_the_crm_opened_but_never_answered_for_is_found_not_opened_again(
    crm: CrmStandin, connector: RestConnector, fault: str
) -> None:
    enquiry = make_enquiry(ROADS)
    crm.force("ok", fault, write_first=True)  # the look-up answers; the create is lost

    with pytest.raises(TransientError):
        connector.create_case(enquiry, ROADS)
    found = connector.create_case(enquiry, ROADS)

    assert not found.created
    assert len(crm.cases_for(str(enquiry.id))) == 1


def test_retried_as_sync_retries_it_a_lost_answer_costs_nothing(
    crm: CrmStandin, connector: RestConnector
) -> None:
    enquiry = make_enquiry(ROADS)
    crm.force("ok", "drop", "500", "refused")

    case = call_with_retry(RetryPolicy(attempts=6, initial_wait=0.05, max_wait=0.3),
                           lambda: connector.create_case(enquiry, ROADS))

    assert len(crm.cases_for(str(enquiry.id))) == 1
    assert crm.cases_for(str(enquiry.id))[0].id == case.id


FAILURES = [
    pytest.param("500", TransientError, "answered HTTP 500 (application/json, 27 bytes)",
                 id="500"),
    pytest.param("429", TransientError, "answered HTTP 429", id="429"),
    pytest.param("timeout", TransientError, "did not answer GET /cases within 0.4 s",
                 id="timeout"),
    pytest.param("drop", TransientError, "cannot be reached: connection", id="drop"),
    pytest.param("refused", TransientError, "cannot be reached: connection reset", id="reset"),
]


@pytest.mark.parametrize(("fault", "error", "words"), FAILURES)
def test_each_failure_becomes_the_error_that_says_what_to_do(
    crm: CrmStandin, connector: RestConnector, fault: str, error: type[Exception], words: str
) -> None:
    crm.force(fault, write_first=False)
    with pytest.raises(error) as info:
        connector.create_case(make_enquiry(ROADS), ROADS)
    assert words in str(info.value)
    assert crm.cases == {}


def test_429_carries_the_crms_retry_after(crm: CrmStandin, connector: RestConnector) -> None:
    crm.force("429")
    with pytest.raises(TransientError) as info:
        connector.health()
    assert info.value.retry_after == 1.0


def test_a_garbled_success_is_transient(crm: CrmStandin, connector: RestConnector) -> None:
    case = connector.create_case(make_enquiry(ROADS), ROADS).id
    for _ in range(6):  # the stand-in garbles in several ways; each is transient
        crm.force("malformed")
        with pytest.raises(TransientError, match="the CRM answered"):
            connector.get_case(case)


def test_nobody_listening_is_a_refused_connection(crm: CrmStandin) -> None:
    down = make(crm, url=f"http://127.0.0.1:{closed_port()}")
    with pytest.raises(TransientError, match="connection refused"):
        down.create_case(make_enquiry(ROADS), ROADS)


def test_a_refused_token_stops_the_run(crm: CrmStandin) -> None:
    wrong = make(crm, token="not-the-token")
    with pytest.raises(AuthError, match=r"HTTP 401\): the token was not accepted: invalid"):
        wrong.create_case(make_enquiry(ROADS), ROADS)


def test_a_rejection_is_permanent_with_the_crms_reason(
    crm: CrmStandin, connector: RestConnector
) -> None:
    enquiry = make_enquiry(ROADS, description=f"Pothole {REJECT_MARK}")
    with pytest.raises(PermanentError, match="HTTP 422\\): queue 'Roads' is closed to new cases"):
        connector.create_case(enquiry, ROADS)


def test_a_note_is_added_once_even_when_its_answer_is_lost(
    crm: CrmStandin, connector: RestConnector
) -> None:
    case = connector.create_case(make_enquiry(ROADS), ROADS).id
    note = Note(text="Constituent phoned again", author="Cllr Dalgleish")
    crm.force("ok", "drop")  # the notes list answers; the add is carried out, then lost

    with pytest.raises(TransientError):
        connector.add_note(case, note)
    connector.add_note(case, note)

    assert crm.cases[case].notes == [{"text": "Constituent phoned again",
                                      "author": "Cllr Dalgleish", "kind": "follow_up"}]


def test_get_case_reads_the_case(crm: CrmStandin, connector: RestConnector) -> None:
    enquiry = make_enquiry(ROADS)
    case = connector.create_case(enquiry, ROADS).id
    crm.change(case, "resolved", "officer1", "Filled on Tuesday.")

    snapshot = connector.get_case(case)

    assert (snapshot.case_ref, snapshot.external_ref, snapshot.crm_status, snapshot.response) == (
        case, str(enquiry.id), "resolved", "Filled on Tuesday.")
    with pytest.raises(PermanentError, match="HTTP 404\\): no case C999999"):
        connector.get_case("C999999")


def changes(connector: Connector, since: str | None) -> list[CaseUpdate]:
    """The updates a read brings, without the cursor marks between its pages."""
    return [item for item in connector.fetch_updates(since) if isinstance(item, CaseUpdate)]


def test_changes_come_in_pages_and_a_late_commit_is_caught_by_the_overlap(
    crm: CrmStandin, connector: RestConnector
) -> None:
    cases = [connector.create_case(make_enquiry(ROADS), ROADS).id for _ in range(230)]
    first = changes(connector, None)
    assert [u.event_id for u in first] == [f"ev-{n}" for n in range(1, 231)]  # 3 pages
    assert [u.crm_status for u in first[:1]] == ["new"]
    cursor = first[-1].cursor
    assert cursor == max(u.occurred_at for u in first).isoformat().replace("+00:00", "Z")

    late = crm.change(cases[0], "open", "officer1",
                      at=datetime.now(UTC) - timedelta(seconds=60))
    again = changes(connector, cursor)

    assert late.id in [u.event_id for u in again]
    assert all(u.cursor >= cursor for u in again)
    blind = make(crm, cursor={"kind": "timestamp", "overlap_seconds": 0})
    assert late.id not in [u.event_id for u in changes(blind, cursor)]


def test_a_page_that_fails_is_asked_for_again_not_the_whole_feed(
    crm: CrmStandin, connector: RestConnector
) -> None:
    for _ in range(150):
        connector.create_case(make_enquiry(ROADS), ROADS)
    crm.force("ok", "500", "ok")  # the second page fails once
    read = list(connector.fetch_updates(None))
    updates = [item for item in read if isinstance(item, CaseUpdate)]
    assert len(updates) == 150
    marks = [read.index(item) for item in read if isinstance(item, CursorMark)]
    assert marks[0] == 100  # kept after the first page, before the one that failed
    assert crm.calls["updates"] == 3


def test_every_change_is_checked_before_use() -> None:
    mapping = RestMapping.model_validate(mapping_data())
    good = {"event_id": 7, "case_id": "C1", "at": "2026-11-02T10:00:00", "status": "open"}
    event = RemoteEvent.read(good, mapping, "a change")
    assert (event.id, event.at) == ("7", datetime(2026, 11, 2, 10, tzinfo=UTC))
    with pytest.raises(MalformedAnswer, match="a change without a usable 'at'"):
        RemoteEvent.read({**good, "at": "yesterday"}, mapping, "a change")
    with pytest.raises(MalformedAnswer, match="'event_id'"):
        RemoteEvent.read({**good, "event_id": ""}, mapping, "a change")


def test_each_call_logs_one_info_line_without_personal_data(
    crm: CrmStandin, connector: RestConnector, caplog: pytest.LogCaptureFixture
) -> None:
    enquiry = make_enquiry(ROADS)
    with caplog.at_level(logging.INFO, logger="connectors"):
        connector.create_case(enquiry, ROADS)
    calls = [r.getMessage() for r in caplog.records if r.name == "connectors.rest_client"]
    assert [c.split(" (")[0] for c in calls] == ["rest GET /cases -> 200",
                                                 "rest POST /cases -> 201"]
    text = "\n".join(r.getMessage() for r in caplog.records)
    for private in ("Jean Paterson", "FK13", "pothole outside", str(enquiry.id), crm.token):
        assert private not in text


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        pytest.param({"case_body": {"ref": "{id}", "title": "{refrence}"}},
                     "unknown placeholder 'refrence' (did you mean 'reference'?)", id="typo"),
        pytest.param({"case_body": {"title": "{reference}"}}, "must send the enquiry's id",
                     id="no-id"),
        pytest.param({"case_body": {"ref": "{id}", "mail": "{constituent_email}"}},
                     "constituent_fields does not list 'email'", id="unlisted-detail"),
        pytest.param({"cursor": {"kind": "token"}}, "needs updates.event.cursor",
                     id="token-cursor"),
        pytest.param({"auth": {"header": "X-Key", "value": "secret"}}, "must hold {token}",
                     id="auth-without-token"),
        pytest.param({"idempotency_header": "Idempotency Key"}, "should match pattern",
                     id="key-header-with-a-space"),
        pytest.param({"idempotency_value": "fixed"}, "must hold {key} once",
                     id="key-value-without-key"),
    ],
)
def test_a_mapping_mistake_is_refused_when_loaded(changes: dict[str, Any], words: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(words)):
        RestMapping.model_validate(mapping_data(**changes))


def test_a_mapping_that_sends_a_token_needs_one(crm: CrmStandin) -> None:
    with pytest.raises(ConfigError, match=r"connector.token: .* set token: \$\{CRM_TOKEN\}"):
        make(crm, token=None)
    assert "****" in repr(make(crm).client.session.auth)


@pytest.mark.parametrize(
    ("header", "seconds"),
    [("7", 7.0), ("0.5", 0.5), ("Wed, 02 Dec 2026 10:00:30 GMT", 30.0), ("soon", None),
     ("-3", None), ("", None)],
)
def test_retry_after_is_read_in_either_form(header: str, seconds: float | None) -> None:
    assert retry_after_seconds(header, now=datetime(2026, 12, 2, 10, tzinfo=UTC)) == seconds
