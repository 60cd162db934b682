"""Pull: apply the CRM's changes since the stored cursor, each exactly once.

Updates are applied in batches; each batch and the cursor that covers it are
committed together, so a crash re-reads at most one batch, and the CRM's
event id (kept in the history) makes re-reading harmless.
"""

from __future__ import annotations

import logging
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import Connection, Engine, exists, select

from connectors.base import BaseMapping, CaseUpdate, Connector
from crm_bridge.models import Status
from crm_bridge.store.cursors import get_cursor, set_cursor
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.tables import enquiries, enquiry_history
from crm_bridge.sync.report import SyncReport

__all__ = ["apply_update", "pull"]

log = logging.getLogger(__name__)

BATCH = 200


def pull(engine: Engine, connector: Connector, mapping: BaseMapping, now: datetime,
         report: SyncReport) -> None:
    name = f"pull:{connector.name}"
    with engine.connect() as conn:
        since = get_cursor(conn, name)
    updates = iter(connector.fetch_updates(since))
    while batch := list(islice(updates, BATCH)):
        with engine.begin() as conn:
            for update in batch:
                if apply_update(conn, update, mapping, now, report):
                    report.updated += 1
            set_cursor(conn, name, batch[-1].cursor, now)
    log.info("pull %s from cursor %s: %d applied", connector.name, since, report.updated)


def _find(conn: Connection, update: CaseUpdate) -> Any:
    column, key = ((enquiries.c.id, update.external_ref) if update.external_ref
                   else (enquiries.c.crm_ref, update.case_ref))
    return conn.execute(
        select(enquiries.c.id, enquiries.c.status, enquiries.c.response)
        .where(column == key)
    ).first()


def apply_update(conn: Connection, update: CaseUpdate, mapping: BaseMapping, now: datetime,
                 report: SyncReport) -> bool:
    """Apply one CRM change; False when it is not ours or was applied before."""
    row = _find(conn, update)
    if row is None:
        return False  # a case the bridge did not open
    seen = conn.execute(
        select(exists().where(enquiry_history.c.enquiry_id == row.id,
                              enquiry_history.c.crm_event_id == update.event_id))
    ).scalar()
    if seen:
        return False
    status = Status(row.status)
    values: dict[str, Any] = {}
    if update.crm_status is not None:
        mapped = mapping.bridge_status(update.crm_status)
        if mapped is None:
            report.problems.append(
                f"CRM status '{update.crm_status}' is not in the mapping: add it to statuses"
            )
        else:
            status = mapped
    if update.response:
        values.update(response=update.response, responded_at=update.occurred_at,
                      overdue=False)
        if status not in (Status.RESPONDED, Status.CLOSED):
            status = Status.RESPONDED
    if status is Status.CLOSED:
        values.update(closed_at=update.occurred_at, overdue=False)
    values["status"] = status.value
    set_fields(conn, row.id, now, **values)
    event = "response" if update.response else "status"
    detail = update.response if update.response else f"CRM status '{update.crm_status}'"
    add_history(conn, row.id, update.occurred_at, event, update.actor or "crm", detail,
                status, crm_event_id=update.event_id)
    return True


