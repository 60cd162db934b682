"""A mail transport that writes each message into a folder as an .eml file.

Chosen with ``smtp.transport: folder``: a council trying the bridge out (and the
demo) sees exactly what would be sent, in any mail reader, with no mail server.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from email.parser import BytesHeaderParser
from pathlib import Path

from crm_bridge.reminders.smtp import MailSetupError, Refused

__all__ = ["FolderMailer"]


class FolderMailer:
    """Writes ``<n>-<message-id>.eml``; a file is complete before it gets its name."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._written: int | None = None  # counted once per run, then kept

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> Refused:
        try:
            # Messages name members and quote enquiries: owner-only, whatever the umask.
            if not self.folder.is_dir():
                self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
                os.chmod(self.folder, 0o700)
            if self._written is None:
                self._written = sum(1 for name in os.listdir(self.folder)
                                    if name.endswith(".eml"))
            self._written += 1
            number = self._written
            # Only the headers are read: parsing the body (often multipart) would cost more
            # than writing the file.
            message_id = BytesHeaderParser().parsebytes(message).get("Message-ID", "")
            slug = re.sub(r"[^A-Za-z0-9.-]+", "-", message_id).strip("-")[:80] or "message"
            final = self.folder / f"{number:06d}-{slug}.eml"
            partial = final.with_suffix(".part")
            envelope = f"X-Envelope-From: {sender}\r\nX-Envelope-To: {', '.join(recipients)}\r\n"
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(envelope.encode("ascii") + message)
            os.replace(partial, final)
        except OSError as exc:
            raise MailSetupError(f"cannot write mail into {self.folder}: {exc.strerror}") from None
        return {}

    def close(self) -> None:
        """Nothing to close: each message is its own file."""
