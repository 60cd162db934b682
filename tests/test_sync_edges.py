"""Sync's edges: changes held on an unmapped status, the attempt-started marker, the run's
deadline, a close with no response, and pull under a CRM that fails part-way.

``EdgeCrm`` is a connector whose answers the test sets (what sync does with them is under
test, not any real CRM); the run's deadline is tested with a clock the test moves.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import select, update
from support.constants import NOW

from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    CursorMark,
    Note,
)
from crm_bridge.app import Bridge
from crm_bridge.errors import TransientError
from crm_bridge.models import Enquiry, HistoryEvent, ServiceDestination, Status
from crm_bridge.privacy.scrub import scrub
from crm_bridge.store.cursors import get_cursor
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.tables import held_updates, outbox
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync

pytestmark = pytest.mark.timeout(60)

SENT_AT = NOW + timedelta(hours=1)
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0)
CRM_STEPS = ("push", "pull", "overdue")

Item = CaseUpdate | CursorMark | Exception


class FakeClock:
    """Seconds that pass only when the test (or the double, per call) says so."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class EdgeCrm:
    """Opens cases (recording each call's ``fresh``), and answers pulls from ``reads``: one
    list of items per fetch_updates call, an Exception item raised where it stands."""

    name: ClassVar[str] = "edge"
    Settings: ClassVar[type[BaseModel]] = BaseModel
    Mapping: ClassVar[type[BaseMapping]] = BaseMapping

    def __init__(self, clock: FakeClock | None = None, seconds_per_call: float = 0) -> None:
        self.clock, self.seconds_per_call = clock, seconds_per_call
        self.created: list[tuple[str, bool]] = []
        self.fail_creates = 0
        self.reads: list[list[Item]] = []
        self.since: list[str | None] = []

    def _tick(self) -> None:
        if self.clock is not None:
            self.clock.now += self.seconds_per_call

    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef:
        self._tick()
        self.created.append((enquiry.reference, fresh))
        if self.fail_creates:
            self.fail_creates -= 1
            raise TransientError("the connection dropped after the CRM took the case")
        return CaseRef(f"EDGE-{enquiry.reference}", created=fresh)

    def add_note(self, case_ref: str, note: Note) -> None:
        raise AssertionError("no notes here")

    def get_case(self, case_ref: str) -> CaseSnapshot:
        raise AssertionError("sync does not read single cases")

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        self.since.append(since)
        items = self.reads.pop(0) if self.reads else []
        for item in items:
            self._tick()
            if isinstance(item, Exception):
                raise item
            yield item

    def health(self) -> None:
        return None

    def close(self) -> None:
        return None


def sync(bridge: Bridge, crm: EdgeCrm, now: datetime = SENT_AT,
         mapping: BaseMapping | None = None, deadline: Deadline | None = None,
         policy: RetryPolicy = NO_WAIT, only: tuple[str, ...] = CRM_STEPS) -> SyncReport:
    return run_sync(bridge.engine, crm, mapping or bridge.mapping(), bridge.config, now=now,
                    policy=policy, only=only, deadline=deadline)


def stored(bridge: Bridge, enquiry: Enquiry) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, enquiry.reference)
    assert found is not None
    return found


def events(enquiry: Enquiry, name: str) -> list[HistoryEvent]:
    return [event for event in enquiry.history if event.event == name]


def change(enquiry: Enquiry, n: int, status: str | None, at: datetime,
           response: str | None = None) -> CaseUpdate:
    return CaseUpdate(event_id=f"ev-{n}", case_ref=f"EDGE-{enquiry.reference}",
                      external_ref=str(enquiry.id), occurred_at=at, cursor=f"c-{n}",
                      crm_status=status, response=response, actor="roads.officer")


def mapping_with(bridge: Bridge, **statuses: Status) -> BaseMapping:
    base = bridge.mapping()
    return base.model_copy(update={"statuses": {**base.statuses, **statuses}})


def sent(bridge: Bridge, log: Callable[..., Enquiry], crm: EdgeCrm) -> Enquiry:
    enquiry = log()
    assert sync(bridge, crm, only=("push",)).pushed == 1
    return enquiry


# --- held changes --------------------------------------------------------------------------


def test_held_changes_are_applied_in_order_with_the_enquirys_others_once_mapped(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    crm = EdgeCrm()
    enquiry = sent(bridge, log, crm)
    t = SENT_AT + timedelta(hours=1)
    crm.reads = [[change(enquiry, 1, "stalled", t),
                  change(enquiry, 2, "awaiting-parts", t + timedelta(minutes=1),
                         response="Waiting for the contractor."),
                  change(enquiry, 3, "open", t + timedelta(minutes=2)),
                  change(enquiry, 2, "awaiting-parts", t + timedelta(minutes=1),
                         response="Waiting for the contractor.")]]  # read twice

    first = sync(bridge, crm, now=t + timedelta(hours=1))

    assert (first.updated, first.held_statuses) == (1, {"awaiting-parts": 1, "stalled": 1})
    waiting = stored(bridge, enquiry)
    assert (waiting.status, waiting.response) == (Status.IN_PROGRESS, None)

    mapped = mapping_with(bridge, stalled=Status.IN_PROGRESS,
                          **{"awaiting-parts": Status.IN_PROGRESS})
    later = sync(bridge, crm, now=t + timedelta(hours=2), mapping=mapped)
    again = sync(bridge, crm, now=t + timedelta(hours=3), mapping=mapped)

    assert (later.updated, later.held_statuses, later.problems) == (2, {}, [])
    assert again.updated == 0
    after = stored(bridge, enquiry)
    # Older than the change already applied: in the history, the response filled in, the
    # status not moved back (nor on to `responded` by the older response).
    assert (after.status, after.response) == (Status.IN_PROGRESS, "Waiting for the contractor.")
    crm_rows = [(e.event, e.at) for e in after.history if e.actor == "roads.officer"]
    assert sorted(crm_rows, key=lambda row: row[1]) == [
        ("status", t), ("response", t + timedelta(minutes=1)),
        ("status", t + timedelta(minutes=2))]


def test_only_the_statuses_the_mapping_learnt_are_released(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    crm = EdgeCrm()
    enquiry = sent(bridge, log, crm)
    t = SENT_AT + timedelta(hours=1)
    crm.reads = [[change(enquiry, 1, "stalled", t),
                  change(enquiry, 2, "with-contractor", t + timedelta(minutes=1))]]
    sync(bridge, crm, now=t)

    report = sync(bridge, crm, now=t + timedelta(hours=1),
                  mapping=mapping_with(bridge, stalled=Status.IN_PROGRESS))

    assert (report.updated, report.held_statuses) == (1, {"with-contractor": 1})
    assert report.problems == ["CRM status 'with-contractor' is not in the mapping: add it "
                               "to statuses; 1 update(s) wait for it"]
    assert stored(bridge, enquiry).status is Status.IN_PROGRESS


def test_purging_an_enquiry_removes_its_held_changes_and_their_text(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    crm = EdgeCrm()
    enquiry = sent(bridge, log, crm)
    crm.reads = [[change(enquiry, 1, "stalled", SENT_AT, response="Mrs Paterson's reply")]]
    sync(bridge, crm)
    with bridge.engine.begin() as conn:
        assert conn.execute(select(held_updates.c.response)).scalars().all() == [
            "Mrs Paterson's reply"]
        scrubbed = scrub(conn, [str(enquiry.id)], SENT_AT + timedelta(days=1))
        assert scrubbed.held_updates == 1
        assert conn.execute(select(held_updates)).all() == []


def test_a_held_response_is_in_a_subject_access_export(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    from crm_bridge.privacy.export import build_export
    from crm_bridge.privacy.subject import Subject

    crm = EdgeCrm()
    enquiry = sent(bridge, log, crm)
    crm.reads = [[change(enquiry, 1, "stalled", SENT_AT, response="We will fill it on Monday.")]]
    sync(bridge, crm)
    with bridge.engine.connect() as conn:
        export = build_export(conn, bridge.config,
                              Subject.of("jean.paterson@example.com", None, None, None),
                              SENT_AT + timedelta(days=1))
    [item] = export.data["enquiries"]
    assert [w["response"] for w in item["responses_waiting"]] == ["We will fill it on Monday."]


def test_connector_check_names_each_held_status_and_the_fix(
        bridge: Bridge, log: Callable[..., Enquiry], council_dir: Path) -> None:
    from cli_support import invoke

    enquiry = log()
    local = bridge.connector()
    assert sync(bridge, local, only=("push",)).pushed == 1  # type: ignore[arg-type]
    mapping = council_dir / "mappings" / "local.yaml"
    text = mapping.read_text(encoding="utf-8")
    mapping.write_text(text.replace("  open: in_progress\n", ""), encoding="utf-8")
    case = stored(bridge, enquiry).crm_ref
    assert case is not None
    local.desk().set_status(case, "open", "roads.officer", at=SENT_AT)  # type: ignore[attr-defined]
    pulled = invoke(["--config", str(bridge.loaded.path), "sync", "--only", "pull"])
    assert pulled.exit_code == 0  # held, not failed: the admin's to fix, nothing lost
    assert pulled.stderr == ("CRM status 'open' is not in the mapping: add it to statuses; "
                             "1 update(s) wait for it\n")
    assert pulled.stdout.startswith("sync: pushed 0, notes 0, updated 0, ")
    assert "; updates held on CRM statuses not in the mapping: 'open' (1)" in pulled.stdout

    result = invoke(["--config", str(bridge.loaded.path), "connector", "check"])

    assert result.exit_code == 1
    assert (f"PROBLEM  CRM status 'open': 1 update(s) from the CRM are held: {mapping} does "
            "not place this status: add it under statuses (e.g. 'open: in_progress'), then "
            "run `crm-bridge sync`") in result.output
    mapping.write_text(text, encoding="utf-8")
    fixed = invoke(["--config", str(bridge.loaded.path), "connector", "check"])
    assert fixed.exit_code == 0
    assert "ok       CRM status 'open': 1 held update(s): the mapping places it now" \
        in fixed.output


# --- the attempt-started marker ------------------------------------------------------------


def test_a_first_create_is_fresh_and_every_later_try_looks_up(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    crm = EdgeCrm()
    first, second = log(), log(description="Another pothole")
    crm.fail_creates = 1  # the first call's reply is lost: the retry must look up

    report = sync(bridge, crm, only=("push",))

    assert report.pushed == 2
    assert crm.created == [(first.reference, True), (first.reference, False),
                           (second.reference, True)]
    with bridge.engine.connect() as conn:
        marks = conn.execute(select(outbox.c.attempt_started_at)).scalars().all()
    assert [mark is not None for mark in marks] == [True, True]


@pytest.mark.parametrize("earlier", ["marker", "attempt"])
def test_a_row_with_an_earlier_try_is_created_with_a_look_up(
        bridge: Bridge, log: Callable[..., Enquiry], earlier: str) -> None:
    enquiry = log()
    with bridge.engine.begin() as conn:  # a run that died after calling the CRM, or failed
        conn.execute(update(outbox).values(
            attempt_started_at=SENT_AT if earlier == "marker" else None,
            attempts=0 if earlier == "marker" else 1))
    crm = EdgeCrm()

    assert sync(bridge, crm, only=("push",)).pushed == 1
    assert crm.created == [(enquiry.reference, False)]


def test_a_connector_without_the_fresh_keyword_still_works(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    """A council's own adapter written to the older interface is called as before."""

    class OldCrm(EdgeCrm):
        def create_case(self, enquiry: Enquiry,  # type: ignore[override]
                        destination: ServiceDestination) -> CaseRef:
            self.created.append((enquiry.reference, False))
            return CaseRef("OLD-1")

    enquiry = log()
    crm = OldCrm()
    assert sync(bridge, crm, only=("push",)).pushed == 1
    assert crm.created == [(enquiry.reference, False)]


# --- the run's deadline --------------------------------------------------------------------


def test_push_stops_between_rows_at_the_deadline_and_the_next_run_carries_on(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    clock = FakeClock()
    crm = EdgeCrm(clock, seconds_per_call=100)
    enquiries = [log(description=f"Pothole {n}") for n in range(4)]

    report = sync(bridge, crm, deadline=Deadline(240, clock))

    assert report.pushed == 3  # 100 s each: the fourth row would start after 300 s
    assert (report.deadline_reached, report.left_for_next_run) == (True, ["push", "pull",
                                                                         "overdue"])
    assert report.ok
    assert report.summary().endswith(
        "; stopped at the deadline, the next sync carries on with push, pull, overdue")
    assert [stored(bridge, e).status for e in enquiries] == [Status.SENT] * 3 + [Status.LOGGED]

    clock.now = 0
    rest = sync(bridge, crm, now=SENT_AT + timedelta(minutes=5), deadline=Deadline(240, clock))
    assert (rest.pushed, rest.deadline_reached) == (1, False)
    assert stored(bridge, enquiries[3]).status is Status.SENT


def test_pull_stops_after_the_mark_in_hand_at_the_deadline(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    clock = FakeClock()
    crm = EdgeCrm(clock, seconds_per_call=100)
    enquiry = sent(bridge, log, crm)
    t = SENT_AT + timedelta(hours=1)
    crm.reads = [[change(enquiry, 1, "open", t), CursorMark("page-1"),
                  CursorMark("page-2"), CursorMark("page-3"), CursorMark("page-4")]]
    clock.now = 0

    report = sync(bridge, crm, now=t, deadline=Deadline(240, clock), only=("pull",))

    assert (report.updated, report.left_for_next_run) == (1, ["pull"])
    with bridge.engine.connect() as conn:
        assert get_cursor(conn, "pull:edge") == "page-2"  # 300 s in: stopped after it
    assert stored(bridge, enquiry).status is Status.IN_PROGRESS
    crm.reads = [[CursorMark("page-5")]]
    clock.now = 0
    sync(bridge, crm, now=t + timedelta(minutes=5), deadline=Deadline(240, clock),
         only=("pull",))
    assert crm.since[-1] == "page-2"


def test_no_retry_starts_after_the_deadline(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    clock = FakeClock()
    crm = EdgeCrm(clock, seconds_per_call=300)
    crm.fail_creates = 5
    log()

    report = sync(bridge, crm, deadline=Deadline(240, clock),
                  policy=RetryPolicy(attempts=5, initial_wait=0, max_wait=0))

    assert len(crm.created) == 1
    assert (report.deferred, report.deadline_reached) == (1, True)


# --- closed with no response ---------------------------------------------------------------


def test_a_close_with_no_response_is_flagged_and_one_after_a_response_is_not(
        bridge: Bridge, log: Callable[..., Enquiry]) -> None:
    crm = EdgeCrm()
    silent, answered = log(), log(description="Another pothole")
    assert sync(bridge, crm, only=("push",)).pushed == 2
    t = SENT_AT + timedelta(hours=1)
    crm.reads = [[change(silent, 1, "closed", t),
                  change(answered, 2, "resolved", t, response="Filled."),
                  change(answered, 3, "closed", t + timedelta(minutes=1))]]
    crm.reads.append(list(crm.reads[0]))  # the overlap reads them again

    sync(bridge, crm, now=t + timedelta(hours=1), only=("pull",))
    sync(bridge, crm, now=t + timedelta(hours=2), only=("pull",))

    flagged = stored(bridge, silent)
    assert flagged.status is Status.CLOSED
    assert [(e.actor, e.status) for e in events(flagged, "closed_without_response")] == [
        ("roads.officer", Status.CLOSED)]
    assert events(stored(bridge, answered), "closed_without_response") == []


# --- pull under faults ---------------------------------------------------------------------


def test_a_crm_failing_every_other_read_still_reads_to_the_end_in_one_run(
        bridge: Bridge) -> None:
    """Each try that moves the cursor on gives the read that fails next its own tries."""
    crm = EdgeCrm()
    dropped = TransientError("the proxy dropped the connection")
    crm.reads = [[CursorMark("p1"), dropped], [dropped], [CursorMark("p2"), dropped],
                 [CursorMark("p3")]]

    report = sync(bridge, crm, only=("pull",))

    assert (report.deferred, report.problems) == (0, [])
    assert crm.since == [None, "p1", "p1", "p2"]
    with bridge.engine.connect() as conn:
        assert get_cursor(conn, "pull:edge") == "p3"


def test_a_mark_that_repeats_the_cursor_is_no_progress(bridge: Bridge) -> None:
    """A CRM that hands back where it started, then fails, spends the read's tries: pull
    does not go round for ever (or until the deadline)."""
    crm = EdgeCrm()
    dropped = TransientError("the proxy dropped the connection")
    crm.reads = [[CursorMark("p1")], [CursorMark("p1"), dropped], [CursorMark("p1"), dropped],
                 [CursorMark("p1"), dropped]]
    sync(bridge, crm, only=("pull",))

    report = sync(bridge, crm, now=SENT_AT + timedelta(minutes=5), only=("pull",))

    assert report.deferred == 1
    assert crm.since == [None, "p1", "p1"]  # NO_WAIT's two tries, no more


def test_a_read_that_fails_all_its_tries_keeps_the_progress_before_it(
        bridge: Bridge) -> None:
    crm = EdgeCrm()
    dropped = TransientError("the proxy dropped the connection")
    crm.reads = [[CursorMark("p1"), CursorMark("p2"), dropped], [dropped], [dropped],
                 [CursorMark("p3")]]

    report = sync(bridge, crm, only=("pull",))

    assert report.deferred == 1
    assert report.problems[0].startswith("pull: the CRM could not be reached (")
    assert crm.since == [None, "p2", "p2"]  # NO_WAIT: two tries from where it had got to
    with bridge.engine.connect() as conn:
        assert get_cursor(conn, "pull:edge") == "p2"
