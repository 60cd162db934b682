"""The portal's side of the audit trail (``crm_bridge.access.audit``): ``record`` in a
write the page already makes, ``record_many`` for the rows of a page or API answer that
shows constituents' data, committed with other requests' rows (group commit).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import insert

from crm_bridge.access.audit import PORTAL, record, row
from crm_bridge.store.tables import audit_log

if TYPE_CHECKING:
    from crm_bridge.portal.db import Store

__all__ = ["record", "record_many"]

_INSERT = insert(audit_log)


def record_many(store: Store, at: datetime, actor: str, action: str,
                enquiry_ids: Iterable[str], detail: str = "", via: str = PORTAL) -> None:
    """One row per enquiry shown, committed before the page is sent (with other requests'
    rows in the same transaction when several arrive at once)."""
    rows = [row(at, actor, action, enquiry_id, detail, via)
            for enquiry_id in dict.fromkeys(enquiry_ids)]
    if not rows:
        return
    store.append(_INSERT, rows)
