"""The lagan connector against the FL service double over real HTTP (tests/support/lagan_double).

The contract suite (tests/contract) covers what every connector promises; these cover
what is Lagan's own: three auth styles, FWTException faults, lost replies, XXE.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from support.connector_kit import make_enquiry
from support.lagan_double import (
    AUTH_FAILED,
    BAD_CLASSIFICATION,
    BUSY,
    NOT_FOUND,
    Failure,
    lagan_double,
)
from support.lagan_kit import MakeConnector, connectors_for

from connectors.base import Note
from connectors.lagan import LaganCaseRef, LaganCaseSnapshot, LaganConnector
from connectors.lagan_mapping import LaganMapping
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import ServiceDestination, Status

REPO = Path(__file__).resolve().parents[1]
SHIPPED = LaganMapping.model_validate(
    yaml.safe_load((REPO / "mappings" / "lagan.yaml").read_text(encoding="utf-8")))
# The shipped mapping places no ErrorCode (a site's are unknown); a site places its own,
# as here the stock double's.
MAPPING = SHIPPED.model_copy(update={"transient_error_codes": [BUSY],
                                     "auth_error_codes": [AUTH_FAILED],
                                     "permanent_error_codes": [NOT_FOUND, BAD_CLASSIFICATION]})
ROADS = ServiceDestination(id="roads", name="Roads", crm_target="Roads", response_days=10,
                           contact="roads@example.gov.uk")


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeConnector]:
    with connectors_for(tmp_path, MAPPING, timeout_seconds=2) as connect:
        yield connect


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


@pytest.mark.parametrize("style", ["username_token", "basic"])
def test_a_listed_auth_code_logs_in_again_in_every_style(style: str, make: Any) -> None:
    """A session behind UsernameToken or Basic may expire too: one fresh login, one retry."""
    with lagan_double(auth=style) as double:
        connector = make(double)
        connector.health()
        double.fail_next("FWTCaseCreate", Failure("fault", AUTH_FAILED, "Session expired"))
        assert connector.create_case(make_enquiry(ROADS), ROADS).created
        for _ in range(2):
            double.fail_next("FWTCaseCreate", Failure("fault", AUTH_FAILED, "Session expired"))
        with pytest.raises(AuthError, match="Session expired"):
            connector.create_case(make_enquiry(ROADS), ROADS)


def test_an_expired_token_answered_with_http_401_is_renewed_once(make: Any) -> None:
    """A servlet filter in front of FL may refuse an expired token with Tomcat's HTML 401
    page rather than an FWTException: that too is worth one fresh token."""
    with lagan_double(auth="token", token_refusal="http_401") as double:
        connector = make(double)
        connector.create_case(make_enquiry(ROADS), ROADS)
        double.expire_tokens()
        assert connector.create_case(make_enquiry(ROADS), ROADS).created
        assert double.authentications == 2
        assert len(double.store.cases) == 2


def test_a_second_http_401_after_a_fresh_token_is_an_auth_error(make: Any) -> None:
    with lagan_double(auth="token") as double:
        connector = make(double)
        connector.health()
        for _ in range(2):
            double.fail_next("FWTCaseCreate", Failure("html", 401))
        with pytest.raises(AuthError, match="HTTP 401"):
            connector.create_case(make_enquiry(ROADS), ROADS)
        assert double.authentications == 2  # the first login and one re-authentication
        assert not double.store.cases


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
        assert [f.ok for f in findings] == [True, True, False, True, False]
        assert "finds no case raised by this user" in findings[2].detail
        assert "under classifications in mappings/lagan.yaml" in findings[-1].detail
        make(double).create_case(make_enquiry(ROADS), ROADS)
        assert make(double).check([ROADS])[2].ok
        bad = make(double, password="wrong").check([ROADS])
        assert not bad[-1].ok and "login failed" in bad[-1].detail


def test_the_password_never_shows(make: Any) -> None:
    with lagan_double() as double:
        connector = make(double)
        assert double.password not in repr(connector.settings)
        assert double.password not in repr(connector.wire)


def _new(connector: LaganConnector, seen: set[str], since: str | None
         ) -> tuple[list[str], str | None]:
    """The statuses a bridge would apply from one sync (event ids not seen before)."""
    updates = list(connector.fetch_updates(since))
    fresh = [u for u in updates if u.event_id not in seen and u.crm_status]
    seen.update(u.event_id for u in updates)
    return [u.crm_status or "" for u in fresh], (updates[-1].cursor if updates else since)


def test_closed_reopened_and_closed_again_is_each_reported_once(make: Any) -> None:
    """Each closure has its own Closed date, so a second closure is a new event; the
    bridge's own follow-up moves LastModifiedDate but is no status change."""
    resolved = "closed: Resolved - work completed"
    with lagan_double() as double:
        connector = make(double)
        case = connector.create_case(make_enquiry(ROADS), ROADS)
        seen: set[str] = set()
        opened, cursor = _new(connector, seen, None)
        assert opened == ["open"]
        double.store.close(case.id, "Resolved - work completed")
        assert _new(connector, seen, cursor)[0] == [resolved]
        double.store.reopen(case.id)
        assert _new(connector, seen, cursor)[0] == ["open"]
        connector.add_note(case.id, Note("Still there.", "cllr-kirsty-dalgleish"))
        assert _new(connector, seen, cursor)[0] == []
        double.store.close(case.id, "Resolved - work completed")
        assert _new(connector, seen, cursor)[0] == [resolved]
        assert _new(connector, seen, cursor)[0] == []  # re-read: nothing applied again


def test_a_reopen_on_a_server_that_clears_closed_is_not_seen_but_the_next_close_is(
        make: Any) -> None:
    """The documented limit: without a Closed date, "open" again reads like the first."""
    with lagan_double() as double:
        connector = make(double)
        case = connector.create_case(make_enquiry(ROADS), ROADS)
        seen: set[str] = set()
        _, cursor = _new(connector, seen, None)
        double.store.close(case.id, "Withdrawn")
        assert _new(connector, seen, cursor)[0] == ["closed: Withdrawn"]
        double.store.reopen(case.id, keep_closed=False)
        assert _new(connector, seen, cursor)[0] == []
        double.store.close(case.id, "Withdrawn")
        assert _new(connector, seen, cursor)[0] == ["closed: Withdrawn"]


def test_due_date_read_back_carries_fls_date_to_the_bridge(make: Any) -> None:
    """FL sets the date (the request has no DueDate); it comes back on the CaseRef and the
    snapshot, also when a later run finds the case instead of opening it."""
    read_back = MAPPING.model_copy(update={"due_date": "read_back"})
    with lagan_double(default_due_days=5) as double:
        connector = make(double, mapping=read_back)
        enquiry = make_enquiry(ROADS)
        case = connector.create_case(enquiry, ROADS)
        fl_due = datetime.fromisoformat(double.store.cases[case.id].due or "").date()
        assert fl_due == datetime.now(UTC).date() + timedelta(days=5) != enquiry.target_date
        assert isinstance(case, LaganCaseRef) and case.due == fl_due
        snapshot = connector.get_case(case.id)
        assert isinstance(snapshot, LaganCaseSnapshot) and snapshot.due == fl_due
        again = make(double, mapping=read_back).create_case(enquiry, ROADS)
        assert isinstance(again, LaganCaseRef) and (again.created, again.due) == (False, fl_due)
        sent = make(double).create_case(make_enquiry(ROADS), ROADS)
        assert isinstance(sent, LaganCaseRef) and sent.due is None  # not read back
        assert connector.get_case(sent.id).due == enquiry.target_date


def test_search_by_title_off_still_finds_the_case(make: Any) -> None:
    """A server whose Title search matches only whole titles: the create reads every
    bridge case in the window and matches the external reference or the marker."""
    with lagan_double() as double:
        for _ in range(3):
            make(double).create_case(make_enquiry(ROADS), ROADS)
        enquiry, lost = make_enquiry(ROADS), make_enquiry(ROADS)
        first = make(double, search_by_title=False).create_case(enquiry, ROADS)
        again = make(double, search_by_title=False).create_case(enquiry, ROADS)
        assert (again.id, again.created) == (first.id, False)
        double.fail_next("FWTCaseCreate", Failure("drop_after_commit"))
        with pytest.raises(TransientError):
            make(double, search_by_title=False).create_case(lost, ROADS)
        found = make(double, search_by_title=False).create_case(lost, ROADS)
        assert not found.created
        assert double.store.cases[found.id].external_refs == [str(lost.id)]
        assert len(double.store.cases) == 5


def test_runs_against_a_server_failing_a_share_of_calls_end_with_one_case_each(
        make: Any) -> None:
    """As sync does: each run is a new connector, a transient failure leaves the enquiry
    for the next run. A 503 can fall between createCase and addCaseExternalReference;
    the title marker finds that case again."""
    enquiries = [make_enquiry(ROADS) for _ in range(8)]
    opened: dict[str, str] = {}
    recovered = 0
    with lagan_double(fail_share=0.3, seed=4) as double:
        runs = 0
        while len(opened) < len(enquiries) and runs < 40:
            runs += 1
            connector = make(double)
            for enquiry in enquiries:
                if str(enquiry.id) in opened:
                    continue
                try:
                    case = connector.create_case(enquiry, ROADS)
                except TransientError:
                    continue
                opened[str(enquiry.id)] = case.id
                recovered += not case.created  # committed by a run that then failed
            with contextlib.suppress(TransientError):
                list(connector.fetch_updates(None))
        assert runs > 1 and len(opened) == len(enquiries)
        assert recovered  # the seed makes some case's later calls fail after createCase
        for enquiry in enquiries:
            cases = [c for c in double.store.cases.values()
                     if str(enquiry.id) in c.title]
            assert [c.ref for c in cases] == [opened[str(enquiry.id)]]
            assert cases[0].external_refs == [str(enquiry.id)]


def test_a_fresh_create_skips_the_look_up_and_a_retry_still_finds_the_case(make: Any) -> None:
    """push says ``fresh`` only when no earlier try can have reached FL: no search then; any
    other call searches first, so a case opened by a try whose reply was lost is reused."""
    with lagan_double(auth="token") as double:
        connector = make(double)
        enquiry = make_enquiry(ROADS)
        first = connector.create_case(enquiry, ROADS, fresh=True)
        looked_up = double.calls["FWTSearchAndRetrieveCase"]
        again = connector.create_case(enquiry, ROADS)

        assert first.created and looked_up == 0
        assert (again.created, again.id) == (False, first.id)
        assert double.calls["FWTSearchAndRetrieveCase"] == 1
        assert len(double.store.cases) == 1
