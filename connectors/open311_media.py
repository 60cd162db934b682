"""Photos on an Open311 request: GeoReport v2 carries a file only as a ``media_url``, an
address the back office fetches. With ``media_folder`` and ``media_url`` set, the
connector writes each photo into that folder (which the council's own web server
publishes) and posts a ``servicerequestupdates`` update pointing at it.

Only then does the connector have the ``SendsAttachments`` capability (``Open311Connector``
builds this class when ``media_folder`` is set); without them photos stay in the bridge.

A repeat (the same ``attachment.key``, after an answer that never came) writes the same
file name and posts the same ``update_id``. open311-adapter does not de-duplicate updates
on ``update_id`` (its Confirm backend logs each POST as a new entry), so when the file is
already there (an earlier try got at least that far) the connector first reads the
server's updates since the file was written and posts nothing if one on the request
already carries the photo's address (as its media_url or in its text).
"""

from __future__ import annotations

import logging
import os
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.base import ConnectorContext, OutgoingAttachment
from connectors.open311 import _WIRE_TIME, UPDATES, Open311Connector, _items, _text, _wire_time
from connectors.open311_settings import Open311Settings
from crm_bridge.errors import ConfigError, PermanentError, TransientError
from crm_bridge.published import published_name

__all__ = ["FILE_MODE", "PHOTO_HEADING", "Open311MediaConnector", "media_folder"]

log = logging.getLogger(__name__)

FILE_MODE = 0o640  # the web server's group reads it; nobody else
PHOTO_HEADING = "Photo from the member"
_CLOCK_MARGIN = timedelta(days=1)  # the server's clock may differ from the file's time


def media_folder(setting: str, base_dir: Path) -> Path:
    """``connector.media_folder``, relative to the config file's folder unless absolute."""
    folder = Path(setting).expanduser()
    return folder if folder.is_absolute() else base_dir / folder


class Open311MediaConnector(Open311Connector):
    """The ``open311`` connector with ``media_folder``: it can put photos on a request."""

    def __init__(self, settings: Open311Settings, context: ConnectorContext) -> None:
        super().__init__(settings, context)
        if settings.media_folder is None or settings.media_url is None:  # the settings forbid
            raise ConfigError("connector.media_folder and connector.media_url go together")
        self.media_folder = media_folder(settings.media_folder, context.base_dir)
        self.media_base = settings.media_url

    def add_attachment(self, case_ref: str, attachment: OutgoingAttachment) -> str | None:
        """Publish the photo, then ``POST servicerequestupdates`` with its address; returns
        the address. Safe to repeat with the same key."""
        request_id = self._request_id(case_ref)
        if self._updates_source() != UPDATES:
            raise PermanentError("this Open311 server takes no updates to a request (no "
                                 "servicerequestupdates), so a photo cannot be put on it: "
                                 "remove media_folder and media_url to keep photos in the "
                                 "bridge")
        name = published_name(attachment.key, attachment.sha256, attachment.content_type)
        url = f"{self.media_base}/{name}"
        written_at = self._publish(name, attachment.data)
        if written_at is not None and self._already_posted(request_id, url, written_at):
            log.info("open311 add_attachment to %s: already on the request", request_id)
            return url
        form = [("service_request_id", request_id), ("update_id", attachment.key),
                ("updated_datetime", datetime.now(UTC).strftime(_WIRE_TIME)),
                ("status", "open"),
                ("description", f"{PHOTO_HEADING} ({attachment.filename})\n\n"
                                f"{self.mapping.note_marker}"),
                ("media_url", url)]
        self.wire.call("POST", UPDATES, form=form, key=True)
        log.info("open311 add_attachment to %s", request_id)
        return url

    def _publish(self, name: str, data: bytes) -> datetime | None:
        """Write the file under ``name`` (a temporary file renamed into place, so the web
        server never serves half of it). None when written now; the time it was written
        when an earlier try had written it already."""
        target = self.media_folder / name
        try:
            if target.is_file():
                return datetime.fromtimestamp(target.stat().st_mtime, UTC)
            fd, temp = tempfile.mkstemp(dir=self.media_folder, prefix=".", suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out:
                    os.fchmod(out.fileno(), FILE_MODE)
                    out.write(data)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise TransientError(f"connector.media_folder: the photo could not be written "
                                 f"into {self.media_folder} ({exc.strerror or exc}); check "
                                 "the folder exists and the bridge may write to it "
                                 "(`crm-bridge connector check`)") from exc
        return None

    def _already_posted(self, request_id: str, url: str, since: datetime) -> bool:
        """Whether the server lists an update on the request carrying ``url``, since the
        file was written (less a margin for the server's clock)."""
        params = [("start_date", _wire_time(since - _CLOCK_MARGIN))]
        for item in _items(self.wire.call("GET", UPDATES, params, key=True)):
            if _text(item.get("service_request_id")) != request_id:
                continue
            if _text(item.get("media_url")) == url or url in (_text(item.get("description"))
                                                               or ""):
                return True
        return False
