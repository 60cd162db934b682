"""The lagan connector on an FL that differs from the stock double wherever the contract is
silent (the double's ``site`` personality: another binding name, a WSDL importing its XSD
by URL, no LastModifiedDate, searches capped at 500, the site's own ErrorCodes), and the
sync-side handling: configuration errors stop the run failing nothing, unplaced codes are
retried on a bounded number of runs then held, `enquiry retry --all-failed`.

The CLI tests run the real `crm-bridge` commands against the double over HTTP.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from cli_support import Council, make_council, parse_json
from support.connector_kit import make_enquiry
from support.lagan_double import SITE_CODES, LaganDouble, lagan_double
from support.lagan_double.server import wsdl_text
from support.lagan_kit import MakeConnector, connectors_for
from sync.council import configure

from connectors.lagan_mapping import LaganMapping
from crm_bridge.app import Bridge
from crm_bridge.errors import ConfigError, MisconfiguredError, TransientError
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.models import ServiceDestination
from crm_bridge.store.enquiries import set_fields
from crm_bridge.store.tables import outbox

REPO = Path(__file__).resolve().parents[1]
SHIPPED = LaganMapping.model_validate(
    yaml.safe_load((REPO / "mappings" / "lagan.yaml").read_text(encoding="utf-8")))
ROADS = ServiceDestination(id="roads", name="Roads", crm_target="Roads", response_days=10,
                           contact="roads@example.gov.uk")
PASSWORD_VARIABLE = "LAGAN_PASSWORD"
NO_WAITING = {"attempts": 1, "initial_wait": 0, "max_wait": 0, "requeue_after": 0,
              "requeue_max": 0, "stop_after": 10_000}


@pytest.fixture
def make(tmp_path: Path) -> Iterator[MakeConnector]:
    with connectors_for(tmp_path, SHIPPED, timeout_seconds=5) as connect:
        yield connect


# -- the WSDL and the binding -------------------------------------------------------------------


@pytest.mark.parametrize("style", ["token", "username_token", "basic"])
def test_the_sites_wsdl_loads_with_its_imported_xsd_in_each_auth_style(style: str,
                                                                         make: Any) -> None:
    with lagan_double(personality="site", auth=style) as double:
        connector = make(double)
        case = connector.create_case(make_enquiry(ROADS), ROADS)
        assert connector.wire.binding == "{http://www.lagan.com/wsdl/FLService}FLWebBinding"
        assert double.store.cases[case.id].raised_by == double.username


def test_a_local_copy_of_the_sites_wsdl_reads_its_xsd_from_beside_it(make: Any,
                                                                      tmp_path: Path) -> None:
    with lagan_double(personality="site") as double:
        double.write_local_wsdl(tmp_path)
        connector = make(double, wsdl="FL.wsdl")
        assert connector.create_case(make_enquiry(ROADS), ROADS).created
        assert double.wsdl_fetches == 0


def test_a_wsdl_importing_from_another_server_is_refused(make: Any, tmp_path: Path) -> None:
    with lagan_double(personality="site") as double, lagan_double() as elsewhere:
        (tmp_path / "FL.wsdl").write_text(wsdl_text(
            double.url, "site", f"{elsewhere.url}?xsd=FLTypes.xsd"), encoding="utf-8")
        with pytest.raises(MisconfiguredError, match="not on the FL server"):
            make(double, wsdl="FL.wsdl").health()
        (tmp_path / "FL.wsdl").write_text(wsdl_text(double.url, "site", "/etc/FLTypes.xsd"),
                                          encoding="utf-8")
        with pytest.raises(MisconfiguredError, match="local WSDL's own folder"):
            make(double, wsdl="FL.wsdl").health()


def test_a_wsdl_that_is_not_a_wsdl_is_a_configuration_error(make: Any,
                                                             tmp_path: Path) -> None:
    with lagan_double(personality="site") as double:
        for text, said in (("Welcome to Tomcat", "will not load"),
                           ("<html><body>Welcome</body></html>", "declares no binding")):
            (tmp_path / "FL.wsdl").write_text(text, encoding="utf-8")
            with pytest.raises(MisconfiguredError, match=said):
                make(double, wsdl="FL.wsdl").health()


def test_a_binding_named_in_the_settings_must_exist(make: Any) -> None:
    with lagan_double(personality="site") as double:
        with pytest.raises(MisconfiguredError, match=r"no binding 'FLSoapBinding'.*FLWebBinding"):
            make(double, binding="FLSoapBinding").health()
        make(double, binding="FLWebBinding").health()


@pytest.mark.parametrize("wsdl", [False, True])
def test_a_url_typo_is_a_configuration_error_not_a_retry(wsdl: bool, make: Any,
                                                         tmp_path: Path) -> None:
    with lagan_double(personality="site") as double:
        options = {"url": double.url + "X"}
        if wsdl:
            double.write_local_wsdl(tmp_path)
            options["wsdl"] = "FL.wsdl"
        with pytest.raises(MisconfiguredError, match=r"HTTP 404.*connector.url"):
            make(double, **options).create_case(make_enquiry(ROADS), ROADS)
        assert not double.store.cases


def test_a_redirect_is_not_followed_and_names_where_it_points(make: Any,
                                                              tmp_path: Path) -> None:
    with lagan_double(personality="site") as double:
        moved = double.url + "moved"
        with pytest.raises(MisconfiguredError, match=r"redirects to http://fl\.elsewhere\.invalid"):
            make(double, url=moved).health()
        double.write_local_wsdl(tmp_path)
        with pytest.raises(MisconfiguredError, match="does not follow redirects"):
            make(double, url=moved, wsdl="FL.wsdl").create_case(make_enquiry(ROADS), ROADS)


# -- one FL identity --------------------------------------------------------------------------


def test_a_mapping_naming_another_fl_user_is_refused(make: Any) -> None:
    with lagan_double(personality="site") as double:
        old = SHIPPED.model_copy(update={"raised_by_user": "someone-else"})
        with pytest.raises(ConfigError, match=r"raised_by_user.*connector.username"):
            make(double, mapping=old)
        make(double, mapping=SHIPPED.model_copy(update={"raised_by_user": double.username}))


def test_check_opens_a_test_case_and_says_when_pull_cannot_find_it(make: Any) -> None:
    with lagan_double(personality="site") as double:
        good = make(double, check_test_case=True).check([ROADS])
        assert all(f.ok for f in good), good
        assert "found by pull's search and closed" in good[2].detail
        assert all(c.status == "closed" for c in double.store.cases.values())
    with lagan_double(personality="site", raise_as="CRMBRIDGE-SVC") as double:
        bad = make(double, check_test_case=True).check([ROADS])
        assert not bad[2].ok
        assert "FL raised it as 'CRMBRIDGE-SVC'" in bad[2].detail
        assert "set connector.username" in bad[2].detail
        assert "finds no case raised by this user" in make(double).check([ROADS])[2].detail


# -- pull that cannot miss ----------------------------------------------------------------------


def _seed(double: LaganDouble, count: int) -> list[str]:
    """``count`` bridge cases opened a minute apart over the last days, oldest first."""
    start = datetime.now(UTC) - timedelta(minutes=count + 5)
    return [double.store.add_case(f"ENQ-{n}: pothole [bridge e-{n}]", f"e-{n}",
                                  raised_by=double.username,
                                  opened=start + timedelta(minutes=n)) for n in range(count)]


@pytest.mark.parametrize("modified_filter", [True, False])
def test_a_thousand_cases_over_a_cap_of_500_miss_no_note_or_closure(
        modified_filter: bool, make: Any) -> None:
    with lagan_double(personality="site", modified_filter=modified_filter) as double:
        refs = _seed(double, 1000)
        connector = make(double, search_page_size=500)
        first = list(connector.fetch_updates(None))
        assert {u.external_ref for u in first} == {f"e-{n}" for n in range(1000)}
        cursor = first[-1].cursor
        newest = refs[-80:]
        for ref in newest[:40]:
            double.store.add_officer_note(ref, f"Repaired ({ref}).")
        for ref in newest[40:]:
            double.store.close(ref, "Resolved - work completed")
        for _ in range(2):  # the next sync, and one after it that finds nothing new
            updates = list(connector.fetch_updates(cursor))
            responses = {u.case_ref: u.response for u in updates if u.response}
            closures = {u.case_ref for u in updates if u.crm_status
                        and u.crm_status.startswith("closed")}
            if cursor == first[-1].cursor:
                assert responses == {ref: f"Repaired ({ref})." for ref in newest[:40]}
                assert closures == set(newest[40:])
                assert {u.case_ref for u in updates} == set(newest)
                cursor = updates[-1].cursor
            else:
                assert updates == []


@pytest.mark.parametrize("modified_filter", [True, False])
def test_a_server_cap_below_the_page_size_is_found_and_kept_under(modified_filter: bool,
                                                                  make: Any) -> None:
    """The cap is not announced: a 40-case reply to ResultsLimit 100 looks complete. The
    first large reply is checked by its halves, so the cap is found on the first pull."""
    with lagan_double(personality="site", search_cap=40,
                      modified_filter=modified_filter) as double:
        refs = _seed(double, 150)
        connector = make(double, search_page_size=100)
        first = list(connector.fetch_updates(None))
        assert {u.case_ref for u in first} == set(refs)
        for ref in refs[-60:]:
            double.store.add_officer_note(ref, "Done.")
        second = list(connector.fetch_updates(first[-1].cursor))
        assert {u.case_ref for u in second if u.response} == set(refs[-60:])


def test_resuming_from_any_updates_cursor_misses_nothing_after_it(make: Any) -> None:
    """Pull saves the cursor of each batch's last update, and a crash resumes from it: from
    any update's cursor, every later change comes back (earlier ones may, harmlessly)."""
    with lagan_double(personality="site", modified_filter=False) as double:
        refs = _seed(double, 260)
        connector = make(double)
        cursor = list(connector.fetch_updates(None))[-1].cursor
        for ref in refs[:230]:
            double.store.add_officer_note(ref, "Done.")
        updates = list(connector.fetch_updates(cursor))
        assert len(updates) == 230 * 2  # the "open" is new too: notes change the fingerprint
        for k in (0, 1, 99, 198, 199, 200, 201, 398, 458):
            again = {u.event_id for u in connector.fetch_updates(updates[k].cursor)}
            assert {u.event_id for u in updates[k + 1:]} <= again, k
        assert list(connector.fetch_updates(updates[-1].cursor)) == []


def test_a_wsdl_from_before_last_modified_searches_still_misses_nothing(
        make: Any, tmp_path: Path) -> None:
    """LastModifiedDate* came after 2012: an FL whose schema has no LastModifiedDateFrom is
    read in full each pull, and its changes still come back."""
    with lagan_double(personality="site") as double:
        double.write_local_wsdl(tmp_path)
        xsd = tmp_path / "FLTypes.xsd"
        lines = xsd.read_text(encoding="utf-8").splitlines()
        xsd.write_text("\n".join(line for line in lines if "LastModifiedDate" not in line),
                       encoding="utf-8")
        refs = _seed(double, 30)
        connector = make(double, wsdl="FL.wsdl")
        cursor = list(connector.fetch_updates(None))[-1].cursor
        double.store.add_officer_note(refs[3], "Done.")
        updates = list(connector.fetch_updates(cursor))
        assert [u.response for u in updates if u.response] == ["Done."]
        assert connector.last_read["windowed"] == 0 and connector.last_read["cases"] == 30


def test_a_note_already_there_at_the_first_pull_is_not_overtaken_by_open(make: Any) -> None:
    with lagan_double(personality="site") as double:
        connector = make(double)
        case = connector.create_case(make_enquiry(ROADS), ROADS)
        double.store.add_officer_note(case.id, "Filled on Monday.")
        updates = list(connector.fetch_updates(None))
        assert [u.crm_status or "note" for u in updates] == ["open", "note"]
        assert updates[0].occurred_at < updates[1].occurred_at


# -- faults and logins -----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["token", "username_token", "basic"])
def test_an_expired_login_with_an_unlisted_code_logs_in_again(style: str, make: Any) -> None:
    with lagan_double(personality="site", auth=style) as double:
        connector = make(double)
        connector.health()
        double.fail_next("FWTCaseCreate", _fault(SITE_CODES.auth_failed, "Session expired"))
        assert connector.create_case(make_enquiry(ROADS), ROADS).created
        assert "add it to auth_error_codes" in connector.unplaced_codes()["2010"]
        assert connector.wire.cleared_by_login == {"2010": "Session expired"}


def test_an_unplaced_code_that_persists_is_transient_and_named(make: Any) -> None:
    with lagan_double(personality="site") as double:
        connector = make(double)
        for _ in range(2):
            double.fail_next("FWTCaseCreate", _fault(SITE_CODES.busy, "Database unavailable"))
        with pytest.raises(TransientError, match=r'"Database unavailable" \(ErrorCode 9999'):
            connector.create_case(make_enquiry(ROADS), ROADS)
        assert connector.unplaced_codes() == {"9999": "not placed in the mapping"}
        assert connector.wire.unplaced == {"9999": "Database unavailable"}


def _fault(code: int, message: str) -> Any:
    from support.lagan_double import Failure

    return Failure("fault", code, message)


# -- sync and the CLI, against the double over HTTP -------------------------------------------


@pytest.fixture
def council(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Council:
    monkeypatch.setenv(PASSWORD_VARIABLE, "s3cret-pass")
    return make_council(tmp_path)


def _use(council: Council, double: LaganDouble, **settings: Any) -> None:
    connector = {"type": "lagan", "url": double.url, "username": double.username,
                 "password": f"${{{PASSWORD_VARIABLE}}}", "auth": double.auth,
                 "timeout_seconds": 5, **settings}
    configure(council.config, replace={"connector": connector},
              sync={"retry": NO_WAITING}, reminders={"enabled": False})


def _sync(council: Council) -> tuple[int, dict[str, Any]]:
    result = council.cli("sync", "--json")
    return result.exit_code, parse_json(result.stdout)


def _statuses(council: Council) -> dict[str, str]:
    return dict(council.sql("SELECT reference, status FROM enquiries"))


@pytest.mark.parametrize("wsdl", [False, True])
def test_sync_with_a_url_typo_stops_and_fails_no_enquiry(wsdl: bool, council: Council) -> None:
    with lagan_double(personality="site") as double:
        refs = [council.add() for _ in range(3)]
        extra = {}
        if wsdl:
            double.write_local_wsdl(council.root)
            extra["wsdl"] = "FL.wsdl"
        _use(council, double, url=double.url.replace("/FL", "/Fl"), **extra)
        checked = council.cli("connector", "check")
        assert checked.exit_code == 1 and "HTTP 404" in checked.output
        assert "check connector.url" in checked.output
        code, report = _sync(council)
        assert code == 2
        assert "misconfigured" in report["aborted"] and "HTTP 404" in report["aborted"]
        assert report["failed"] == 0
        assert set(_statuses(council).values()) == {"logged"}
        _use(council, double, **extra)
        code, report = _sync(council)
        assert (code, report["pushed"]) == (0, 3)
        assert set(_statuses(council)) == set(refs)


@pytest.mark.parametrize("style", ["basic", "token"])
def test_sync_with_a_refused_login_stops_and_fails_no_enquiry(style: str, council: Council,
                                                              monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    with lagan_double(personality="site", auth=style) as double:
        council.add()
        _use(council, double)
        monkeypatch.setenv(PASSWORD_VARIABLE, "not-the-password")
        code, report = _sync(council)
        assert code == 1 and "refused the bridge's credentials" in report["aborted"]
        assert report["failed"] == 0 and set(_statuses(council).values()) == {"logged"}
        assert not double.store.cases


def test_unplaced_codes_are_retried_then_held_then_retried_by_the_admin(
        council: Council) -> None:
    """A server answering "Database unavailable (ErrorCode 9999)" to every createCase: the
    shipped mapping places no code, so each enquiry is tried on unplaced_code_runs runs,
    then held with FL's words; `connector check` and `sync` name the code; once it is
    placed, one `enquiry retry --all-failed` sends them all."""
    with lagan_double(personality="site") as double:
        refs = [council.add() for _ in range(4)]
        _use(council, double)
        council.edit("mappings/lagan.yaml", "unplaced_code_runs: 5", "unplaced_code_runs: 2")
        for _ in range(16):  # twice a try (the first, and after a fresh login), two runs
            double.fail_next("FWTCaseCreate", _fault(SITE_CODES.busy, "Database unavailable"))
        first = council.cli("sync")  # what cron's log keeps: the code, not FL's words
        assert first.exit_code == 1 and "failed 0, retry later 4" in first.output
        assert "9999 (not placed in the mapping)" in first.output
        assert "Database unavailable" not in first.output
        code, report = _sync(council)
        assert report["unplaced_codes"] == {"9999": "not placed in the mapping"}
        assert (report["deferred"], report["failed"]) == (0, 4)
        assert set(_statuses(council).values()) == {"failed_to_send"}
        shown = parse_json(council.ok("enquiry", "show", refs[0], "--json").stdout)
        assert "Database unavailable" in shown["failure_reason"]
        checked = council.cli("connector", "check")
        assert checked.exit_code == 1
        assert "CRM error code 9999" in checked.output and "held up 4 item(s)" in checked.output
        council.edit("mappings/lagan.yaml", "transient_error_codes: []",
                     "transient_error_codes: [9999]")
        queued = parse_json(council.ok("enquiry", "retry", "--all-failed", "--reason",
                                       "ErrorCode 9999", "--json").stdout)
        assert sorted(queued["queued"]) == sorted(refs)
        code, report = _sync(council)
        assert (code, report["pushed"]) == (0, 4)
        assert set(_statuses(council).values()) == {"acknowledged"}  # sent, then FL: open


def test_a_server_failing_a_share_of_calls_with_an_unlisted_code_fails_no_enquiry(
        council: Council) -> None:
    """The issue's FL: "Database unavailable (ErrorCode 9999)" to 30% of calls, a mapping
    that places no code. Each enquiry is tried again (at once after a fresh login, then on
    later runs) and every one ends with exactly one case; none is failed."""
    with lagan_double(personality="site", fail_share_fault=0.3, seed=16) as double:
        refs = [council.add() for _ in range(12)]
        _use(council, double)
        runs = 0
        while runs < 8 and council.sql("SELECT count(*) FROM outbox WHERE state != 'done'"
                                       )[0][0]:
            runs += 1
            assert _sync(council)[1]["failed"] == 0
        assert "failed_to_send" not in _statuses(council).values()
        assert set(_statuses(council)) == set(refs)
        assert "logged" not in _statuses(council).values()
        per_enquiry = [c.external_refs for c in double.store.cases.values()]
        assert sorted(r for refs_ in per_enquiry for r in refs_) == sorted(
            row[0] for row in council.sql("SELECT id FROM enquiries"))


def test_a_thousand_enquiries_over_a_cap_of_500_all_get_their_notes_and_closures(
        council: Council) -> None:
    """The issue's council: 1,000 bridge cases in an FL capping searches at 500 with no
    LastModifiedDate. An officer's note on 40 of the newest cases and a closure on 40 more
    all come back on the next sync; none of the 80 stays `sent`."""
    with lagan_double(personality="site") as double:
        bridge = Bridge.open(council.config)
        try:
            start = datetime.now(UTC) - timedelta(days=3)
            for n in range(1000):
                logged = log_enquiry(bridge.engine, bridge.config, bridge.router, draft_from({
                    "member_id": "cllr-morag-kinnaird", "category_id": "pothole",
                    "description": f"Pothole {n}", "constituent": {"name": "Jean Paterson"},
                    "consent_to_share": True, "channel": "email", "logged_by": "staff"}))
                ref = double.store.add_case(f"{logged.reference}: pothole [bridge {logged.id}]",
                                            str(logged.id), raised_by=double.username,
                                            opened=start + timedelta(minutes=n))
                with bridge.engine.begin() as conn:  # as push would have recorded it
                    set_fields(conn, str(logged.id), start, crm_ref=ref, status="sent")
                    conn.execute(outbox.update().values(state="done"))
        finally:
            bridge.close()
        _use(council, double, search_page_size=500)
        code, report = _sync(council)
        assert (code, report["updated"]) == (0, 1000)
        assert set(_statuses(council).values()) == {"acknowledged"}
        newest = sorted(double.store.cases)[-80:]
        for ref in newest[:40]:
            double.store.add_officer_note(ref, "Repaired.")
        for ref in newest[40:]:
            double.store.close(ref, "Resolved - work completed")
        code, report = _sync(council)
        assert (code, report["updated"]) == (0, 80)
        rows = dict(council.sql("SELECT crm_ref, status FROM enquiries"))
        assert {rows[ref] for ref in newest} == {"responded"}
        assert list(rows.values()).count("responded") == 80
        assert _sync(council)[1]["updated"] == 0


def test_retry_all_failed_needs_one_of_a_reference_or_the_flag(council: Council) -> None:
    reference = council.add()
    both = council.cli("enquiry", "retry", reference, "--all-failed")
    assert both.exit_code == 2 and "give one enquiry's reference, or --all-failed" in both.output
    alone = council.cli("enquiry", "retry", "--reason", "x")
    assert alone.exit_code == 2 and "--reason" in alone.output
    assert "nothing to retry" in council.ok("enquiry", "retry", "--all-failed").output


def test_a_sync_round_trip_brings_a_response_back_as_responded(council: Council) -> None:
    """The first pull meets a note already on the case and the case still "open": the
    enquiry ends responded, not open."""
    with lagan_double(personality="site") as double:
        reference = council.add()
        _use(council, double)
        assert council.cli("sync", "--only", "push").exit_code == 0
        (case,) = double.store.cases
        double.store.add_officer_note(case, "Filled on Monday.")
        code, report = _sync(council)
        assert (code, report["updated"]) == (0, 2)
        shown = parse_json(council.ok("enquiry", "show", reference, "--json").stdout)
        assert (shown["status"], shown["response"]) == ("responded", "Filled on Monday.")
        double.store.close(case, "Resolved - work completed")
        assert _sync(council)[1]["updated"] == 1
        assert _sync(council)[1]["updated"] == 0
