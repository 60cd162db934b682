"""Removing an enquiry's personal data from every table that holds it, keeping the facts.

Shared by `crm-bridge purge` (retention) and `crm-bridge sar erase` (erasure), so both
remove exactly the same things. The enquiry row stays, with what reports count (ward,
category, service, member, dates, status, CRM case reference) and ``purged_at``; the
constituent's details with their search keys (migration 0015), the description, location,
response and failure text are removed; history rows keep their event, date, actor and status
but lose their text, and links to other enquiries their reasons; the outbox's work for the
CRM, photos, links to files on the CRM case, CRM changes held on an unmapped status (they
may carry a response), unsent e-mail bodies and the portal's saved searches go. On SQLite
the search index follows by its triggers (migration 0006); ``compact`` then rewrites what
the removed text left on disk.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select, text, update

from crm_bridge.personkeys import NO_KEYS
from crm_bridge.store.tables import (
    attachments,
    crm_attachment_links,
    enquiries,
    enquiry_history,
    enquiry_links,
    held_updates,
    notifications,
    outbox,
    search_tokens,
)

__all__ = ["REMOVED", "Scrubbed", "chunks", "compact", "count_scrub", "scrub", "secure"]

REMOVED = "(personal data removed)"
"""What a purged enquiry's required text fields (the constituent's name, the description)
hold instead: the columns are NOT NULL, and a reader sees plainly what happened."""

_CHUNK = 500


@dataclass
class Scrubbed:
    """How many rows of each kind lost personal data (or, in a dry run, would)."""

    enquiries: int = 0
    history_texts: int = 0
    outbox_rows: int = 0
    notifications: int = 0
    attachments: int = 0
    crm_links: int = 0  # links to files officers put on the CRM case
    held_updates: int = 0  # CRM changes held on an unmapped status (they may hold a response)

    def add(self, other: Scrubbed) -> None:
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))

    def as_dict(self) -> dict[str, int]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def chunks(values: Sequence[str], size: int = _CHUNK) -> Iterator[list[str]]:
    for start in range(0, len(values), size):
        yield list(values[start:start + size])


def _counts(conn: Connection, ids: list[str]) -> Scrubbed:
    def count(table: Any, *where: Any) -> int:
        return int(conn.execute(select(func.count()).select_from(table).where(*where))
                   .scalar_one())

    h, n = enquiry_history.c, notifications.c
    return Scrubbed(
        enquiries=count(enquiries, enquiries.c.id.in_(ids)),
        history_texts=count(enquiry_history, h.enquiry_id.in_(ids), h.detail != ""),
        outbox_rows=count(outbox, outbox.c.enquiry_id.in_(ids)),
        notifications=count(notifications, n.enquiry_id.in_(ids),
                            (n.message.is_not(None)) | n.state.in_(("pending", "held"))),
        attachments=count(attachments, attachments.c.enquiry_id.in_(ids)),
        crm_links=count(crm_attachment_links, crm_attachment_links.c.enquiry_id.in_(ids)),
        held_updates=count(held_updates, held_updates.c.enquiry_id.in_(ids)),
    )


def count_scrub(conn: Connection, ids: Sequence[str]) -> Scrubbed:
    """What ``scrub`` would change for ``ids``, changing nothing."""
    total = Scrubbed()
    for chunk in chunks(ids):
        total.add(_counts(conn, chunk))
    return total


def scrub(conn: Connection, ids: Sequence[str], now: datetime) -> Scrubbed:
    """Remove the personal data of enquiries ``ids`` in ``conn``'s transaction."""
    total = Scrubbed()
    for chunk in chunks(ids):
        total.add(_counts(conn, chunk))
        conn.execute(update(enquiries).where(enquiries.c.id.in_(chunk)).values(
            constituent_name=REMOVED, constituent_address=None, constituent_postcode=None,
            constituent_email=None, constituent_phone=None, constituent_uprn=None,
            description=REMOVED, location=None, response=None, failure_reason=None,
            purged_at=now, updated_at=now, latitude=None, longitude=None,
            **NO_KEYS.columns()))
        conn.execute(update(enquiry_history).where(enquiry_history.c.enquiry_id.in_(chunk),
                                                   enquiry_history.c.detail != "")
                     .values(detail=""))
        conn.execute(delete(outbox).where(outbox.c.enquiry_id.in_(chunk)))
        x = enquiry_links.c  # why a pair was linked or unlinked: free text, may name people
        conn.execute(update(enquiry_links).where(
            x.enquiry_id.in_(chunk) | x.linked_id.in_(chunk),
            x.reason.is_not(None) | x.unlink_reason.is_not(None))
            .values(reason=None, unlink_reason=None))
        n = notifications.c
        conn.execute(update(notifications).where(n.enquiry_id.in_(chunk),
                                                 n.state.in_(("pending", "held")))
                     .values(state="cancelled", last_error="personal data removed"))
        conn.execute(update(notifications).where(n.enquiry_id.in_(chunk),
                                                 n.message.is_not(None)).values(message=None))
        conn.execute(delete(attachments).where(attachments.c.enquiry_id.in_(chunk)))
        conn.execute(delete(crm_attachment_links)
                     .where(crm_attachment_links.c.enquiry_id.in_(chunk)))
        conn.execute(delete(held_updates).where(held_updates.c.enquiry_id.in_(chunk)))
    if ids:
        # Searches kept for their result pages (at most 30 minutes) may hold the person's
        # name, postcode or e-mail: they go too (a searcher simply searches again).
        conn.execute(delete(search_tokens))
    return total


def secure(conn: Connection) -> None:
    """On SQLite, have this connection overwrite what it deletes with zeros, so removed text
    does not linger in free space in the file (PostgreSQL: see ``compact``)."""
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("PRAGMA secure_delete=ON")


def compact(engine: Engine) -> None:
    """After a scrub has committed: leave no copy of the removed text in the store's files.

    SQLite: merge the search index (its segments still hold deleted terms until merged),
    then checkpoint the write-ahead log and truncate it (it holds earlier page images).
    PostgreSQL: VACUUM the tables scrubbed, so the old row versions are removed now rather
    than at autovacuum's next visit (the disk blocks are reused, not zeroed).
    """
    if engine.dialect.name == "sqlite":
        with engine.begin() as conn:
            secure(conn)
            has_index = conn.execute(text(
                "SELECT 1 FROM sqlite_master WHERE name = 'enquiries_fts'")).first()
            if has_index:
                conn.execute(text(
                    "INSERT INTO enquiries_fts(enquiries_fts) VALUES('optimize')"))
        raw = engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()
        return
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for table in ("enquiries", "enquiry_history", "outbox", "notifications",
                      "attachments", "crm_attachment_links", "audit_log"):
            conn.exec_driver_sql(f"VACUUM {table}")
