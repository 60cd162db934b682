"""Sync on SQLite and PostgreSQL: push with the local connector, pull officers' work, overdue,
CRM errors, and the lock that keeps two cron runs apart.

The CRM-error tests use ``ScriptedCrm``, a connector whose answers the test sets: they test
how sync handles each kind of error, not any real CRM.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import ClassVar

import pytest
from pydantic import BaseModel
from sqlalchemy import delete, select
from support.constants import NOW

from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    Connector,
    CursorMark,
    Note,
)
from crm_bridge.app import Bridge
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import Enquiry, HistoryEvent, ServiceDestination, Status
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.locks import LockBusy, held
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import enquiries, locks, outbox, sync_cursors
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync

# A sync that never ends would hold the lock and stop every later cron run: fail instead.
pytestmark = pytest.mark.timeout(60)

SENT_AT = NOW + timedelta(hours=1)
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0)
CRM_STEPS = ("push", "pull", "overdue")
"""The steps under test; e-mail reminders have tests of their own and would need SMTP."""


def sync(bridge: Bridge, now: datetime = SENT_AT, connector: Connector | None = None,
         policy: RetryPolicy = NO_WAIT, dry_run: bool = False) -> SyncReport:
    return run_sync(bridge.engine, connector or bridge.connector(), bridge.mapping(),
                    bridge.config, now=now, policy=policy, only=CRM_STEPS, dry_run=dry_run)


def stored(bridge: Bridge, enquiry: Enquiry) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, enquiry.reference)
    assert found is not None
    return found


def events(enquiry: Enquiry, name: str) -> list[HistoryEvent]:
    return [event for event in enquiry.history if event.event == name]


def outbox_rows(bridge: Bridge) -> list[tuple[str, str]]:
    with bridge.engine.connect() as conn:
        return [(row.enquiry_id, row.state)
                for row in conn.execute(select(outbox).order_by(outbox.c.id))]


# --- push --------------------------------------------------------------------------------


def test_push_opens_one_case_per_enquiry_and_marks_it_sent(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    pothole = log()
    lighting = log(category_id="street-lighting", description="Lamp post flickering")

    report = sync(bridge)

    assert (report.pushed, report.failed, report.deferred, report.aborted) == (2, 0, 0, None)
    cases = {case.external_ref: case for case in bridge.connector().desk().queue()}
    assert set(cases) == {str(pothole.id), str(lighting.id)}
    assert cases[str(pothole.id)].queue == "Roads"
    assert cases[str(lighting.id)].queue == "Roads - Street Lighting"
    for enquiry in (pothole, lighting):
        after = stored(bridge, enquiry)
        assert after.status is Status.SENT
        assert after.crm_ref == cases[str(enquiry.id)].case_ref
        assert [e.detail for e in events(after, "sent")] == [
            f"case {after.crm_ref} opened in the CRM"]
    assert [state for _, state in outbox_rows(bridge)] == ["done", "done"]


def test_running_sync_again_opens_no_second_case(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    assert sync(bridge).pushed == 1
    again = sync(bridge, now=SENT_AT + timedelta(minutes=5))

    assert again.pushed == 0
    assert len(bridge.connector().desk().queue()) == 1
    assert len(events(stored(bridge, enquiry), "sent")) == 1


def test_a_case_the_crm_accepted_before_a_crash_is_reused(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    destination = bridge.config.service(enquiry.service_id)
    assert destination is not None
    # The CRM opened the case, then the sync process died before recording it.
    opened = bridge.connector().create_case(enquiry, destination)

    report = sync(bridge)

    assert report.pushed == 1
    after = stored(bridge, enquiry)
    assert after.status is Status.SENT
    assert after.crm_ref == opened.id
    assert [e.detail for e in events(after, "sent")] == [
        f"found case {opened.id} already in the CRM"]
    assert len(bridge.connector().desk().queue()) == 1


def test_a_dry_run_lists_what_it_would_send_once_and_sends_nothing(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    first, second = log(), log(description="Another pothole")

    report = sync(bridge, dry_run=True)

    assert report.problems == [f"would send create_case for {first.reference}",
                               f"would send create_case for {second.reference}"]
    assert report.pushed == 0
    assert bridge.connector().desk().queue() == []
    assert [state for _, state in outbox_rows(bridge)] == ["pending", "pending"]
    assert stored(bridge, first).status is Status.LOGGED
    assert sync(bridge).pushed == 2


def test_a_note_waits_for_its_case_and_follows_it_to_the_crm(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    with bridge.engine.begin() as conn:
        enqueue(conn, str(enquiry.id), "add_note",
                {"text": "Constituent phoned again", "author": "Cllr Dalgleish"}, SENT_AT)
    down = ScriptedCrm(always=TransientError("connection refused"))

    # The case cannot be opened, so the note cannot be added: both wait, and the run ends.
    waiting = sync(bridge, connector=down)
    assert (waiting.deferred, waiting.pushed, waiting.notes) == (2, 0, 0)
    assert [state for _, state in outbox_rows(bridge)] == ["pending", "pending"]

    later = sync(bridge, now=SENT_AT + timedelta(hours=1))
    assert (later.pushed, later.notes, later.deferred) == (1, 1, 0)
    case = stored(bridge, enquiry).crm_ref
    notes = list(bridge.connector().desk().events_since(0, kinds=("note",)))
    assert [(n.case_ref, n.actor, n.body) for n in notes] == [
        (case, "Cllr Dalgleish", "Constituent phoned again")]
    assert [e.detail for e in events(stored(bridge, enquiry), "note_sent")] == [
        f"note added to case {case}"]


# --- pull --------------------------------------------------------------------------------


def test_an_officers_response_is_applied_once_even_after_a_cursor_reset(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    sync(bridge)
    case = stored(bridge, enquiry).crm_ref
    assert case is not None
    desk = bridge.connector().desk()
    started = NOW + timedelta(days=1)
    answered = NOW + timedelta(days=2)
    desk.set_status(case, "open", "roads.officer", at=started)
    assert sync(bridge, now=started + timedelta(hours=1)).updated == 1
    assert stored(bridge, enquiry).status is Status.IN_PROGRESS

    desk.set_status(case, "resolved", "roads.officer",
                    response="Pothole filled on 4 November.", at=answered)
    report = sync(bridge, now=answered + timedelta(hours=1))

    assert report.updated == 1
    after = stored(bridge, enquiry)
    assert after.status is Status.RESPONDED
    assert after.response == "Pothole filled on 4 November."
    assert after.responded_at == answered
    responses = events(after, "response")
    assert [(e.actor, e.detail) for e in responses] == [
        ("roads.officer", "Pothole filled on 4 November.")]

    assert sync(bridge, now=answered + timedelta(hours=2)).updated == 0
    with bridge.engine.begin() as conn:
        reset = delete(sync_cursors).where(sync_cursors.c.name == "pull:local")
        assert conn.execute(reset).rowcount == 1
    replay = sync(bridge, now=answered + timedelta(hours=3))

    assert replay.updated == 0
    again = stored(bridge, enquiry)
    assert again.history == after.history
    assert again.status is Status.RESPONDED


def test_a_response_is_marked_with_when_it_reached_the_bridge(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    """The portal's "Responses since you last looked" goes by when sync stored a response,
    not by the CRM's own time of it, which can be earlier than the member's last look."""
    enquiry = log()
    sync(bridge)
    case = stored(bridge, enquiry).crm_ref
    assert case is not None
    answered = NOW + timedelta(days=2)
    bridge.connector().desk().set_status(case, "resolved", "roads.officer",
                                         response="Pothole filled.", at=answered)
    pulled = answered + timedelta(days=1)
    sync(bridge, now=pulled)
    with bridge.engine.connect() as conn:
        row = conn.execute(select(enquiries.c.responded_at, enquiries.c.response_arrived_at)
                           .where(enquiries.c.id == str(enquiry.id))).one()
    assert (row.responded_at, row.response_arrived_at) == (answered, pulled)


def test_closing_the_case_closes_the_enquiry(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    sync(bridge)
    case = stored(bridge, enquiry).crm_ref
    assert case is not None
    closed_at = NOW + timedelta(days=3)
    bridge.connector().desk().set_status(case, "closed", "roads.officer", at=closed_at)

    assert sync(bridge, now=closed_at + timedelta(hours=1)).updated == 1
    after = stored(bridge, enquiry)
    assert after.status is Status.CLOSED
    assert after.closed_at == closed_at
    assert [e.status for e in events(after, "status")] == [Status.CLOSED]


def test_a_change_with_a_crm_status_missing_from_the_mapping_is_held_until_it_is_added(
    bridge: Bridge, council_dir: Path, log: Callable[..., Enquiry]
) -> None:
    mapping = council_dir / "mappings" / "local.yaml"
    text = mapping.read_text(encoding="utf-8")
    assert text.count("  open: in_progress\n") == 1
    mapping.write_text(text.replace("  open: in_progress\n", ""), encoding="utf-8")
    enquiry = log()
    sync(bridge)
    case = stored(bridge, enquiry).crm_ref
    assert case is not None
    bridge.connector().desk().set_status(case, "open", "roads.officer", at=SENT_AT)

    report = sync(bridge, now=SENT_AT + timedelta(hours=1))
    again = sync(bridge, now=SENT_AT + timedelta(hours=2))

    held = "CRM status 'open' is not in the mapping: add it to statuses; 1 update(s) wait for it"
    assert (report.problems, report.held_statuses, report.updated) == ([held], {"open": 1}, 0)
    assert (again.problems, again.held_statuses) == ([held], {"open": 1})  # held once
    assert "updates held on CRM statuses not in the mapping: 'open' (1)" in report.summary()
    waiting = stored(bridge, enquiry)
    assert waiting.status is Status.SENT
    assert events(waiting, "status") == []

    mapping.write_text(text, encoding="utf-8")  # the admin adds the status
    fixed = Bridge.open(bridge.loaded.path)
    try:
        applied = sync(fixed, now=SENT_AT + timedelta(hours=3))
        after = sync(fixed, now=SENT_AT + timedelta(hours=4))
    finally:
        fixed.close()

    assert (applied.updated, applied.problems, applied.held_statuses) == (1, [], {})
    assert after.updated == 0
    done = stored(bridge, enquiry)
    assert done.status is Status.IN_PROGRESS
    assert [(e.at, e.detail, e.status) for e in events(done, "status")] == [
        (SENT_AT, "CRM status 'open'", Status.IN_PROGRESS)]


# --- overdue -----------------------------------------------------------------------------


def test_overdue_is_marked_once_after_the_target_date_and_a_response_clears_it(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    assert enquiry.target_date.isoformat() == "2026-11-16"
    sync(bridge)

    on_the_day = sync(bridge, now=datetime(2026, 11, 16, 16, 0, tzinfo=UTC))
    assert on_the_day.overdue == 0
    assert stored(bridge, enquiry).overdue is False

    day_after = sync(bridge, now=datetime(2026, 11, 17, 9, 0, tzinfo=UTC))
    assert day_after.overdue == 1
    flagged = stored(bridge, enquiry)
    assert flagged.overdue is True
    assert [e.detail for e in events(flagged, "overdue")] == [
        "no response by the target date 2026-11-16"]

    assert sync(bridge, now=datetime(2026, 11, 18, 9, 0, tzinfo=UTC)).overdue == 0
    assert len(events(stored(bridge, enquiry), "overdue")) == 1

    answered = datetime(2026, 11, 18, 11, 0, tzinfo=UTC)
    assert flagged.crm_ref is not None
    bridge.connector().desk().set_status(flagged.crm_ref, "resolved", "roads.officer",
                                         response="Repaired.", at=answered)
    sync(bridge, now=answered + timedelta(hours=1))
    sync(bridge, now=datetime(2026, 11, 20, 9, 0, tzinfo=UTC))
    after = stored(bridge, enquiry)
    assert after.overdue is False
    assert after.status is Status.RESPONDED
    assert len(events(after, "overdue")) == 1


# --- CRM errors --------------------------------------------------------------------------


class ScriptedCrm:
    """A connector that fails as told (by enquiry description) and otherwise opens cases."""

    name: ClassVar[str] = "scripted"
    Settings: ClassVar[type[BaseModel]] = BaseModel
    Mapping: ClassVar[type[BaseMapping]] = BaseMapping

    def __init__(self, errors: dict[str, Exception] | None = None,
                 always: Exception | None = None) -> None:
        self.errors = errors or {}
        self.always = always
        self.calls: list[str] = []
        self.fresh: list[bool] = []  # each create_case call's ``fresh``
        self.cases: dict[str, str] = {}
        self.marks: list[CursorMark] = []
        self.pulled_since: list[str | None] = []

    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef:
        self.calls.append(enquiry.reference)
        self.fresh.append(fresh)
        error = self.errors.get(enquiry.description, self.always)
        if error is not None:
            raise error
        case = self.cases.setdefault(str(enquiry.id), f"FAKE-{len(self.cases) + 1}")
        return CaseRef(case)

    def add_note(self, case_ref: str, note: Note) -> None:
        raise AssertionError("no notes in these tests")

    def get_case(self, case_ref: str) -> CaseSnapshot:
        raise AssertionError("sync does not read single cases")

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]:
        self.pulled_since.append(since)
        yield from self.marks

    def health(self) -> None:
        return None

    def close(self) -> None:
        return None


def test_a_cursor_mark_with_no_update_moves_the_pull_cursor_on(bridge: Bridge) -> None:
    crm = ScriptedCrm()
    crm.marks = [CursorMark("page-1"), CursorMark("page-2")]

    report = sync(bridge, connector=crm)
    crm.marks = []
    sync(bridge, now=SENT_AT + timedelta(minutes=5), connector=crm)

    assert report.updated == 0
    assert crm.pulled_since == [None, "page-2"]  # the next run starts after what was read


def test_a_rejected_enquiry_is_failed_with_the_reason_and_the_next_one_still_sent(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    reason = "classification 'Roads' is closed to new cases"
    rejected = log(description="Reject this one")
    accepted = log(description="Send this one")
    crm = ScriptedCrm(errors={"Reject this one": PermanentError(reason)})

    report = sync(bridge, connector=crm)

    assert (report.failed, report.pushed, report.deferred) == (1, 1, 0)
    assert not report.ok
    failed = stored(bridge, rejected)
    assert failed.status is Status.FAILED_TO_SEND
    assert failed.failure_reason == reason
    assert [(e.detail, e.status) for e in events(failed, "failed_to_send")] == [
        (reason, Status.FAILED_TO_SEND)]
    assert stored(bridge, accepted).status is Status.SENT
    assert stored(bridge, accepted).crm_ref == "FAKE-1"
    assert outbox_rows(bridge) == [(str(rejected.id), "failed"), (str(accepted.id), "done")]

    # Not retried: the same data would be refused again.
    sync(bridge, now=SENT_AT + timedelta(hours=2), connector=crm)
    assert crm.calls == [rejected.reference, accepted.reference]


def test_an_unreachable_crm_leaves_the_enquiry_pending_for_a_later_run(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    down = ScriptedCrm(always=TransientError("connection refused by crm.internal:443"))

    report = sync(bridge, connector=down)

    assert (report.deferred, report.failed, report.pushed) == (1, 0, 0)
    assert down.calls == [enquiry.reference] * NO_WAIT.attempts
    assert stored(bridge, enquiry).status is Status.LOGGED
    with bridge.engine.connect() as conn:
        row = conn.execute(select(outbox)).one()
    assert row.state == "pending"
    assert row.attempts == 1
    assert row.last_error == "connection refused by crm.internal:443"
    assert row.not_before > SENT_AT

    # A run before not_before leaves it alone; the next one after it sends it.
    sync(bridge, now=SENT_AT + timedelta(seconds=30), connector=down)
    assert len(down.calls) == NO_WAIT.attempts
    later = sync(bridge, now=row.not_before + timedelta(seconds=1))
    assert later.pushed == 1
    assert stored(bridge, enquiry).status is Status.SENT


def test_refused_credentials_stop_the_run_and_send_nothing(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    first, second = log(), log(description="Another pothole")
    locked_out = ScriptedCrm(always=AuthError("API token expired"))

    report = sync(bridge, connector=locked_out)

    assert report.aborted == "the CRM refused the bridge's credentials: API token expired"
    assert locked_out.calls == [first.reference]  # stopped at the first refusal
    assert [state for _, state in outbox_rows(bridge)] == ["pending", "pending"]
    assert stored(bridge, first).status is Status.LOGGED
    # The lock was released: once the token is fixed the next run sends both.
    assert sync(bridge, now=SENT_AT + timedelta(minutes=5)).pushed == 2
    assert stored(bridge, second).status is Status.SENT


# --- the sync lock -----------------------------------------------------------------------
# SQLite: one lock for the whole run. PostgreSQL: push runs in every process at once, and
# pull, overdue and reminders each have a lock of their own (tests/sync/test_locks.py).


def _pull_lock(bridge: Bridge) -> str:
    """The lock that keeps a second process from pulling: the whole run's on SQLite."""
    return "sync:pull" if bridge.engine.dialect.name == "postgresql" else "sync"


def test_a_second_sync_while_one_runs_is_refused_naming_the_holder(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    enquiry = log()
    holder = f"another sync is running (pid {os.getpid()} on {socket.gethostname()}, since "
    with held(bridge.engine, _pull_lock(bridge), SENT_AT):
        if bridge.engine.dialect.name == "postgresql":
            report = sync(bridge)  # pushes alongside the holder; leaves pull to it
            assert report.pushed == 1
            assert list(report.skipped) == ["pull"]
            assert report.skipped["pull"].startswith(holder)
        else:
            with pytest.raises(LockBusy) as info:
                sync(bridge)
            assert str(info.value).startswith(holder)
            assert stored(bridge, enquiry).status is Status.LOGGED
    assert sync(bridge).skipped == {}
    assert stored(bridge, enquiry).status is Status.SENT


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


@pytest.mark.parametrize(
    ("holder", "age"),
    [
        pytest.param("killed", timedelta(minutes=5), id="dead-process-on-this-host"),
        pytest.param("remote", timedelta(hours=3), id="older-than-two-hours-elsewhere"),
    ],
)
def test_a_stale_lock_is_taken_over(
    bridge: Bridge, log: Callable[..., Enquiry], holder: str, age: timedelta
) -> None:
    pid, host = ((_dead_pid(), socket.gethostname()) if holder == "killed"
                 else (os.getpid(), "another-server"))
    with bridge.engine.begin() as conn:
        conn.execute(locks.insert().values(name=_pull_lock(bridge), holder=f"{host}:{pid}:0",
                                           pid=pid, host=host, since=SENT_AT - age))
    log()

    report = sync(bridge)
    assert (report.pushed, report.skipped) == (1, {})
    with bridge.engine.connect() as conn:
        assert conn.execute(select(locks)).all() == []


def test_a_recent_lock_on_another_server_is_respected(
    bridge: Bridge, log: Callable[..., Enquiry]
) -> None:
    with bridge.engine.begin() as conn:
        conn.execute(locks.insert().values(name="sync", holder="another-server:4242:0",
                                           pid=4242, host="another-server",
                                           since=SENT_AT - timedelta(minutes=10)))
    log()
    if bridge.engine.dialect.name == "postgresql":
        # The row is only a name tag there: a holder whose session is gone (its server
        # crashed) holds nothing, and a live one holds the session lock as well.
        assert sync(bridge).pushed == 1
        return
    with pytest.raises(LockBusy, match=r"another sync is running \(pid 4242 on another-server"):
        sync(bridge)
