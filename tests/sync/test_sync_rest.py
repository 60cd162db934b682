"""`crm-bridge sync` through the rest connector against the CRM stand-in, on SQLite and
PostgreSQL: what an operator sees (summary, --json, --dry-run, --only, exit codes), what a
rejection, a refused login, a lost answer, a Retry-After and a CRM that is down each do,
and pull keeping its place when the CRM fails part-way.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from cli_support import invoke
from sqlalchemy import func, select
from support.connector_kit import closed_port
from support.constants import NOW
from support.crm_standin import REJECT_MARK, CrmStandin, Faults, crm_standin
from tenacity import Retrying

from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry, Status
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.locks import held
from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import enquiry_history, outbox
from crm_bridge.sync import retry
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync
from sync.council import TOKEN_VARIABLE, configure, use_rest

pytestmark = pytest.mark.timeout(120)

CRM_STEPS = ("push", "pull", "overdue")
ONCE = RetryPolicy(attempts=1, initial_wait=0, max_wait=0, requeue_after=60)


@pytest.fixture
def crm() -> Iterator[CrmStandin]:
    with crm_standin(Faults(hang_seconds=0.8)) as standin:
        yield standin


@pytest.fixture
def bridge(config_file: Path, store_url: str, crm: CrmStandin,
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Bridge]:
    """A Bridge whose connector is the rest connector pointed at the stand-in."""
    monkeypatch.setenv(TOKEN_VARIABLE, crm.token)
    use_rest(config_file, crm)
    from crm_bridge.store.engine import make_engine

    engine = make_engine(store_url)
    upgrade(engine)
    engine.dispose()
    opened = Bridge.open(config_file)
    yield opened
    opened.close()


def sync(bridge: Bridge, now: Any = None, policy: RetryPolicy | None = None,
         only: tuple[str, ...] = CRM_STEPS) -> SyncReport:
    return run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                    now=now, policy=policy, only=only)


def stored(bridge: Bridge, enquiry: Enquiry) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, enquiry.reference)
    assert found is not None
    return found


def cli(config: Path, *args: str) -> Any:
    return invoke(["--config", str(config), *args])


def test_enquiries_go_out_once_and_the_services_work_comes_back(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry]
) -> None:
    first, second = log(), log(description="Lamp post flickering")

    report = sync(bridge)

    assert (report.pushed, report.updated, report.ok) == (2, 2, True)
    for enquiry in (first, second):
        (case,) = crm.cases_for(str(enquiry.id))
        after = stored(bridge, enquiry)
        assert (after.crm_ref, after.status) == (case.id, Status.ACKNOWLEDGED)
    case = stored(bridge, first).crm_ref
    assert case is not None
    crm.change(case, "resolved", "roads.officer", "Filled on Tuesday.")

    assert sync(bridge).updated == 1
    after = stored(bridge, first)
    assert (after.status, after.response) == (Status.RESPONDED, "Filled on Tuesday.")
    assert sync(bridge).updated == 0


def test_a_case_the_crm_took_before_the_answer_was_lost_is_not_opened_twice(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    # A first try has nothing to look up (push passes fresh=True): the create is carried
    # out, then its answer is lost. The retry looks up first and finds the case.
    crm.force("drop")

    lost = sync(bridge, policy=ONCE, only=("push",))
    assert (lost.pushed, lost.deferred) == (0, 1)

    with bridge.engine.connect() as conn:
        not_before = conn.execute(select(outbox.c.not_before)).scalar_one()
    later = sync(bridge, now=not_before + timedelta(seconds=1), only=("push",))
    assert later.pushed == 1
    (case,) = crm.cases_for(str(enquiry.id))
    assert [e.detail for e in stored(bridge, enquiry).history if e.event == "sent"] == [
        f"found case {case.id} already in the CRM"]


def test_a_rejection_is_shown_listed_and_can_be_sent_again(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry], config_file: Path
) -> None:
    refused = log(description=f"Pothole {REJECT_MARK}")
    fine = log()

    report = sync(bridge)

    assert (report.failed, report.pushed, report.ok) == (1, 1, False)
    reason = ("the CRM refused POST /cases (HTTP 422): queue 'Roads' is closed to new cases")
    assert stored(bridge, refused).failure_reason == reason
    assert stored(bridge, fine).status is Status.ACKNOWLEDGED
    shown = cli(config_file, "enquiry", "show", refused.reference)
    assert shown.exit_code == 0
    assert f"{refused.reference}  [failed_to_send" in shown.output
    assert f"failed to send: {reason}" in shown.output
    listed = cli(config_file, "enquiry", "list", "--status", "failed_to_send", "--json")
    assert [e["reference"] for e in json.loads(listed.output)] == [refused.reference]

    crm.reject = None  # the service reopened its queue
    assert cli(config_file, "enquiry", "retry", refused.reference).exit_code == 0
    assert stored(bridge, refused).status is Status.LOGGED
    again = sync(bridge)
    assert (again.pushed, again.failed) == (1, 0)
    assert stored(bridge, refused).status is Status.ACKNOWLEDGED
    assert len(crm.cases_for(str(refused.id))) == 1


def test_refused_credentials_stop_the_run_with_exit_1_and_say_why(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry], config_file: Path,
    monkeypatch: pytest.MonkeyPatch
) -> None:
    log()
    monkeypatch.setenv(TOKEN_VARIABLE, "expired-token")

    result = cli(config_file, "sync", "--only", "push", "--only", "pull")

    assert result.exit_code == 1
    assert ("error: sync stopped: the CRM refused the bridge's credentials: the CRM refused "
            "POST /cases (HTTP 401): the token was not accepted: invalid or missing token"
            ) in result.stderr
    assert crm.cases == {}
    assert "updates" not in crm.calls  # pull did not try either
    with bridge.engine.connect() as conn:
        assert conn.execute(select(outbox.c.state)).scalar_one() == "pending"


def test_json_summary_carries_what_monitoring_needs(
    bridge: Bridge, log: Callable[..., Enquiry], config_file: Path
) -> None:
    log()
    result = cli(config_file, "sync", "--json")

    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    for key in ("pushed", "updated", "failed", "overdue", "reminders", "duration", "ok",
                "skipped"):
        assert key in summary
    assert (summary["pushed"], summary["updated"], summary["ok"]) == (1, 1, True)


def test_a_dry_run_lists_what_would_go_and_calls_the_crm_not_once(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry], config_file: Path
) -> None:
    enquiry = log()
    result = cli(config_file, "sync", "--dry-run")

    assert result.exit_code == 0
    assert f"would send create_case for {enquiry.reference}" in result.stdout
    assert sum(crm.calls.values()) == 0


def test_only_push_leaves_the_crms_changes_for_later(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry], config_file: Path
) -> None:
    log()
    result = cli(config_file, "sync", "--only", "push")
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("sync: pushed 1, notes 0, updated 0, failed 0")
    assert set(crm.calls) == {"create"}  # a first try has no earlier case to look up


def test_an_overlapping_run_leaves_the_work_to_the_holder_and_exits_0(
    bridge: Bridge, log: Callable[..., Enquiry], config_file: Path
) -> None:
    log()
    postgres = bridge.engine.dialect.name == "postgresql"
    with held(bridge.engine, "sync:pull" if postgres else "sync", datetime.now(UTC)):
        result = cli(config_file, "sync")
        as_json = json.loads(cli(config_file, "sync", "--json").stdout)
    assert result.exit_code == 0, result.output
    assert "another sync is running (pid " in result.stdout
    if postgres:  # it pushed alongside the holder and left pull to it
        assert result.stdout.startswith("sync: pushed 1, notes 0, updated 0")
        assert "; pull skipped: another sync is running (pid " in result.stdout
        assert list(as_json["skipped"]) == ["pull"]
    else:
        assert result.stdout.startswith("another sync is running (pid ")
        assert sorted(as_json["skipped"]) == ["overdue", "pull", "push", "reminders"]
    assert as_json["ok"] is True


def test_a_short_retry_after_is_waited_and_a_long_one_puts_the_row_off(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry],
    monkeypatch: pytest.MonkeyPatch
) -> None:
    waits: list[float] = []  # each pause push's retry took, instead of sleeping through it

    class Recorded(Retrying):
        def __init__(self, **options: Any) -> None:
            super().__init__(sleep=waits.append, **options)

    monkeypatch.setattr(retry, "Retrying", Recorded)
    patient = RetryPolicy(attempts=3, initial_wait=0, max_wait=2, requeue_after=1)
    log()
    crm.force("429")  # the first create (no look-up before a first try) is told to wait
    report = sync(bridge, policy=patient, only=("push",))
    assert report.pushed == 1 and report.deferred == 0
    assert waits == [1.0]  # Retry-After: 1, waited once, then sent in the same run

    log(description="Another pothole")
    crm.faults.retry_after = "600"
    crm.force("429")
    waits.clear()
    report = sync(bridge, now=NOW, policy=patient, only=("push",))
    assert report.deferred == 1 and waits == []  # too long to wait: not retried this run
    with bridge.engine.connect() as conn:
        waits_until = conn.execute(select(outbox.c.not_before)
                                   .where(outbox.c.state == "pending"))
        assert waits_until.scalar_one() >= NOW + timedelta(seconds=600)


def test_a_crm_that_is_down_costs_a_run_stop_after_rows_not_all_of_them(
    bridge: Bridge, log: Callable[..., Enquiry], config_file: Path, crm: CrmStandin
) -> None:
    for n in range(10):
        log(description=f"Pothole {n}")
    configure(config_file, connector={"url": f"http://127.0.0.1:{closed_port()}"})
    down = Bridge.open(config_file)
    try:
        report = run_sync(down.engine, down.connector(), down.mapping(), down.config,
                          policy=RetryPolicy(attempts=2, initial_wait=0, max_wait=0,
                                             stop_after=3), only=("push",))
    finally:
        down.close()
    assert report.deferred == 3
    assert "push stopped: the CRM failed 3 rows in a row" in report.problems[0]
    with bridge.engine.connect() as conn:
        tried = conn.execute(select(func.count()).where(outbox.c.attempts > 0)).scalar_one()
    assert tried == 3


def test_pull_keeps_what_it_read_when_the_crm_fails_part_way(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry]
) -> None:
    enquiries = [log(description=f"Pothole {n}") for n in range(5)]
    assert sync(bridge, only=("push",)).pushed == 5
    cases = [stored(bridge, e).crm_ref or "" for e in enquiries]
    for n in range(245):  # 250 changes in all: three pages of 100
        crm.change(cases[n % 5], ("open", "new")[n // 5 % 2], "roads.officer")
    # Two pages, then a page that fails all its tries (three), and fails them again when
    # pull, having moved the cursor on, gives the read a fresh set of tries.
    crm.force("ok", "ok", *["500"] * 6)

    cut_short = sync(bridge, policy=ONCE, only=("pull",))
    assert cut_short.updated == 200
    assert crm.injected["500"] == 6
    assert cut_short.problems[0].startswith("pull: the CRM could not be reached (")

    rest = sync(bridge, policy=ONCE, only=("pull",))
    assert rest.updated == 50
    with bridge.engine.connect() as conn:
        applied = conn.execute(select(enquiry_history.c.crm_event_id)
                               .where(enquiry_history.c.crm_event_id.is_not(None))).scalars()
        assert sorted(applied) == sorted(e.id for e in crm.events)


def test_a_late_change_is_applied_once_and_never_moves_the_status_back(
    bridge: Bridge, crm: CrmStandin, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    sync(bridge)
    case = stored(bridge, enquiry).crm_ref or ""
    created = crm.events[-1].at
    crm.change(case, "resolved", "roads.officer", "Filled.", at=created + timedelta(seconds=20))
    assert sync(bridge).updated == 1
    # A change made before the reply, committed (or stamped by a slow clock) after it.
    crm.change(case, "open", "roads.officer2", at=created + timedelta(seconds=10))

    assert sync(bridge).updated == 1
    assert sync(bridge).updated == 0  # the overlap reads it again: applied once
    after = stored(bridge, enquiry)
    assert (after.status, after.response) == (Status.RESPONDED, "Filled.")
    assert [(e.event, e.actor) for e in after.history if e.actor.startswith("roads")] == [
        ("status", "roads.officer2"), ("response", "roads.officer")]
