"""The audit trail of who saw or changed which enquiry, in the store's ``audit_log`` table.

Written for every page or API answer that shows a constituent's data (one row per
enquiry shown, so "who has seen this person's enquiry?" is one query), and for
sign-ins, changes and account administration. Never logged to the application log.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert

from crm_bridge.store.tables import audit_log

if TYPE_CHECKING:
    from crm_bridge.portal.db import Store

__all__ = ["record", "record_many"]

_INSERT = insert(audit_log)


def record(conn: Connection, at: datetime, actor: str, action: str,
           enquiry_id: str | None = None, detail: str = "") -> None:
    conn.execute(_INSERT, {"at": at, "actor": actor, "action": action,
                           "enquiry_id": enquiry_id, "detail": detail[:2000]})


def record_many(store: Store, at: datetime, actor: str, action: str,
                enquiry_ids: Iterable[str], detail: str = "") -> None:
    """One row per enquiry shown, committed before the page is sent (with other requests'
    rows in the same transaction when several arrive at once)."""
    rows = [{"at": at, "actor": actor, "action": action, "enquiry_id": enquiry_id,
             "detail": detail[:2000]} for enquiry_id in dict.fromkeys(enquiry_ids)]
    if not rows:
        return
    store.append(_INSERT, rows)
