"""The ``notifications`` table: what the bridge decided to send, and what became of it.

    held ──(member's daily digest)──► digested
    pending ──► sent          the message went; its body is dropped, the rest is the record
       │  └──► failed         refused for good (5xx), with the server's reason
       └────► cancelled       no longer true when its turn came (a response, an extension)

A row is inserted with ``ON CONFLICT DO NOTHING`` on its unique ``dedupe_key`` in the
same transaction that decided it was due, so deciding twice (a second sync, a crash and
a re-run, two processes) records one row and therefore sends one message.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, select, update

from crm_bridge.store.tables import notifications
from crm_bridge.store.upsert import insert_for

__all__ = [
    "Pending",
    "backoff",
    "cancel",
    "cancel_pending_for",
    "existing_keys",
    "mark_failed",
    "mark_retry",
    "mark_sent",
    "message",
    "pending",
    "record",
]

_CHUNK = 500


def record(conn: Connection, *, kind: str, key: str, enquiry_id: str | None,
           recipients: Sequence[str], subject: str, message: str | None,
           message_id: str | None, now: datetime, state: str = "pending") -> int | None:
    """Record a decided message; its id, or None when the key was recorded before."""
    insert = insert_for(conn.dialect.name)
    stmt = (
        insert(notifications)
        .values(enquiry_id=enquiry_id, kind=kind, dedupe_key=key,
                recipients=", ".join(recipients), subject=subject, state=state, attempts=0,
                decided_at=now, message=message, message_id=message_id)
        .on_conflict_do_nothing(index_elements=["dedupe_key"])
        .returning(notifications.c.id)
    )
    return conn.execute(stmt).scalar_one_or_none()


def existing_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Which of ``keys`` are recorded already (any state)."""
    wanted = list(keys)
    found: set[str] = set()
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start:start + _CHUNK]
        found.update(conn.execute(
            select(notifications.c.dedupe_key).where(notifications.c.dedupe_key.in_(chunk))
        ).scalars())
    return found


@dataclass(frozen=True)
class Pending:
    """A message waiting to be sent; its body is read (``message``) just before sending."""

    id: int
    enquiry_id: str | None
    kind: str
    dedupe_key: str
    recipients: tuple[str, ...]
    attempts: int


def pending(engine: Engine, now: datetime, limit: int, batch: int = 50) -> Iterator[Pending]:
    """Pending messages whose time has come, oldest decision first, read a few at a time
    (while the server is down, a run needs only the first)."""
    n = notifications.c
    after = 0
    while limit > 0:
        with engine.connect() as conn:
            rows = conn.execute(
                select(n.id, n.enquiry_id, n.kind, n.dedupe_key, n.recipients, n.attempts)
                .where(n.state == "pending", n.id > after,
                       (n.not_before.is_(None)) | (n.not_before <= now))
                .order_by(n.id).limit(min(batch, limit))
            ).all()
        for r in rows:
            yield Pending(r.id, r.enquiry_id, r.kind, r.dedupe_key,
                          tuple(a.strip() for a in r.recipients.split(",") if a.strip()),
                          r.attempts)
        if len(rows) < batch:
            return
        after = rows[-1].id
        limit -= len(rows)


def message(conn: Connection, row: Pending) -> str | None:
    """The stored message, exactly as it was rendered when decided."""
    return conn.execute(
        select(notifications.c.message).where(notifications.c.id == row.id)
    ).scalar_one_or_none()


def backoff(attempts: int) -> timedelta:
    """How long a message the server deferred waits: 1, 2, 4 … minutes, at most an hour."""
    return timedelta(minutes=min(60, 2 ** min(attempts, 6)))


def _set(conn: Connection, row_id: int, **values: Any) -> None:
    conn.execute(update(notifications).where(notifications.c.id == row_id).values(**values))


def mark_sent(conn: Connection, row: Pending, now: datetime, note: str | None = None) -> None:
    """Sent: keep who, what and when; drop the body (it holds the enquiry's description)."""
    _set(conn, row.id, state="sent", sent_at=now, attempts=row.attempts + 1, last_error=note,
         message=None, not_before=None)


def mark_retry(conn: Connection, row: Pending, error: str, not_before: datetime,
               count_attempt: bool = True) -> None:
    _set(conn, row.id, attempts=row.attempts + (1 if count_attempt else 0), last_error=error,
         not_before=not_before)


def mark_failed(conn: Connection, row: Pending, error: str) -> None:
    """Refused for good: kept, with the reason, for the digest and `notify list`."""
    _set(conn, row.id, state="failed", attempts=row.attempts + 1, last_error=error,
         not_before=None, message=None)


def cancel(conn: Connection, row_id: int, reason: str) -> None:
    _set(conn, row_id, state="cancelled", last_error=reason, message=None)


def cancel_pending_for(conn: Connection, enquiry_id: str, kinds: Sequence[str],
                       reason: str) -> int:
    """Cancel an enquiry's pending messages of ``kinds`` (say its deadline moved)."""
    n = notifications.c
    return conn.execute(
        update(notifications)
        .where(n.enquiry_id == enquiry_id, n.state == "pending", n.kind.in_(list(kinds)))
        .values(state="cancelled", last_error=reason, message=None)
    ).rowcount

