"""Pull: apply the CRM's changes since the stored cursor, each exactly once.

Updates are applied in batches; each batch and the cursor that covers it are committed
together, so a crash re-reads at most one batch, and the CRM's event id (kept in the
history, unique per enquiry) makes re-reading harmless. When the CRM fails part-way, what
was read before the failure is applied and its cursor kept, and the read resumes from there
(retried as ``sync.retry`` allows; a try that moved the cursor on starts a fresh set of
tries for the read that failed after it): a flaky CRM slows pull down but never sends it back.

Connectors with timestamp cursors re-read an overlap before the cursor (see docs/sync.md),
so the same change may arrive again, in the same batch or a later one; it is applied once.
A change older than the newest one already applied (a late commit caught by the overlap)
is recorded in the history but does not move the status back. Files officers attached in
the CRM are kept on the enquiry as links, once each (``crm_bridge.sync.crm_files``).

A change whose CRM status the mapping does not know is held whole (``sync.held``), not
applied nor recorded as seen; each pull first applies the held changes whose status the
mapping has learnt since. A change that closes an enquiry which has no response (a CRM
resolve without a reply) is recorded with a ``closed_without_response`` history event,
which the portal shows the member.

Past the run's deadline (``Deadline``) pull stops after the batch or cursor mark in hand,
keeping it, and the next run resumes from that cursor.

Within a batch, enquiries are written in id order, as the overdue step locks them, so on
PostgreSQL the two (run by different processes) cannot deadlock.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, or_, select

from connectors.base import BaseMapping, CaseUpdate, Connector, CursorMark
from crm_bridge.errors import ConnectorError, TransientError
from crm_bridge.models import Status
from crm_bridge.store.cursors import get_cursor, set_cursor
from crm_bridge.store.enquiries import add_history_rows, history_row, set_fields_rows
from crm_bridge.store.tables import enquiries, enquiry_history
from crm_bridge.sync.crm_files import record_links
from crm_bridge.sync.deadline import Deadline
from crm_bridge.sync.held import held_by_status, held_events, held_row, hold_rows, release_held
from crm_bridge.sync.links import fan_out
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy, retrying

__all__ = ["CLOSED_WITHOUT_RESPONSE", "apply_updates", "pull"]

log = logging.getLogger(__name__)

BATCH = 200
_CHUNK = 500  # values in one IN (...)


CLOSED_WITHOUT_RESPONSE = "closed_without_response"
"""The history event of an enquiry the CRM closed while it had no response."""


class _Progressed(Exception):
    """A read failed after storing some progress: its tries start afresh."""


@dataclass
class _Pull:
    """One pull: where it reads from, how it applies, and when it must stop."""

    engine: Engine
    connector: str
    mapping: BaseMapping
    now: datetime
    report: SyncReport
    deadline: Deadline
    cursor: str | None = None  # the last cursor stored by this pull

    def apply(self, conn: Connection, batch: Sequence[CaseUpdate]) -> int:
        return apply_updates(conn, batch, self.mapping, self.now, self.report,
                             connector=self.connector)

    def commit(self, batch: list[CaseUpdate], cursor: str | None = None) -> None:
        """Apply ``batch`` and store the cursor after it (``cursor`` when a mark gave one)."""
        if not batch and cursor is None:
            return
        with self.engine.begin() as conn:
            if batch:
                self.report.updated += self.apply(conn, batch)
            self.cursor = cursor if cursor is not None else batch[-1].cursor
            set_cursor(conn, f"pull:{self.connector}", self.cursor, self.now)

    def read(self, connector: Connector) -> None:
        """One try: read from the stored cursor. A failure after the cursor moved on is
        ``_Progressed`` (a new start), not a spent try; one that left it where it was (a
        mark repeating ``since`` is no progress) spends a try."""
        with self.engine.connect() as conn:
            since = self.cursor = get_cursor(conn, f"pull:{self.connector}")
        try:
            self.drain(connector.fetch_updates(since))
        except TransientError as exc:
            if self.cursor != since:
                raise _Progressed from exc
            raise

    def drain(self, updates: Iterator[CaseUpdate | CursorMark]) -> None:
        """Read and apply until the CRM has nothing more or the deadline has passed."""
        batch: list[CaseUpdate] = []
        try:
            for update in updates:
                if isinstance(update, CursorMark):  # read up to here: keep it with the batch
                    self.commit(batch, cursor=update.cursor)
                else:
                    batch.append(update)
                    if len(batch) < BATCH:
                        continue
                    self.commit(batch)
                batch = []
                if self.deadline.passed():
                    return  # what was read is kept; the next run resumes from here
        except ConnectorError:
            self.commit(batch)  # keep what was read
            raise
        finally:
            close = getattr(updates, "close", None)
            if callable(close):
                close()  # the connector's read ends here (its generator's cleanup runs)
        self.commit(batch)


def pull(engine: Engine, connector: Connector, mapping: BaseMapping, now: datetime,
         report: SyncReport, policy: RetryPolicy | None = None,
         deadline: Deadline | None = None) -> None:
    """Apply every change since the cursor; TransientError only once retries are spent."""
    name = f"pull:{connector.name}"
    run = _Pull(engine, connector.name, mapping, now, report, deadline or Deadline(None))
    with engine.connect() as conn:
        start = get_cursor(conn, name)
    report.updated += release_held(engine, connector.name, mapping, run.apply,
                                   run.deadline.keep_going)
    while not run.deadline.passed():
        try:
            for attempt in retrying(policy or RetryPolicy(attempts=1), run.deadline):
                with attempt:
                    run.read(connector)
            break
        except _Progressed:  # the read that failed next gets a fresh set of tries
            log.info("pull %s: a read failed after moving the cursor on; resuming",
                     connector.name)
    _report_held(engine, connector.name, report)
    log.info("pull %s from cursor %s: %d applied", connector.name, start, report.updated)


def _report_held(engine: Engine, connector: str, report: SyncReport) -> None:
    """The statuses changes wait on (names and counts only: the report goes to cron's log)."""
    with engine.connect() as conn:
        waiting = held_by_status(conn, connector)
    report.held_statuses = dict(sorted(waiting.items()))
    for status, count in report.held_statuses.items():
        report.problems.append(
            f"CRM status '{status}' is not in the mapping: add it to statuses; "
            f"{count} update(s) wait for it")


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
                  now: datetime, report: SyncReport, *, connector: str = "") -> int:
    """Apply a batch of CRM changes in ``conn``; how many were new to the bridge. A change
    whose status the mapping does not know is held for ``connector`` instead."""
    rows = _ours(conn, batch)
    mine = [(rows[key], u) for u in batch
            if (key := ("ext", u.external_ref) if u.external_ref else ("case", u.case_ref))
            in rows]
    mine = fan_out(conn, mine)  # enquiries folded into a case hear what the case hears
    mine.sort(key=lambda pair: str(pair[0].id))  # stable: each enquiry's changes keep order
    record_links(conn, [(row, u) for row, u in mine if u.attachments], now, report)
    ids = sorted({str(row.id) for row, _ in mine})
    seen, newest = _applied(conn, ids)
    seen |= held_events(conn, ids)
    state: dict[str, dict[str, Any]] = {}
    history: list[dict[str, Any]] = []
    held: list[dict[str, Any]] = []
    for row, update in mine:
        if (row.id, update.event_id) in seen:
            continue  # applied or held before (or twice in this batch)
        seen.add((row.id, update.event_id))
        if update.crm_status is not None and mapping.bridge_status(update.crm_status) is None:
            held.append(held_row(row.id, connector, update, now,
                                 keep_text=row.purged_at is None))
            continue
        current = state.setdefault(row.id, {"status": row.status, "response": row.response})
        latest = newest.get(row.id)
        older = latest is not None and update.occurred_at < latest
        was_closed = current["status"] == Status.CLOSED.value
        values = _change(update, mapping, Status(current["status"]), current["response"],
                         older=older)
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
        if (current["status"] == Status.CLOSED.value and not was_closed
                and not current["response"] and row.purged_at is None):
            history.append(history_row(
                row.id, update.occurred_at, CLOSED_WITHOUT_RESPONSE, update.actor or "crm",
                "the CRM closed the case without a response for the member: ask the "
                "service for one", Status.CLOSED))
    if state:
        set_fields_rows(conn, now, sorted(state.items()))
    add_history_rows(conn, history)
    hold_rows(conn, held)
    return sum(1 for row in history if row["event"] != CLOSED_WITHOUT_RESPONSE)


def _change(update: CaseUpdate, mapping: BaseMapping, status: Status, response: str | None,
            *, older: bool) -> dict[str, Any]:
    """The enquiry fields one CRM change (its status known to the mapping) sets. An
    ``older`` change (newer ones are applied already) only fills in a response the enquiry
    lacks."""
    values: dict[str, Any] = {}
    if update.crm_status is not None and not older:
        mapped = mapping.bridge_status(update.crm_status)
        if mapped is not None:
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
