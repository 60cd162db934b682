"""Mail written to ``smtp.folder`` (``smtp.transport: folder``) is a copy of what the bridge
sent, so it goes with the enquiries it names: a file naming a purged enquiry's reference
(in its X-CRM-Bridge-Reference header or its text, as a digest does) is deleted."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from email import message_from_bytes, policy
from pathlib import Path

__all__ = ["REFERENCE", "files_naming"]

REFERENCE = re.compile(r"\b[A-Z]{2,6}-\d{4}-\d{6}\b")


def _text(path: Path) -> str:
    """The message's headers and decoded text parts."""
    raw = path.read_bytes()
    message = message_from_bytes(raw, policy=policy.default)
    parts = [str(message.get("Subject", "")), str(message.get("X-CRM-Bridge-Reference", ""))]
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            if isinstance(payload, bytes):
                parts.append(payload.decode(part.get_content_charset() or "utf-8", "replace"))
    return "\n".join(parts)


def files_naming(folder: Path, purged: Callable[[Iterable[str]], set[str]]) -> list[Path]:
    """The .eml files in ``folder`` that name a reference ``purged`` says is purged."""
    if not folder.is_dir():
        return []
    found: list[tuple[Path, set[str]]] = []
    for path in sorted(folder.glob("*.eml")):
        try:
            refs = set(REFERENCE.findall(_text(path)))
        except OSError:
            continue
        if refs:
            found.append((path, refs))
    gone = purged({ref for _, refs in found for ref in refs})
    return [path for path, refs in found if refs & gone]
