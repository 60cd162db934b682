"""The outbox: work for the CRM, written in the same transaction as the change that needs it.

    pending ──► done       the CRM took it (its result recorded in the same transaction)
       │  └──► failed      the CRM refused it for good (`enquiry retry` makes it pending again)
       └─(transient)─► pending, with attempts + 1 and not_before: a later run tries again

Sync claims rows oldest first. On PostgreSQL each claim is ``FOR UPDATE SKIP LOCKED``
inside a transaction held across the CRM call, so several sync processes share the work
without ever taking the same row, and a process killed mid-call leaves its row pending
(its transaction dies with it). On SQLite one sync runs at a time (the sync lock), so rows
are read without a lock and each result is written in a short transaction of its own,
leaving the database free for the portal while the CRM answers. Either way a row is done
only once its result is stored: a crash in between means the CRM call is made again,
which is why creating a case looks it up by the enquiry's id first.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, Connection, Engine, bindparam, func, or_, select, update

from crm_bridge.store.tables import outbox

__all__ = [
    "Claim",
    "claims",
    "enqueue",
    "mark_attempts_started",
    "mark_done",
    "mark_done_many",
    "mark_failed",
    "mark_retry",
    "pending_count",
]


# Built once, executed with parameters, so SQLAlchemy reuses the compiled statements.
_INSERT = outbox.insert()
# SET takes the columns named in the parameters; the row is picked by ``_claim_id``.
_UPDATE = update(outbox).where(outbox.c.id == bindparam("_claim_id"))


def enqueue(
    conn: Connection, enquiry_id: str, kind: str, payload: dict[str, Any], now: datetime
) -> None:
    conn.execute(
        _INSERT,
        {"enquiry_id": enquiry_id, "kind": kind, "payload": payload, "state": "pending",
         "attempts": 0, "created_at": now},
    )


@dataclass
class Claim:
    """One outbox row taken by this sync; ``writer()`` gives the transaction to record it in."""

    id: int
    enquiry_id: str
    kind: str
    payload: dict[str, Any]
    attempts: int
    _engine: Engine
    _held: Connection | None
    written: bool = False
    attempt_started_at: datetime | None = None  # an earlier try may have reached the CRM

    @property
    def locked(self) -> bool:
        """True when the claim holds its row locked in an open transaction (PostgreSQL): its
        result must be written there, before the next claim is taken."""
        return self._held is not None

    @contextmanager
    def writer(self) -> Iterator[Connection]:
        if self._held is not None:
            yield self._held
            self.written = True
        else:
            with self._engine.begin() as conn:
                yield conn


def _pending(now: datetime | BindParameter[Any]) -> Any:
    return (outbox.c.state == "pending") & or_(
        outbox.c.not_before.is_(None), outbox.c.not_before <= now
    )


# A page of pending rows after ``last_id`` (SQLite), built once: a sync may ask for many.
_PAGE = (select(outbox).where(_pending(bindparam("now", type_=outbox.c.not_before.type)),
                              outbox.c.id > bindparam("last_id"))
         .order_by(outbox.c.id).limit(500))
_PAGE_OF_KINDS = _PAGE.where(outbox.c.kind.in_(bindparam("kinds", expanding=True)))


def claims(engine: Engine, now: datetime, kinds: tuple[str, ...] | None = None,
           mark_started: datetime | None = None) -> Generator[Claim, None, None]:
    """Yield pending rows oldest first until none is left (or left for later).

    ``mark_started`` (PostgreSQL): a create_case row without an attempt-started marker gets
    one, committed before the claim is yielded (its lock is taken again right after; a row
    another process took in between is left to it). The claim's ``attempt_started_at`` is
    what the row held before, so None still means no earlier try. On SQLite the caller
    marks its claims itself (``mark_attempts_started``), as their rows are not locked.

    Each row is yielded at most once per call: a row the caller leaves pending (a dry run,
    a note whose case is not open yet) waits for the next run instead of being taken again.
    On PostgreSQL a claim's transaction commits when the next claim is asked for, or when
    the caller closes the generator after recording it (``close()``); a claim the caller
    stopped at without recording is rolled back, its row left pending.
    """
    if engine.dialect.name == "postgresql":
        condition = _pending(now)
        if kinds:
            condition = condition & outbox.c.kind.in_(kinds)
        yield from _locked_claims(engine, condition, mark_started)
        return
    page = _PAGE_OF_KINDS if kinds else _PAGE
    values: dict[str, Any] = {"now": now, "kinds": list(kinds or ())}
    last_id = 0
    while True:
        with engine.connect() as conn:
            rows = conn.execute(page, {**values, "last_id": last_id}).all()
        if not rows:
            return
        for row in rows:
            last_id = row.id
            yield _claim(row, engine, None)


def _locked_claims(engine: Engine, condition: Any,
                   mark_started: datetime | None) -> Iterator[Claim]:
    last_id = 0
    while True:
        with engine.connect() as conn:
            transaction = conn.begin()
            try:
                row = conn.execute(
                    select(outbox).where(condition & (outbox.c.id > last_id))
                    .order_by(outbox.c.id).limit(1).with_for_update(skip_locked=True)
                ).first()
                if row is None:
                    transaction.commit()
                    return
                last_id = row.id
                earlier = row.attempt_started_at
                if mark_started is not None and row.kind == "create_case" and earlier is None:
                    # Committed before the CRM call, so a try that dies mid-call leaves it.
                    conn.execute(_UPDATE, {"attempt_started_at": mark_started,
                                           "_claim_id": row.id})
                    transaction.commit()
                    transaction = conn.begin()
                    row = conn.execute(
                        select(outbox).where(condition & (outbox.c.id == row.id))
                        .with_for_update(skip_locked=True)).first()
                    if row is None:  # another process took it in between: it is theirs
                        transaction.commit()
                        continue
                claim = _claim(row, engine, conn)
                claim.attempt_started_at = earlier
                try:
                    yield claim
                except GeneratorExit:
                    (transaction.commit if claim.written else transaction.rollback)()
                    raise
                transaction.commit()
            finally:
                if transaction.is_active:
                    transaction.rollback()


def _claim(row: Any, engine: Engine, held: Connection | None) -> Claim:
    return Claim(row.id, row.enquiry_id, row.kind, dict(row.payload or {}), row.attempts,
                 engine, held, attempt_started_at=row.attempt_started_at)


def mark_attempts_started(engine: Engine, started: Sequence[Claim], now: datetime) -> None:
    """Record, committed before any of their CRM calls, that tries of ``started`` are about
    to begin: a later try then knows an earlier one may have reached the CRM. One short
    transaction for them all; only for claims not ``locked`` (their rows are free)."""
    if not started:
        return
    with engine.begin() as conn:
        conn.execute(_UPDATE, [{"attempt_started_at": now, "_claim_id": c.id} for c in started])
    for claim in started:
        claim.attempt_started_at = now


def mark_done(conn: Connection, claim: Claim, now: datetime) -> None:
    conn.execute(_UPDATE, {"state": "done", "done_at": now, "attempts": claim.attempts + 1,
                           "last_error": None, "_claim_id": claim.id})


def mark_done_many(conn: Connection, done: Sequence[Claim], now: datetime) -> None:
    """``mark_done`` for several claims not ``locked``, in one statement (executemany)."""
    if done:
        conn.execute(_UPDATE, [{"state": "done", "done_at": now, "attempts": c.attempts + 1,
                                "last_error": None, "_claim_id": c.id} for c in done])


def mark_retry(
    conn: Connection, claim: Claim, error: str, not_before: datetime | None = None
) -> None:
    conn.execute(_UPDATE, {"attempts": claim.attempts + 1, "last_error": error,
                           "not_before": not_before, "_claim_id": claim.id})


def mark_failed(conn: Connection, claim: Claim, error: str, now: datetime) -> None:
    conn.execute(_UPDATE, {"state": "failed", "attempts": claim.attempts + 1,
                           "last_error": error, "done_at": now, "_claim_id": claim.id})


def pending_count(conn: Connection) -> int:
    return int(
        conn.execute(
            select(func.count()).select_from(outbox).where(outbox.c.state == "pending")
        ).scalar_one()
    )
