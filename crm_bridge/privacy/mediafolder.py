"""Photos a connector published in ``connector.media_folder`` (``open311`` with media
settings: the back office fetches them by URL) are personal data held by the council's web
server, so they go with the enquiries they belong to. Each file's name is derived from its
photo's outbox key and sha256 (``crm_bridge.published``), so it is found again from the
photo's row, which must be read before the scrub deletes it."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy import Connection, select

from crm_bridge.config.loader import LoadedConfig
from crm_bridge.privacy.scrub import chunks
from crm_bridge.published import published_name
from crm_bridge.store.tables import attachments
from crm_bridge.sync.attachments import attachment_key

__all__ = ["media_folder", "published_files"]


def media_folder(loaded: LoadedConfig) -> Path | None:
    """The connector's ``media_folder``, when it publishes photos there."""
    setting = loaded.config.connector.options().get("media_folder")
    if not isinstance(setting, str) or not setting.strip():
        return None
    return loaded.resolve(setting.strip())


def published_files(conn: Connection, folder: Path, enquiry_ids: Sequence[str]) -> list[Path]:
    """The files in ``folder`` published for the photos of ``enquiry_ids`` (sent or not: a
    try whose answer never came may have written one)."""
    a = attachments.c
    found: list[Path] = []
    for chunk in chunks(list(enquiry_ids)):
        for row in conn.execute(select(a.id, a.enquiry_id, a.sha256, a.content_type)
                                .where(a.enquiry_id.in_(chunk)).order_by(a.id)):
            path = folder / published_name(attachment_key(row.enquiry_id, row.id),
                                           row.sha256, row.content_type)
            if path.is_file():
                found.append(path)
    return found
