"""CRM changes held because the mapping does not know their status, until it does.

Pull holds such a change whole (its status, and any response that came with it) in
``held_updates`` instead of applying half of it or recording it as seen; ``sync`` and
`connector check` name the statuses (never the text) so the admin can add them to the
mapping's ``statuses``. Each later pull first applies the held changes whose status the
mapping now knows, enquiry by enquiry in the order they happened, with pull's own rules: a
change older than one already applied is recorded in the history but does not move the
status back. A held row is deleted in the transaction that applies it, and holding the same
CRM change twice is refused by its key (enquiry, CRM event id), so re-reads are harmless.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import BaseMapping, CaseUpdate
from crm_bridge.store.tables import held_updates

__all__ = ["held_by_status", "held_events", "held_row", "hold_rows", "release_held",
           "unmapped_held"]

BATCH = 200


def held_events(conn: Connection, ids: Sequence[str]) -> set[tuple[str, str]]:
    """(enquiry id, CRM event id) of the changes held for these enquiries."""
    h = held_updates.c
    found: set[tuple[str, str]] = set()
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        found.update((row.enquiry_id, row.crm_event_id) for row in conn.execute(
            select(h.enquiry_id, h.crm_event_id).where(h.enquiry_id.in_(chunk))))
    return found


def hold_rows(conn: Connection, rows: Iterable[dict[str, Any]]) -> None:
    """Insert held changes (each unique per enquiry and CRM event: the caller checked)."""
    values = list(rows)
    if values:
        conn.execute(held_updates.insert(), values)


def held_row(enquiry_id: str, connector: str, update: CaseUpdate, now: datetime,
             *, keep_text: bool) -> dict[str, Any]:
    """The row that holds ``update``; without its response when ``keep_text`` is False (the
    enquiry's personal data was purged)."""
    return {"enquiry_id": enquiry_id, "connector": connector,
            "crm_event_id": update.event_id, "case_ref": update.case_ref,
            "crm_status": update.crm_status or "", "occurred_at": update.occurred_at,
            "response": update.response if keep_text else None,
            "actor": update.actor or "crm", "held_at": now}


def held_by_status(conn: Connection, connector: str) -> dict[str, int]:
    """CRM status → how many changes wait on it, for this connector."""
    h = held_updates.c
    return {row.crm_status: int(row.n) for row in conn.execute(
        select(h.crm_status, func.count().label("n")).where(h.connector == connector)
        .group_by(h.crm_status))}


def unmapped_held(engine: Engine, connector: str) -> dict[str, int]:
    """``held_by_status`` for `connector check`; empty when the store is not there yet."""
    try:
        if not inspect(engine).has_table(held_updates.name):
            return {}
        with engine.connect() as conn:
            return held_by_status(conn, connector)
    except SQLAlchemyError:
        return {}


Apply = Callable[[Connection, Sequence[CaseUpdate]], int]


def release_held(engine: Engine, connector: str, mapping: BaseMapping, apply: Apply,
                 keep_going: Callable[[], bool] = lambda: True) -> int:
    """Apply the held changes whose status ``mapping`` now knows, a batch at a time (each
    batch applied and its rows deleted together); how many were new to the bridge.
    ``keep_going`` is asked before each batch (the run's deadline)."""
    h = held_updates.c
    with engine.connect() as conn:
        known = sorted(status for status in held_by_status(conn, connector)
                       if mapping.bridge_status(status) is not None)
    applied = 0
    while known and keep_going():
        with engine.begin() as conn:  # the rows applied are deleted: the next read goes on
            rows = conn.execute(
                select(held_updates)
                .where(h.connector == connector, h.crm_status.in_(known))
                .order_by(h.enquiry_id, h.occurred_at, h.id).limit(BATCH)).all()
            if not rows:
                break
            conn.execute(delete(held_updates).where(h.id.in_([row.id for row in rows])))
            applied += apply(conn, [_update(row) for row in rows])
    return applied


def _update(row: Any) -> CaseUpdate:
    return CaseUpdate(event_id=row.crm_event_id, case_ref=row.case_ref,
                      external_ref=row.enquiry_id, occurred_at=row.occurred_at, cursor="",
                      crm_status=row.crm_status, response=row.response, actor=row.actor)
