"""Push: send pending outbox rows to the CRM, each recorded in the store once it is done.

While claims hold no lock (SQLite: one sync at a time), the enquiries of the next claims
are read in one query, and opened cases are recorded a batch at a time, in one short
transaction that is never held open across a CRM call. A crash before that write leaves
those outbox rows pending: the next run's ``create_case`` finds each case by its external
reference, so nothing is lost and no case is opened twice. Nothing waits long: a read or a
result older than ``HOLD_AT_MOST`` is read again or written before the next CRM call.
Locked claims (PostgreSQL) are read and recorded one at a time, in the claim's transaction.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, bindparam, select

from connectors.base import Connector, Note
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import Status
from crm_bridge.store.enquiries import (
    add_history,
    add_history_rows,
    history_row,
    row_to_enquiry,
    set_fields,
    set_fields_rows,
)
from crm_bridge.store.outbox import (
    Claim,
    claims,
    mark_done,
    mark_done_many,
    mark_failed,
    mark_retry,
)
from crm_bridge.store.tables import enquiries
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy, call_with_retry

__all__ = ["push"]

log = logging.getLogger(__name__)

ACTOR = "sync"
BATCH = 100
"""Claims whose enquiries are read together, and opened cases recorded together."""
HOLD_AT_MOST = 0.5
"""Seconds an enquiry read ahead stays fresh, and an opened case may wait to be recorded."""

_ENQUIRIES = select(enquiries).where(enquiries.c.id.in_(bindparam("ids", expanding=True)))


def _backoff(attempts: int) -> timedelta:
    """How long a row that keeps failing waits before the next run tries it: 1 min → 1 h."""
    return timedelta(minutes=min(60, 2 ** min(attempts, 6)))


def push(engine: Engine, connector: Connector, config: CouncilConfig, policy: RetryPolicy,
         now: datetime, report: SyncReport, dry_run: bool = False) -> None:
    """Send every pending row; stop the run (AuthError) only when the CRM refuses our login."""
    opened = _OpenedCases(engine, now)
    try:
        for batch in _batches(claims(engine, now)):
            ahead = _ReadAhead(engine, batch)
            for position, claim in enumerate(batch):
                if claim.locked or claim.kind != "create_case" or claim.enquiry_id in opened:
                    opened.write()  # what this claim reads must include what was just sent
                    row = _read(engine, [claim.enquiry_id]).get(claim.enquiry_id)
                else:
                    row = ahead.row(position)
                _push_one(engine, connector, config, policy, claim, row, now, report, opened,
                          dry_run)
                opened.write_if_due()
    finally:
        opened.write()


def _push_one(engine: Engine, connector: Connector, config: CouncilConfig, policy: RetryPolicy,
              claim: Claim, row: Any, now: datetime, report: SyncReport,
              opened: _OpenedCases, dry_run: bool) -> None:
    if row is None:  # the enquiry was purged; nothing to send
        with claim.writer() as conn:
            mark_done(conn, claim, now)
        return
    if dry_run:
        report.problems.append(f"would send {claim.kind} for {row.reference}")
        return
    try:
        _send(engine, connector, config, policy, claim, row, now, report, opened)
    except TransientError as exc:
        report.deferred += 1
        with claim.writer() as conn:
            mark_retry(conn, claim, str(exc), now + _backoff(claim.attempts))
        log.warning("push %s %s deferred: %s", claim.kind, row.reference, exc)
    except PermanentError as exc:
        report.failed += 1
        with claim.writer() as conn:
            mark_failed(conn, claim, str(exc), now)
            if claim.kind == "create_case":
                set_fields(conn, claim.enquiry_id, now, status=Status.FAILED_TO_SEND.value,
                           failure_reason=str(exc))
            add_history(conn, claim.enquiry_id, now, "failed_to_send", ACTOR, str(exc),
                        Status.FAILED_TO_SEND if claim.kind == "create_case" else None)
        log.warning("push %s %s rejected by the CRM", claim.kind, row.reference)
    except AuthError:
        raise


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
    """The enquiries rows for ``ids`` (a purged enquiry is missing)."""
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


@dataclass(frozen=True)
class _Opened:
    claim: Claim
    case_id: str
    status: str
    detail: str


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
        now = self._now
        with self._engine.begin() as conn:
            set_fields_rows(conn, now, [
                (o.claim.enquiry_id, {"crm_ref": o.case_id, "status": o.status,
                                      "failure_reason": None})
                for o in self._pending
            ])
            add_history_rows(conn, [
                history_row(o.claim.enquiry_id, now, "sent", ACTOR, o.detail, Status(o.status))
                for o in self._pending
            ])
            mark_done_many(conn, [o.claim for o in self._pending], now)
        self._pending.clear()
        self._ids.clear()


def _send(engine: Engine, connector: Connector, config: CouncilConfig, policy: RetryPolicy,
          claim: Claim, row: Any, now: datetime, report: SyncReport,
          opened: _OpenedCases) -> None:
    if claim.kind == "create_case":
        enquiry = row_to_enquiry(row)
        destination = config.service(enquiry.service_id)
        if destination is None:
            raise PermanentError(
                f"service '{enquiry.service_id}' is no longer in the config; "
                "restore it or reassign the enquiry"
            )
        case = call_with_retry(policy, lambda: connector.create_case(enquiry, destination))
        status = Status.SENT.value if row.status in ("logged", "failed_to_send") else row.status
        detail = (f"case {case.id} opened in the CRM" if case.created
                  else f"found case {case.id} already in the CRM")
        if claim.locked:
            with claim.writer() as conn:
                set_fields(conn, claim.enquiry_id, now, crm_ref=case.id, status=status,
                           failure_reason=None)
                add_history(conn, claim.enquiry_id, now, "sent", ACTOR, detail, Status(status))
                mark_done(conn, claim, now)
        else:
            opened.add(_Opened(claim, case.id, status, detail))
        report.pushed += 1
        return
    if claim.kind == "add_note":
        if not row.crm_ref:
            report.deferred += 1  # the case is not open yet; the note waits for it
            return
        note = Note(text=str(claim.payload.get("text", "")),
                    author=str(claim.payload.get("author", ACTOR)),
                    kind=str(claim.payload.get("kind", "follow_up")))
        call_with_retry(policy, lambda: connector.add_note(row.crm_ref, note))
        with claim.writer() as conn:
            add_history(conn, claim.enquiry_id, now, "note_sent", ACTOR,
                        f"note added to case {row.crm_ref}")
            mark_done(conn, claim, now)
        report.notes += 1
        return
    raise PermanentError(f"unknown outbox kind '{claim.kind}'")
