"""The ``rest`` connector with the shipped ``mappings/rest-dynamics.yaml`` against the
Dynamics 365 Web API-shaped OData double, over real HTTP: OAuth2 tokens fetched, kept and
renewed; the change feed followed page by page through ``@odata.nextLink`` with the cursor
kept after each page; and the fault mix the other doubles fire, with no duplicate case
after any of them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import SecretStr
from support.connector_kit import make_enquiry
from support.odata_double import FAULTS, ODataDouble, odata_double

from connectors.base import CaseUpdate, ConnectorContext, CursorMark, Note
from connectors.rest import RestConnector, RestSettings
from connectors.rest_auth import OAuth2Settings
from connectors.rest_mapping import RestMapping
from crm_bridge.errors import AuthError, TransientError
from crm_bridge.models import ServiceDestination
from crm_bridge.sync.retry import RetryPolicy, call_with_retry

REPO = Path(__file__).resolve().parents[2]
ROADS = ServiceDestination(id="roads", name="Roads and transportation", crm_target="Roads",
                           response_days=10, contact="roads@example.gov.uk")
MAPPING = RestMapping.model_validate(
    yaml.safe_load((REPO / "mappings" / "rest-dynamics.yaml").read_text("utf-8")))

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def crm() -> Iterator[ODataDouble]:
    with odata_double(page_cap=2, hang_seconds=0.8) as double:
        yield double


def make(crm: ODataDouble, *, secret: str | None = None, url: str | None = None,
         **settings: Any) -> RestConnector:
    oauth2 = OAuth2Settings(token_url=crm.token_url, client_id=crm.client_id,
                            client_secret=SecretStr(secret or crm.client_secret),
                            scope=crm.scope)
    return RestConnector(RestSettings(url=url or crm.url, oauth2=oauth2, timeout_seconds=0.4,
                                      connect_timeout_seconds=0.4, page_retry_wait=0.01,
                                      **settings),
                         ConnectorContext(Path("."), MAPPING))


@pytest.fixture
def connector(crm: ODataDouble) -> Iterator[RestConnector]:
    made = make(crm)
    yield made
    made.close()


def test_cases_are_opened_with_the_mapped_columns_and_read_back(
        crm: ODataDouble, connector: RestConnector) -> None:
    enquiry = make_enquiry(ROADS)
    case = connector.create_case(enquiry, ROADS)
    incident = crm.incidents[case.id]
    assert incident.fields["crb_externalref"] == str(enquiry.id)
    assert incident.fields["title"] == f"{enquiry.reference}: pothole"
    assert "Jean Paterson" not in str(incident.fields)  # no constituent detail is listed

    connector.add_note(case.id, Note("Rang again.", "cllr-kirsty-dalgleish", key="n1"))
    connector.add_note(case.id, Note("Rang again.", "cllr-kirsty-dalgleish", key="n1"))
    assert [n["notetext"] for n in incident.notes] == ["Rang again."]  # the repeat found it

    crm.reply(case.id, "Filled on Monday.")
    snapshot = connector.get_case(case.id)
    assert (snapshot.external_ref, snapshot.crm_status, snapshot.response) == (
        str(enquiry.id), "1", "Filled on Monday.")


def test_the_feed_follows_next_links_and_keeps_the_cursor_after_each_page(
        crm: ODataDouble, connector: RestConnector) -> None:
    cases = [connector.create_case(make_enquiry(ROADS), ROADS).id for _ in range(5)]
    for case_id in cases:
        crm.take(case_id)
    pages_before = crm.calls["GET incidents"]

    read = list(connector.fetch_updates(None))

    updates = [item for item in read if isinstance(item, CaseUpdate)]
    assert [u.case_ref for u in updates] == cases  # oldest change first, across three pages
    assert {u.crm_status for u in updates} == {"4"}
    assert crm.calls["GET incidents"] - pages_before == 3  # two a page, as the double chose
    assert isinstance(read[2], CursorMark)  # kept after the first page's two changes
    assert read[2].cursor == updates[1].cursor
    assert read[-1].cursor >= updates[-1].cursor


def test_a_read_that_fails_on_a_later_page_keeps_what_it_read(crm: ODataDouble) -> None:
    connector = make(crm, page_attempts=1)
    cases = [connector.create_case(make_enquiry(ROADS), ROADS).id for _ in range(4)]
    crm.force("ok", "500")  # the first page answers, the second fails

    read: list[CaseUpdate | CursorMark] = []
    with pytest.raises(TransientError, match="HTTP 500"):
        read.extend(connector.fetch_updates(None))

    assert [item.case_ref for item in read if isinstance(item, CaseUpdate)] == cases[:2]
    assert isinstance(read[-1], CursorMark)  # what pull stores before the failure
    again = [item for item in connector.fetch_updates(read[-1].cursor)
             if isinstance(item, CaseUpdate)]
    assert {u.case_ref for u in again} >= set(cases[2:])  # resumed, not lost
    connector.close()


def test_a_first_read_with_nothing_to_bring_back_still_gives_a_cursor(
        connector: RestConnector) -> None:
    read = list(connector.fetch_updates(None))
    assert len(read) == 1 and isinstance(read[0], CursorMark)
    assert read[0].cursor.endswith("Z")  # the CRM's own clock, from its Date header


def test_a_fresh_create_skips_the_look_up_and_a_retry_makes_it(
        crm: ODataDouble, connector: RestConnector) -> None:
    enquiry = make_enquiry(ROADS)
    connector.create_case(enquiry, ROADS, fresh=True)
    assert crm.calls["GET incidents"] == 0

    again = connector.create_case(enquiry, ROADS)
    assert crm.calls["GET incidents"] == 1
    assert not again.created
    assert crm.cases_for(str(enquiry.id)) == [again.id]


def test_a_token_is_fetched_once_and_renewed_when_refused(
        crm: ODataDouble, connector: RestConnector) -> None:
    connector.health()
    connector.create_case(make_enquiry(ROADS), ROADS)
    assert crm.tokens_issued == 1

    crm.revoke_tokens()  # as when it expires early, or the clocks differ
    connector.health()
    assert crm.tokens_issued == 2


def test_the_logs_hold_neither_the_secret_nor_a_token_nor_personal_data(
        crm: ODataDouble, connector: RestConnector, caplog: pytest.LogCaptureFixture) -> None:
    enquiry = make_enquiry(ROADS)
    with caplog.at_level(logging.INFO):
        case = connector.create_case(enquiry, ROADS)
        crm.revoke_tokens()
        connector.add_note(case.id, Note("Rang again about the school gates.", "cllr-x"))
        list(connector.fetch_updates(None))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "rest POST /api/data/v9.2/incidents -> 204" in text
    for private in (crm.client_secret, *crm.tokens, str(enquiry.id), "school gates",
                    "pothole outside"):
        assert private not in text


def test_a_token_is_renewed_before_it_expires_not_after_a_refusal(
        crm: ODataDouble, connector: RestConnector) -> None:
    crm.expires_in = 0  # each token is said to expire at once
    connector.health()
    connector.health()
    connector.create_case(make_enquiry(ROADS), ROADS, fresh=True)
    assert crm.tokens_issued == 3  # one a call, each fetched before the call
    assert crm.refused == 0


def test_a_token_refused_again_after_renewal_is_an_auth_error(
        crm: ODataDouble, connector: RestConnector) -> None:
    crm.refuse_tokens = True  # every token the service issues is refused
    with pytest.raises(AuthError, match="HTTP 401"):
        connector.health()
    assert crm.tokens_issued == 2  # renewed once, not again and again


def test_a_wrong_client_secret_is_an_auth_error_that_does_not_show_it(
        crm: ODataDouble) -> None:
    connector = make(crm, secret="not-the-secret-at-all")
    with pytest.raises(AuthError) as refused:
        connector.health()
    assert "invalid_client" in str(refused.value)
    assert "AADSTS7000215" in str(refused.value)
    assert "not-the-secret-at-all" not in str(refused.value)
    assert crm.client_secret not in repr(connector.client.session.auth)
    connector.close()


def test_a_next_link_to_another_address_is_not_followed(crm: ODataDouble) -> None:
    """The token goes only to connector.url's server; the double links to 127.0.0.1."""
    connector = make(crm, url=crm.url.replace("127.0.0.1", "localhost"))
    for _ in range(3):
        connector.create_case(make_enquiry(ROADS), ROADS, fresh=True)
    with pytest.raises(TransientError, match="linked to another server"):
        list(connector.fetch_updates(None))
    connector.close()


@pytest.mark.parametrize("fault", FAULTS)
def test_after_each_fault_a_retried_create_leaves_one_case(
        crm: ODataDouble, connector: RestConnector, fault: str) -> None:
    enquiry = make_enquiry(ROADS)
    crm.force("ok", fault)  # the look-up answers; the create meets the fault

    with pytest.raises(TransientError):
        connector.create_case(enquiry, ROADS)
    case = connector.create_case(enquiry, ROADS)

    assert crm.cases_for(str(enquiry.id)) == [case.id]
    written_first = fault in ("timeout", "drop", "malformed")
    assert case.created is not written_first  # found, when the lost try had written it


def test_under_a_fault_rate_every_enquiry_gets_exactly_one_case(crm: ODataDouble) -> None:
    connector = make(crm, page_attempts=5)
    crm.rate, crm.retry_after = 0.3, "0"
    enquiries = [make_enquiry(ROADS) for _ in range(12)]
    policy = RetryPolicy(attempts=10, initial_wait=0, max_wait=0.01)

    refs = {e.id: call_with_retry(policy, lambda e=e: connector.create_case(e, ROADS)).id
            for e in enquiries}
    for case_id in refs.values():
        crm.take(case_id)
    read = call_with_retry(policy, lambda: list(connector.fetch_updates(None)))

    assert sum(crm.injected.values()) > 0
    assert all(crm.cases_for(str(e.id)) == [refs[e.id]] for e in enquiries)
    seen = {item.case_ref for item in read if isinstance(item, CaseUpdate)}
    assert seen == set(refs.values())
    connector.close()
