"""zeep's transport for FL, with the two guards the connector relies on (see the class)."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from zeep import Transport

__all__ = ["OffOrigin", "SafeTransport"]


class OffOrigin(Exception):
    """A document the WSDL refers to lies outside what the bridge may read."""


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    return parts.scheme, (parts.hostname or "").lower(), port


class SafeTransport(Transport):
    """zeep's transport, with two guards.

    ``load`` (the WSDL and what it imports) reads only from the FL server's own origin, or
    from files in the local WSDL copy's folder: a WSDL, even the server's, cannot make the
    bridge fetch from anywhere else. ``post``: an HTTP error that is not a SOAP reply
    (Tomcat's HTML page, an empty 401) is raised as such before zeep parses it: the status,
    not the page, says what happened, and a well-formed XHTML page with a DOCTYPE must not
    read as an XXE attempt."""

    def __init__(self, *, origin: str, folder: Path | None, **options: Any) -> None:
        super().__init__(**options)  # type: ignore[no-untyped-call]
        self.origin = _origin(origin)
        self.folder = folder

    def load(self, url: str) -> bytes:
        scheme = urlsplit(url).scheme
        if scheme in ("http", "https"):
            if _origin(url) != self.origin:
                raise OffOrigin(f"it refers to {url}, which is not on the FL server; the "
                                 "bridge reads the WSDL and its imports only from there")
        else:
            path = Path(url.removeprefix("file://")).resolve()
            if self.folder is None or not path.is_relative_to(self.folder):
                raise OffOrigin(f"it refers to the file {url}; the bridge reads only files "
                                 "in the local WSDL's own folder")
        content: bytes = super().load(url)  # type: ignore[no-untyped-call]
        return content

    def post(self, address: str, message: bytes | str, headers: dict[str, str]
             ) -> requests.Response:
        reply: requests.Response = super().post(  # type: ignore[no-untyped-call]
            address, message, headers)
        if reply.status_code >= 400 and "xml" not in reply.headers.get("Content-Type", ""):
            raise requests.HTTPError(f"HTTP {reply.status_code}", response=reply)
        return reply
