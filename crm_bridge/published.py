"""The name under which a photo is published in a folder for a CRM to fetch by URL.

Shared by the connector that writes such files (``open311`` with ``media_folder``) and by
purge / `sar erase`, which must find them again once the photo's row is about to go. The
name is derived from the photo's outbox key and its sha256, so every try of one photo
writes the same file and no other photo's, and it says nothing about anyone: a hash, not
the member's file name, cut to 32 hex digits (128 bits: not to be guessed)."""

from __future__ import annotations

import hashlib

__all__ = ["EXTENSIONS", "published_name"]

EXTENSIONS = {"image/jpeg": ".jpg", "image/png": ".png"}
"""The types the portal stores (``crm_bridge.portal.photos``); anything else is ``.bin``."""


def published_name(key: str, sha256: str, content_type: str) -> str:
    digest = hashlib.sha256(f"{key}{sha256}".encode()).hexdigest()[:32]
    return digest + EXTENSIONS.get(content_type.split(";")[0].strip().lower(), ".bin")
