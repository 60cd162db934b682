"""The lagan connector against the FL service double over real HTTP (tests/support/lagan_double).

The contract suite (tests/contract) covers what every connector promises; these cover
what is Lagan's own: three auth styles, FWTException faults, lost replies, XXE.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.connector_kit import make_enquiry
from support.lagan_double import BAD_CLASSIFICATION, BUSY, Failure, LaganDouble, lagan_double

from connectors.base import ConnectorContext
from connectors.lagan import LaganConnector, LaganSettings
from connectors.lagan_mapping import LaganMapping
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import ServiceDestination, Status

REPO = Path(__file__).resolve().parents[1]
MAPPING = LaganMapping.model_validate(
    yaml.safe_load((REPO / "mappings" / "lagan.yaml").read_text(encoding="utf-8")))
ROADS = ServiceDestination(id="roads", name="Roads", crm_target="Roads", response_days=10,
                           contact="roads@example.gov.uk")


@pytest.fixture
def make(tmp_path: Path) -> Iterator[Any]:
    made: list[LaganConnector] = []

    def connect(double: LaganDouble, **options: Any) -> LaganConnector:
        settings = {"url": double.url, "username": double.username,
                    "password": double.password, "auth": double.auth, "timeout_seconds": 2,
                    **options}
        connector = LaganConnector(LaganSettings(**settings), ConnectorContext(tmp_path, MAPPING))
        made.append(connector)
        return connector

    yield connect
    for connector in made:
        connector.close()


@pytest.mark.parametrize("style", ["token", "username_token", "basic"])
def test_each_auth_style_opens_a_case(style: str, make: Any) -> None:
    with lagan_double(auth=style) as double:
        case = make(double).create_case(make_enquiry(ROADS), ROADS)
        assert double.store.cases[case.id].raised_by == "crm-bridge"


@pytest.mark.parametrize("style", ["token", "username_token", "basic"])
def test_each_auth_style_refuses_a_wrong_password(style: str, make: Any) -> None:
    with lagan_double(auth=style) as double, pytest.raises(AuthError):
        make(double, password="wrong").health()


def test_an_expired_token_is_renewed_once(make: Any) -> None:
    with lagan_double(auth="token") as double:
        connector = make(double)
        connector.create_case(make_enquiry(ROADS), ROADS)
        double.expire_tokens()
        case = connector.create_case(make_enquiry(ROADS), ROADS)
        assert case.created


def test_basic_auth_guards_the_wsdl_too(make: Any) -> None:
    with lagan_double(auth="basic") as double:
        assert requests.get(double.url + "?wsdl", timeout=5).status_code == 401
        with pytest.raises(AuthError, match="HTTP 401"):
            make(double, password="wrong").create_case(make_enquiry(ROADS), ROADS)


def test_the_wsdl_is_read_once_per_run_or_from_a_local_copy(make: Any, tmp_path: Path) -> None:
    with lagan_double() as double:
        connector = make(double)
        for _ in range(3):
            connector.create_case(make_enquiry(ROADS), ROADS)
        assert double.wsdl_fetches == 1
        double.write_local_wsdl(tmp_path)
        make(double, wsdl="FL.wsdl").create_case(make_enquiry(ROADS), ROADS)
        assert double.wsdl_fetches == 1


def test_a_permanent_fault_on_create_says_why(make: Any) -> None:
    with lagan_double() as double:
        double.fail_next("FWTCaseCreate", Failure("fault", BAD_CLASSIFICATION,
                                                  "Invalid classification event code 2001"))
        with pytest.raises(PermanentError, match="Invalid classification event code 2001"):
            make(double).create_case(make_enquiry(ROADS), ROADS)


def test_a_listed_error_code_is_transient(make: Any) -> None:
    with lagan_double() as double:
        double.fail_next("FWTCaseCreate", Failure("fault", BUSY, "Database busy"))
        with pytest.raises(TransientError, match="Database busy"):
            make(double).create_case(make_enquiry(ROADS), ROADS)


def test_a_timeout_is_transient(make: Any) -> None:
    with lagan_double() as double:
        double.fail_next("FWTCaseCreate", Failure("delay", seconds=2.5))
        with pytest.raises(TransientError, match="no answer in time"):
            make(double, timeout_seconds=0.5).create_case(make_enquiry(ROADS), ROADS)


@pytest.mark.parametrize("status", [503, 502])
def test_an_html_error_page_is_recognised_as_transient(status: int, make: Any) -> None:
    with lagan_double() as double:
        double.fail_next("FWTCaseCreate", Failure("html", status))
        with pytest.raises(TransientError, match="error page"):
            make(double).create_case(make_enquiry(ROADS), ROADS)


def test_a_reply_lost_after_commit_never_makes_a_second_case(make: Any) -> None:
    with lagan_double() as double:
        enquiry = make_enquiry(ROADS)
        double.fail_next("FWTCaseCreate", Failure("drop_after_commit"))
        connector = make(double)
        with pytest.raises(TransientError):
            connector.create_case(enquiry, ROADS)
        assert len(double.store.cases) == 1  # FL committed it
        again = make(double).create_case(enquiry, ROADS)  # the next sync run
        assert not again.created
        assert len(double.store.cases) == 1
        assert double.store.cases[again.id].external_refs == [str(enquiry.id)]


def test_an_officers_note_and_a_closure_come_back_through_sync(make: Any) -> None:
    with lagan_double() as double:
        connector = make(double)
        enquiry = make_enquiry(ROADS)
        case = connector.create_case(enquiry, ROADS)
        first = list(connector.fetch_updates(None))
        cursor = first[-1].cursor
        double.store.add_officer_note(case.id, "Filled on Monday.")
        double.store.close(case.id, "Duplicate of 100002")
        updates = [u for u in connector.fetch_updates(cursor) if u.case_ref == case.id]
        assert [u.response for u in updates if u.response] == ["Filled on Monday."]
        statuses = [u.crm_status for u in updates if u.crm_status]
        assert statuses == ["closed: Duplicate of 100002"]
        assert MAPPING.bridge_status(statuses[0]) is Status.CLOSED
        assert all(u.external_ref == str(enquiry.id) for u in updates)
        again = [u.event_id for u in connector.fetch_updates(cursor) if u.case_ref == case.id]
        assert again == [u.event_id for u in updates]


def test_a_reply_with_a_doctype_is_refused(make: Any) -> None:
    with lagan_double() as double:
        double.fail_next("FWTCaseCreate", Failure("xxe"))
        with pytest.raises(PermanentError, match="XXE"):
            make(double).create_case(make_enquiry(ROADS), ROADS)


def test_check_names_what_an_admin_must_fix(make: Any) -> None:
    other = ServiceDestination(id="parks", name="Parks", crm_target="Parks", response_days=10,
                               contact="parks@example.gov.uk")
    with lagan_double() as double:
        findings = make(double).check([ROADS, other])
        assert [f.ok for f in findings] == [True, True, True, False]
        assert "under classifications in mappings/lagan.yaml" in findings[-1].detail
        bad = make(double, password="wrong").check([ROADS])
        assert not bad[-1].ok and "login failed" in bad[-1].detail


def test_the_password_never_shows(make: Any) -> None:
    with lagan_double() as double:
        connector = make(double)
        assert double.password not in repr(connector.settings)
        assert double.password not in repr(connector.wire)
