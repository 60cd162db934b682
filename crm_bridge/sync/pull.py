"""Pull: apply the CRM's changes since the stored cursor, each exactly once.

Updates are applied in batches; each batch and the cursor that covers it are committed
together, so a crash re-reads at most one batch, and the CRM's event id (kept in the
history, unique per enquiry) makes re-reading harmless. When the CRM fails part-way, what
was read before the failure is applied and its cursor kept, and the read resumes from there
(retried as ``sync.retry`` allows): a flaky CRM slows pull down but never sends it back.

Connectors with timestamp cursors re-read an overlap before the cursor (see docs/sync.md),
so the same change may arrive again, in the same batch or a later one; it is applied once.
A change older than the newest one already applied (a late commit caught by the overlap)
is recorded in the history but does not move the status back. Files officers attached in
the CRM are kept on the enquiry as links, once each (``crm_bridge.sync.crm_files``).

Within a batch, enquiries are written in id order, as the overdue step locks them, so on
PostgreSQL the two (run by different processes) cannot deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, or_, select

from connectors.base import BaseMapping, CaseUpdate, Connector, CursorMark
from crm_bridge.errors import ConnectorError
from crm_bridge.models import Status
from crm_bridge.store.cursors import get_cursor, set_cursor
from crm_bridge.store.enquiries import add_history_rows, history_row, set_fields_rows
from crm_bridge.store.tables import enquiries, enquiry_history
from crm_bridge.sync.crm_files import record_links
from crm_bridge.sync.links import fan_out
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy, retrying

__all__ = ["apply_updates", "pull"]

log = logging.getLogger(__name__)

BATCH = 200
_CHUNK = 500  # values in one IN (...)


def pull(engine: Engine, connector: Connector, mapping: BaseMapping, now: datetime,
         report: SyncReport, policy: RetryPolicy | None = None) -> None:
    """Apply every change since the cursor; TransientError only once retries are spent."""
    name = f"pull:{connector.name}"
    with engine.connect() as conn:
        start = get_cursor(conn, name)
    for attempt in retrying(policy or RetryPolicy(attempts=1)):
        with attempt:
            with engine.connect() as conn:
                since = get_cursor(conn, name)
            _drain(engine, name, connector.fetch_updates(since), mapping, now, report)
    log.info("pull %s from cursor %s: %d applied", connector.name, start, report.updated)


def _drain(engine: Engine, name: str, updates: Iterable[CaseUpdate | CursorMark],
           mapping: BaseMapping, now: datetime, report: SyncReport) -> None:
    batch: list[CaseUpdate] = []
    try:
        for update in updates:
            if isinstance(update, CursorMark):  # read up to here: keep it with the batch
                _commit(engine, name, batch, mapping, now, report, cursor=update.cursor)
                batch = []
                continue
            batch.append(update)
            if len(batch) == BATCH:
                _commit(engine, name, batch, mapping, now, report)
                batch = []
    except ConnectorError:
        _commit(engine, name, batch, mapping, now, report)  # keep what was read
        raise
    _commit(engine, name, batch, mapping, now, report)


def _commit(engine: Engine, name: str, batch: list[CaseUpdate], mapping: BaseMapping,
            now: datetime, report: SyncReport, *, cursor: str | None = None) -> None:
    """Apply ``batch`` and store the cursor after it (``cursor`` when a mark gave one)."""
    if not batch and cursor is None:
        return
    with engine.begin() as conn:
        if batch:
            report.updated += apply_updates(conn, batch, mapping, now, report)
        set_cursor(conn, name, cursor if cursor is not None else batch[-1].cursor, now)


def _chunks(values: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start:start + _CHUNK])


def _ours(conn: Connection, batch: Sequence[CaseUpdate]) -> dict[tuple[str, str], Any]:
    """Each update's enquiry row, keyed ("ext", external_ref) or ("case", case_ref); on
    PostgreSQL locked, in id order, before anything is written."""
    e = enquiries.c
    ids = sorted({u.external_ref for u in batch if u.external_ref})
    refs = sorted({u.case_ref for u in batch if not u.external_ref})
    query = (select(e.id, e.crm_ref, e.status, e.response, e.purged_at)
             .where(or_(e.id.in_(ids), e.crm_ref.in_(refs))).order_by(e.id))
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(key_share=True)  # FOR NO KEY UPDATE
    found: dict[tuple[str, str], Any] = {}
    for row in conn.execute(query):
        found[("ext", row.id)] = row
        if row.crm_ref:
            found[("case", row.crm_ref)] = row
    return found


def _applied(conn: Connection, ids: Sequence[str]) -> tuple[set[tuple[str, str]],
                                                            dict[str, datetime]]:
    """The CRM event ids applied to these enquiries, and each one's newest CRM change."""
    h = enquiry_history.c
    seen: set[tuple[str, str]] = set()
    newest: dict[str, datetime] = {}
    for chunk in _chunks(ids):
        for row in conn.execute(select(h.enquiry_id, h.crm_event_id, h.at).where(
                h.enquiry_id.in_(chunk), h.crm_event_id.is_not(None))):
            seen.add((row.enquiry_id, row.crm_event_id))
            if row.enquiry_id not in newest or row.at > newest[row.enquiry_id]:
                newest[row.enquiry_id] = row.at
    return seen, newest


def apply_updates(conn: Connection, batch: Sequence[CaseUpdate], mapping: BaseMapping,
                  now: datetime, report: SyncReport) -> int:
    """Apply a batch of CRM changes in ``conn``; how many were new to the bridge."""
    rows = _ours(conn, batch)
    mine = [(rows[key], u) for u in batch
            if (key := ("ext", u.external_ref) if u.external_ref else ("case", u.case_ref))
            in rows]
    mine = fan_out(conn, mine)  # enquiries folded into a case hear what the case hears
    mine.sort(key=lambda pair: str(pair[0].id))  # stable: each enquiry's changes keep order
    record_links(conn, [(row, u) for row, u in mine if u.attachments], now, report)
    seen, newest = _applied(conn, sorted({str(row.id) for row, _ in mine}))
    state: dict[str, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    for row, update in mine:
        if (row.id, update.event_id) in seen:
            continue  # applied before (or twice in this batch)
        seen.add((row.id, update.event_id))
        current = state.setdefault(row.id, {"status": row.status, "response": row.response})
        latest = newest.get(row.id)
        values = _change(update, mapping, Status(current["status"]), current["response"],
                         older=latest is not None and update.occurred_at < latest, report=report)
        if "responded_at" in values:
            values["response_arrived_at"] = now  # the portal's "since you last looked"
        event = "response" if update.response else "status"
        detail = update.response if update.response else f"CRM status '{update.crm_status}'"
        if row.purged_at is not None:  # personal data removed: keep the facts, not the text
            values.pop("response", None)
            detail = ""
        current.update(values)
        if latest is None or update.occurred_at > latest:
            newest[row.id] = update.occurred_at
        history.append(history_row(row.id, update.occurred_at, event, update.actor or "crm",
                                   detail, Status(current["status"]),
                                   crm_event_id=update.event_id))
    if state:
        set_fields_rows(conn, now, sorted(state.items()))
    add_history_rows(conn, history)
    return len(history)


def _change(update: CaseUpdate, mapping: BaseMapping, status: Status, response: str | None,
            *, older: bool, report: SyncReport) -> dict[str, Any]:
    """The enquiry fields one CRM change sets. An ``older`` change (newer ones are applied
    already) only fills in a response the enquiry lacks."""
    values: dict[str, Any] = {}
    if update.crm_status is not None and not older:
        mapped = mapping.bridge_status(update.crm_status)
        if mapped is None:
            problem = (f"CRM status '{update.crm_status}' is not in the mapping: "
                       "add it to statuses")
            if problem not in report.problems:
                report.problems.append(problem)
        else:
            status = mapped
    if update.response and (not older or not response):
        values.update(response=update.response, responded_at=update.occurred_at,
                      overdue=False)
        if not older and status not in (Status.RESPONDED, Status.CLOSED):
            status = Status.RESPONDED
    if status is Status.CLOSED and not older:
        values.update(closed_at=update.occurred_at, overdue=False)
    values["status"] = status.value
    return values
