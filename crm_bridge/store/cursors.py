"""Sync cursors: how far each CRM's updates have been applied. Written in the same
transaction as the updates they cover, so a crash can only re-apply, never skip."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, select, update

from crm_bridge.store.tables import sync_cursors

__all__ = ["get_cursor", "set_cursor"]


def get_cursor(conn: Connection, name: str) -> str | None:
    return conn.execute(
        select(sync_cursors.c.value).where(sync_cursors.c.name == name)
    ).scalar_one_or_none()


def set_cursor(conn: Connection, name: str, value: str, now: datetime) -> None:
    changed = conn.execute(
        update(sync_cursors).where(sync_cursors.c.name == name).values(value=value, updated_at=now)
    ).rowcount
    if not changed:
        conn.execute(sync_cursors.insert().values(name=name, value=value, updated_at=now))
