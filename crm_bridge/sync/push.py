"""Push: send pending outbox rows to the CRM, each recorded in the store once it is done.

While claims hold no lock (SQLite: one sync at a time), the enquiries of the next claims
are read in one query, and opened cases are recorded a batch at a time, in one short
transaction that is never held open across a CRM call. A crash before that write leaves
those outbox rows pending: the next run's ``create_case`` finds each case by its external
reference, so nothing is lost and no case is opened twice. Nothing waits long: a read or a
result older than ``HOLD_AT_MOST`` is read again or written before the next CRM call.
Locked claims (PostgreSQL) are read and recorded one at a time, in the claim's transaction.

Before the first call to ``create_case`` for the rows of a batch, push writes and commits
an attempt-started marker on them (one short transaction); a row that had neither the
marker nor an earlier attempt is created with ``fresh=True``, so the connector may skip its
look-up by external reference (one CRM round trip per case). Any later try, in this run or
another, looks up (a row marked but not reached, when the run stops, looks up needlessly).
A locked claim (PostgreSQL) is marked by ``claims`` as it is taken: committed, then locked
again before it is yielded.

An opened case moves the enquiry to ``sent`` only from ``logged`` or ``failed_to_send``:
on PostgreSQL another process's pull may already have applied the CRM's own status.

A row the CRM could not take now waits (``RetryPolicy.requeue_after``, doubling, and no
sooner than the CRM's Retry-After); after ``stop_after`` such rows in a row the CRM is
taken to be down and push stops, leaving the rest for the next run. A row refused with an
error code the mapping does not place (``UnplacedCodeError``) waits the same way, but on
its ``hold_after``-th run it is held: failed, with the CRM's words, for the admin.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, bindparam, case, exists, or_, select, update

from connectors.base import CaseRef, Connector, Note
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import PermanentError, TransientError, UnplacedCodeError
from crm_bridge.models import Status
from crm_bridge.store.enquiries import (
    add_history,
    add_history_rows,
    history_row,
    row_to_enquiry,
    set_fields,
)
from crm_bridge.store.outbox import (
    Claim,
    claims,
    mark_attempts_started,
    mark_done,
    mark_done_many,
    mark_failed,
    mark_retry,
)
from crm_bridge.store.tables import enquiries, enquiry_links
from crm_bridge.sync.attachments import KIND as ATTACHMENT
from crm_bridge.sync.attachments import send_attachment
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.links import Folding
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy, call_with_retry, requeue_delay

__all__ = ["push"]

log = logging.getLogger(__name__)

ACTOR = "sync"
BATCH = 100
"""Claims whose enquiries are read together, and opened cases recorded together."""
HOLD_AT_MOST = 0.5
"""Seconds an enquiry read ahead stays fresh, and an opened case may wait to be recorded."""

# Each enquiry with whether it has a link (``Folding`` then looks for a case to add it to).
_ENQUIRIES = select(enquiries, exists().where(
    enquiry_links.c.enquiry_id == enquiries.c.id, enquiry_links.c.unlinked_at.is_(None)
).label("has_links")).where(enquiries.c.id.in_(bindparam("ids", expanding=True)))
_UNSENT = (Status.LOGGED.value, Status.FAILED_TO_SEND.value)
# The case reference, and `sent` unless the CRM's own status got there first.
_RECORD_SENT = (
    update(enquiries).where(enquiries.c.id == bindparam("_enquiry_id"))
    .values(crm_ref=bindparam("_crm_ref"), failure_reason=None, updated_at=bindparam("_now"),
            status=case((or_(*(enquiries.c.status == s for s in _UNSENT)), Status.SENT.value),
                        else_=enquiries.c.status))
)


def push(engine: Engine, connector: Connector, config: CouncilConfig, policy: RetryPolicy,
         now: datetime, report: SyncReport, dry_run: bool = False,
         deadline: Deadline | None = None) -> None:
    """Send every pending row (until ``deadline``, between rows); stop the run (AuthError)
    only when the CRM refuses our login."""
    _Push(engine, connector, config, policy, now, report, dry_run,
          deadline or Deadline(None)).run()


@dataclass(frozen=True)
class _Opened:
    claim: Claim
    case_id: str
    status: str
    detail: str


def _record_sent(conn: Connection, now: datetime, opened: Sequence[_Opened]) -> None:
    conn.execute(_RECORD_SENT, [{"_enquiry_id": o.claim.enquiry_id, "_crm_ref": o.case_id,
                                 "_now": now} for o in opened])
    add_history_rows(conn, [history_row(o.claim.enquiry_id, now, "sent", ACTOR, o.detail,
                                        Status(o.status)) for o in opened])


class _Push:
    """One push step: the run's settings, what it has sent, and how the CRM has fared."""

    def __init__(self, engine: Engine, connector: Connector, config: CouncilConfig,
                 policy: RetryPolicy, now: datetime, report: SyncReport, dry_run: bool,
                 deadline: Deadline) -> None:
        self.engine, self.connector, self.config = engine, connector, config
        self.deadline = deadline
        self.policy, self.now, self.report, self.dry_run = policy, now, report, dry_run
        self.opened = _OpenedCases(engine, now)
        self.folding = Folding(engine, connector, config, policy, now)  # linked enquiries
        self._started = time.monotonic()
        self._failing = 0  # rows in a row the CRM could not take
        self.takes_fresh = _takes_fresh(connector)
        self.fresh: set[int] = set()  # claims of the batch in hand with no earlier try

    def clock(self) -> datetime:
        """The run's ``now`` moved on by the time the run has taken (for ``not_before``)."""
        return self.now + timedelta(seconds=time.monotonic() - self._started)

    def run(self) -> None:
        pending = claims(self.engine, self.now,
                         mark_started=None if self.dry_run or not self.takes_fresh
                         else self.now)
        try:
            for batch in _batches(pending):
                self.fresh = self.mark_started(batch)
                ahead = _ReadAhead(self.engine, batch)
                for position, claim in enumerate(batch):
                    if self.deadline.passed():  # between rows: the rest wait for the next run
                        self.report.stopped_at_deadline("push")
                        return
                    if (claim.locked or claim.kind != "create_case"
                            or claim.enquiry_id in self.opened):
                        self.opened.write()  # what this claim reads must include what was sent
                        row = _read(self.engine, [claim.enquiry_id]).get(claim.enquiry_id)
                    else:
                        row = ahead.row(position)
                    self.one(claim, row)
                    self.opened.write_if_due()
                    if self._failing >= self.policy.stop_after:
                        self.report.problems.append(
                            f"push stopped: the CRM failed {self._failing} rows in a row; "
                            "the rest wait for the next sync")
                        log.warning("push stopped after %d rows in a row failed", self._failing)
                        return
        finally:
            pending.close()  # commits a locked claim just recorded, rolls back one not
            self.opened.write()

    def one(self, claim: Claim, row: Any) -> None:
        if row is None:  # the enquiry was purged; nothing to send
            with claim.writer() as conn:
                mark_done(conn, claim, self.now)
            return
        if self.dry_run:
            self.report.problems.append(f"would send {claim.kind} for {row.reference}")
            return
        try:
            self.send(claim, row)
        except UnplacedCodeError as exc:
            self.report.unplaced_codes.setdefault(exc.code, "not placed in the mapping")
            if claim.attempts + 1 >= exc.hold_after:
                self.fail(claim, row, PermanentError(
                    f"{exc} (held after {claim.attempts + 1} runs; once the code is placed, "
                    "`crm-bridge enquiry retry --all-failed` sends it again)"))
            else:
                self.defer(claim, row, exc)
        except TransientError as exc:
            self.defer(claim, row, exc)
        except PermanentError as exc:
            self.fail(claim, row, exc)
        else:
            self._failing = 0

    def defer(self, claim: Claim, row: Any, exc: TransientError) -> None:
        self._failing += 1
        self.report.deferred += 1
        wait = requeue_delay(self.policy, claim.attempts, exc.retry_after)
        with claim.writer() as conn:
            mark_retry(conn, claim, str(exc), self.clock() + wait)
        # An unplaced code's words may quote what was sent: the store has them, not the log.
        said = (f"error code {exc.code}, not placed in the mapping"
                if isinstance(exc, UnplacedCodeError) else str(exc))
        log.warning("push %s %s deferred for %.0f s: %s", claim.kind, row.reference,
                    wait.total_seconds(), said)

    def fail(self, claim: Claim, row: Any, exc: PermanentError) -> None:
        self._failing = 0
        self.report.failed += 1
        with claim.writer() as conn:
            mark_failed(conn, claim, str(exc), self.now)
            if claim.kind == "create_case":
                set_fields(conn, claim.enquiry_id, self.now,
                           status=Status.FAILED_TO_SEND.value, failure_reason=str(exc))
            add_history(conn, claim.enquiry_id, self.now, "failed_to_send", ACTOR, str(exc),
                        Status.FAILED_TO_SEND if claim.kind == "create_case" else None)
        # The CRM's reason can quote what was sent: it goes to the store, not the log.
        log.warning("push %s %s rejected by the CRM", claim.kind, row.reference)

    def send(self, claim: Claim, row: Any) -> None:
        if claim.kind == "create_case":
            self.create(claim, row)
        elif claim.kind == "add_note":
            self.note(claim, row)
        elif claim.kind == ATTACHMENT:
            send_attachment(self.connector, self.policy, claim, row, self.now, self.report)
        else:
            raise PermanentError(f"unknown outbox kind '{claim.kind}'")

    def create(self, claim: Claim, row: Any) -> None:
        try:
            enquiry = row_to_enquiry(row)
        except ValidationError as exc:  # edited by hand in the store: say so, go on
            raise PermanentError(f"the stored enquiry is not valid: {exc.errors()[0]['msg']} "
                                 f"({'.'.join(map(str, exc.errors()[0]['loc']))})") from None
        if row.has_links:
            self.opened.write()  # a linked enquiry's case opened in this run must be seen
            if self.folding.fold(claim, row):
                self.report.pushed += 1
                return
        destination = self.config.service(enquiry.service_id)
        if destination is None:
            raise PermanentError(
                f"service '{enquiry.service_id}' is no longer in the config; "
                "restore it or reassign the enquiry"
            )
        fresh = claim.id in self.fresh or (  # a locked claim was marked as it was taken
            claim.locked and self.takes_fresh and claim.attempts == 0
            and claim.attempt_started_at is None)

        def create_once() -> CaseRef:
            nonlocal fresh
            try:
                if fresh:
                    return self.connector.create_case(enquiry, destination, fresh=True)
                return self.connector.create_case(enquiry, destination)
            finally:
                fresh = False  # a retry may follow a call that reached the CRM: look up

        opened: CaseRef = call_with_retry(self.policy, create_once, self.deadline)
        if not opened.id:
            raise TransientError("the CRM gave no reference for the case it opened")
        status = Status.SENT.value if row.status in _UNSENT else row.status
        detail = (f"case {opened.id} opened in the CRM" if opened.created
                  else f"found case {opened.id} already in the CRM")
        result = _Opened(claim, opened.id, status, detail)
        if claim.locked:
            with claim.writer() as conn:
                _record_sent(conn, self.now, [result])
                mark_done(conn, claim, self.now)
        else:
            self.opened.add(result)
        self.report.pushed += 1

    def mark_started(self, batch: list[Claim]) -> set[int]:
        """Commit the attempt-started marker on the batch's create_case rows before any of
        their calls; the ids of those with no earlier try (no marker, no attempt), whose
        create may skip the look-up. A locked claim (PostgreSQL) was marked by ``claims``
        as it was taken, its row being locked in the claim's transaction."""
        if self.dry_run or not self.takes_fresh:
            return set()
        creates = [c for c in batch if c.kind == "create_case" and not c.locked]
        fresh = {c.id for c in creates if c.attempts == 0 and c.attempt_started_at is None}
        mark_attempts_started(self.engine, [c for c in creates if c.attempt_started_at is None],
                              self.clock())
        return fresh

    def note(self, claim: Claim, row: Any) -> None:
        if not row.crm_ref:
            # The case is not open yet: the note waits for it. One waiting on an enquiry the
            # CRM refused is no new failure (that was reported once); it goes after a retry.
            if row.status != Status.FAILED_TO_SEND.value:
                self.report.deferred += 1
            return
        note = Note(text=str(claim.payload.get("text", "")),
                    author=str(claim.payload.get("author", ACTOR)),
                    kind=str(claim.payload.get("kind", "follow_up")),
                    key=f"note-{claim.enquiry_id}-{claim.id}")
        call_with_retry(self.policy, lambda: self.connector.add_note(row.crm_ref, note),
                        self.deadline)
        with claim.writer() as conn:
            add_history(conn, claim.enquiry_id, self.now, "note_sent", ACTOR,
                        f"note added to case {row.crm_ref}")
            mark_done(conn, claim, self.now)
        self.report.notes += 1


def _takes_fresh(connector: Connector) -> bool:
    """Whether ``create_case`` takes ``fresh=``: a council's own adapter written before it
    was added keeps working, and keeps looking every case up."""
    try:
        parameters = inspect.signature(connector.create_case).parameters
    except (TypeError, ValueError):
        return False
    return "fresh" in parameters or any(
        p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values())


def _batches(pending: Iterator[Claim]) -> Iterator[list[Claim]]:
    """Claims in batches of up to BATCH; a locked claim alone, as taking the next one would
    end its transaction."""
    batch: list[Claim] = []
    for claim in pending:
        if claim.locked:
            yield [claim]
            continue
        batch.append(claim)
        if len(batch) == BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


def _read(engine: Engine, ids: Sequence[str]) -> dict[str, Any]:
    """The enquiries rows for ``ids`` (a purged enquiry is missing), each with
    ``has_links``."""
    with engine.connect() as conn:
        return {row.id: row for row in conn.execute(_ENQUIRIES, {"ids": list(ids)})}


class _ReadAhead:
    """The enquiries of a batch's create_case claims, read in one query; read again (from
    the claim in hand on) when older than HOLD_AT_MOST, so a slow CRM gets no stale enquiry."""

    def __init__(self, engine: Engine, batch: list[Claim]) -> None:
        self._engine = engine
        self._batch = batch
        self._rows: dict[str, Any] = {}
        self._read_at = 0.0

    def row(self, position: int) -> Any:
        enquiry_id = self._batch[position].enquiry_id
        if enquiry_id not in self._rows or time.monotonic() - self._read_at > HOLD_AT_MOST:
            ids = [c.enquiry_id for c in self._batch[position:] if c.kind == "create_case"]
            self._rows = _read(self._engine, ids)
            self._read_at = time.monotonic()
        return self._rows.get(enquiry_id)


class _OpenedCases:
    """Cases opened for claims that are not locked, recorded a batch at a time: the
    enquiry's CRM reference and status, its history row, the outbox row done."""

    def __init__(self, engine: Engine, now: datetime) -> None:
        self._engine = engine
        self._now = now
        self._pending: list[_Opened] = []
        self._ids: set[str] = set()
        self._since = 0.0

    def __contains__(self, enquiry_id: str) -> bool:
        return enquiry_id in self._ids

    def add(self, opened: _Opened) -> None:
        if not self._pending:
            self._since = time.monotonic()
        self._pending.append(opened)
        self._ids.add(opened.claim.enquiry_id)

    def write_if_due(self) -> None:
        if self._pending and (len(self._pending) >= BATCH
                              or time.monotonic() - self._since >= HOLD_AT_MOST):
            self.write()

    def write(self) -> None:
        if not self._pending:
            return
        with self._engine.begin() as conn:
            _record_sent(conn, self._now, self._pending)
            mark_done_many(conn, [o.claim for o in self._pending], self._now)
        self._pending.clear()
        self._ids.clear()
