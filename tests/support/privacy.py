"""Helpers for the data-protection tests: enquiries taken through the local CRM to closure,
and the store read back the way a data protection officer would check it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select, text

from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync

NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0)


def person(name: str, email: str, phone: str, postcode: str = "FK10 1AA",
           address: str | None = None) -> dict[str, Any]:
    return {"name": name, "email": email, "phone": phone, "postcode": postcode,
            "address": address or f"1 {name.split()[-1]} Road, Alloa"}


def sync_crm(bridge: Bridge, now: datetime) -> None:
    report = run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                      now=now, policy=NO_WAIT, only=("push", "pull"))
    assert report.ok, report.as_dict()


def stored(bridge: Bridge, reference: str) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, reference)
    assert found is not None, reference
    return found


def respond(bridge: Bridge, enquiry: Enquiry, at: datetime, response: str,
            close: bool = True) -> Enquiry:
    """An officer answers (and closes) the enquiry's case at ``at``; sync brings it back."""
    sync_crm(bridge, at - timedelta(hours=2))
    case = stored(bridge, enquiry.reference).crm_ref
    assert case is not None
    desk = bridge.connector().desk()  # type: ignore[attr-defined]
    desk.set_status(case, "resolved", "roads.officer", response=response,
                    at=at - timedelta(hours=1))
    if close:
        desk.set_status(case, "closed", "roads.officer", at=at)
    sync_crm(bridge, at + timedelta(hours=1))
    return stored(bridge, enquiry.reference)


def store_bytes(bridge: Bridge) -> bytes:
    """Every byte of a SQLite store's files (database, WAL, shared memory)."""
    url = bridge.engine.url.database
    assert url is not None
    path = Path(url)
    return b"".join(p.read_bytes() for p in (path, Path(f"{path}-wal"))
                    if p.exists())


def search_index_hits(bridge: Bridge, word: str) -> int:
    """Rows SQLite's trigram search index finds for ``word`` (0 on PostgreSQL: no index)."""
    if bridge.engine.dialect.name != "sqlite":
        return 0
    with bridge.engine.connect() as conn:
        return len(conn.execute(text(
            "SELECT rowid FROM enquiries_fts WHERE enquiries_fts MATCH :q"),
            {"q": f'"{word}"'}).all())


def rows(bridge: Bridge, table: Any, *where: Any) -> list[Any]:
    with bridge.engine.connect() as conn:
        return list(conn.execute(select(table).where(*where)))


LogFn = Callable[..., Enquiry]
