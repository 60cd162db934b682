"""Photos attached to an enquiry: checked by their content (not the name or the browser's
claimed type), limited in size, and stored in the state store beside the enquiry so they
are backed up, purged and passed on with it (an outbox row per photo: the next sync after
the CRM case exists puts it on the case, where the connector can carry files).

Every photo is decoded and encoded again with Pillow before it is stored: what a phone
writes beside the pixels (EXIF with the GPS position of the constituent's home, the
camera's serial number, XMP, comments) is dropped, the EXIF orientation is applied to the
pixels first so the photo still shows the right way up, and a file that only starts like
a JPG or PNG is refused.
"""

from __future__ import annotations

import hashlib
import io
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from crm_bridge.store.tables import attachments
from crm_bridge.sync.attachments import queue_attachment

__all__ = ["Photo", "check_photo", "load_photo", "store_photo"]

MAX_PIXELS = 40_000_000  # a 40-megapixel phone photo; a bigger one is refused, not decoded
_FORMATS = {"image/jpeg": "JPEG", "image/png": "PNG"}
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
            clean = _without_metadata(data, content_type)
            if isinstance(clean, str):
                return clean
            return Photo(_safe_name(filename), content_type, clean)
    return "The photo must be a JPG or PNG"


def _without_metadata(data: bytes, content_type: str) -> bytes | str:
    """The picture alone, upright, as a new file of the same type; or what is wrong."""
    # Imported here: only a request carrying a photo pays for Pillow.
    from PIL import Image, ImageOps, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data), formats=[_FORMATS[content_type]]) as image:
            width, height = image.size
            if width * height > MAX_PIXELS:
                return f"The photo must be smaller than {MAX_PIXELS // 1_000_000} megapixels"
            image.load()
            upright = ImageOps.exif_transpose(image)
            icc = image.info.get("icc_profile")  # colours, not about anyone: kept
            upright.info = {}  # Pillow writes some of what it read (comments, XMP) back
            out = io.BytesIO()
            if content_type == "image/jpeg":
                upright.save(out, "JPEG", quality=90, exif=b"", icc_profile=icc)
            else:
                upright.save(out, "PNG", icc_profile=icc)
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return "The photo could not be read: choose a JPG or PNG photo"
    return out.getvalue()


def store_photo(conn: Connection, enquiry_id: str, photo: Photo, uploaded_by: str,
                now: datetime) -> int:
    """Store the photo and, in the same transaction, its outbox row for the CRM case (sent
    once the case exists, whenever the photo came); returns its id."""
    stored = conn.execute(insert(attachments).values(
        enquiry_id=enquiry_id, filename=photo.filename, content_type=photo.content_type,
        size=len(photo.data), sha256=hashlib.sha256(photo.data).hexdigest(), data=photo.data,
        uploaded_by=uploaded_by, created_at=now))
    attachment_id = int(stored.inserted_primary_key[0])  # type: ignore[index]
    queue_attachment(conn, enquiry_id, attachment_id, now)
    return attachment_id


def load_photo(conn: Connection, enquiry_id: str, photo_id: int) -> Photo | None:
    row = conn.execute(select(attachments.c.filename, attachments.c.content_type,
                              attachments.c.data)
                       .where(attachments.c.id == photo_id,
                              attachments.c.enquiry_id == enquiry_id)).first()
    return None if row is None else Photo(row.filename, row.content_type, bytes(row.data))
