"""A real HTTP server on loopback that answers with the failure under test.

For the failures a real CRM will not produce on demand (HTTP 500, 429 with
Retry-After, a garbled body, a hang), so every HTTP connector's translation of them
can be tested over a real socket rather than with a patched ``requests``: the same
idea as apprise's shared REST harness. The connection-refused case needs no server:
``closed_port()`` in the contract suite gives a port nobody listens on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["Fault", "FaultServer", "fault_server"]


@dataclass(frozen=True)
class Fault:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before answering: longer than the client's timeout = a hang


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]


class FaultServer:
    def __init__(self) -> None:
        self.fault = Fault(200, b"{}")
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                server.seen.append(Seen(self.command, self.path, dict(self.headers)))
                fault = server.fault
                time.sleep(fault.delay)
                try:
                    self.send_response(fault.status)
                    for name, value in {"Content-Type": "application/json",
                                        **fault.headers}.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(fault.body)))
                    self.send_header("Connection", "close")
                    self.end_headers()
                    self.wfile.write(fault.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting: that was the point

            do_GET = do_POST = do_PUT = do_DELETE = _answer

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def answer(self, fault: Fault) -> None:
        self.fault = fault

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


@contextmanager
def fault_server() -> Iterator[FaultServer]:
    server = FaultServer()
    try:
        yield server
    finally:
        server.close()
