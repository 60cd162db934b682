"""Photos attached to an enquiry: checked by their content (not the name or the browser's
claimed type), limited in size, and stored in the state store beside the enquiry so they
are backed up, purged and passed on with it.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from crm_bridge.store.tables import attachments

__all__ = ["Photo", "check_photo", "load_photo", "store_photo"]

_SIGNATURES = (
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
)


@dataclass(frozen=True)
class Photo:
    filename: str
    content_type: str
    data: bytes


def _safe_name(name: str) -> str:
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = re.sub(r"[^A-Za-z0-9._ -]+", "_", base).strip(" .") or "photo"
    return cleaned[:120]


def check_photo(filename: str, data: bytes, max_bytes: int) -> Photo | str:
    """The photo, or what is wrong with it in words for the error message."""
    if not data:
        return "The selected file is empty"
    if len(data) > max_bytes:
        return f"The photo must be smaller than {max_bytes // (1024 * 1024)}MB"
    for signature, content_type in _SIGNATURES:
        if data.startswith(signature):
            return Photo(_safe_name(filename), content_type, data)
    return "The photo must be a JPG or PNG"


def store_photo(conn: Connection, enquiry_id: str, photo: Photo, uploaded_by: str,
                now: datetime) -> None:
    conn.execute(insert(attachments).values(
        enquiry_id=enquiry_id, filename=photo.filename, content_type=photo.content_type,
        size=len(photo.data), sha256=hashlib.sha256(photo.data).hexdigest(), data=photo.data,
        uploaded_by=uploaded_by, created_at=now))


def load_photo(conn: Connection, enquiry_id: str, photo_id: int) -> Photo | None:
    row = conn.execute(select(attachments.c.filename, attachments.c.content_type,
                              attachments.c.data)
                       .where(attachments.c.id == photo_id,
                              attachments.c.enquiry_id == enquiry_id)).first()
    return None if row is None else Photo(row.filename, row.content_type, bytes(row.data))
