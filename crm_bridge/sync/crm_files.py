"""Files officers put on a CRM case, kept on the enquiry as links (the CRM keeps the file).

Pull hands each batch's updates here with their enquiries. A link is kept once per enquiry
(the table's unique key), so reading the same change again, in an overlap or after a crash,
adds nothing. Only absolute http(s) addresses are kept: the portal shows them as links, and
anything else (a ``javascript:`` address, a path on the CRM's disk) would be no link a
member could follow, or a dangerous one. A purged enquiry keeps no new link: it is personal
data.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

from sqlalchemy import Connection, select

from connectors.base import CaseUpdate
from crm_bridge.store.tables import crm_attachment_links
from crm_bridge.store.upsert import insert_for
from crm_bridge.sync.report import SyncReport

__all__ = ["MAX_URL", "link_name", "record_links", "usable_link"]

MAX_URL = 1000


def usable_link(url: str) -> bool:
    """An absolute http(s) address short enough to keep (in bytes: the unique index on it
    must hold it on PostgreSQL too)."""
    if len(url.encode("utf-8")) > MAX_URL:
        return False
    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def link_name(url: str) -> str:
    """What the portal calls the link: the file's name, from the address's last part."""
    path = urlsplit(url).path.rstrip("/")
    name = unquote(path.rsplit("/", 1)[-1]) if path else ""
    return (name.strip() or "file")[:200]


def record_links(conn: Connection, found: Sequence[tuple[Any, CaseUpdate]], now: datetime,
                 report: SyncReport) -> int:
    """Keep the links of ``found`` ((enquiry row, update) pairs) in ``conn``; how many were
    new. An address the bridge will not keep is reported once per run."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for enquiry, update in found:
        if enquiry.purged_at is not None:
            continue
        for url in update.attachments:
            if not usable_link(url):
                problem = ("a CRM file link was not kept: it is not an http(s) address of "
                           f"at most {MAX_URL} characters")
                if problem not in report.problems:
                    report.problems.append(problem)
                continue
            rows.setdefault((str(enquiry.id), url), {
                "enquiry_id": str(enquiry.id), "url": url, "name": link_name(url),
                "added_by": (update.actor or "crm")[:200], "added_at": update.occurred_at,
                "recorded_at": now, "crm_event_id": update.event_id[:200]})
    if not rows:
        return 0
    links = crm_attachment_links.c
    ids = sorted({enquiry_id for enquiry_id, _ in rows})
    held = {(r.enquiry_id, r.url) for r in conn.execute(
        select(links.enquiry_id, links.url).where(links.enquiry_id.in_(ids)))}
    new = [row for key, row in rows.items() if key not in held]
    if new:
        insert = insert_for(conn.dialect.name)
        conn.execute(insert(crm_attachment_links).on_conflict_do_nothing(), new)
    return len(new)
