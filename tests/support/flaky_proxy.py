"""A forwarding HTTP proxy on loopback that fails a fixed share of the calls passing through
it, as a council's overloaded reverse proxy or load balancer does: some calls never reach
the CRM (a 502 from the proxy, or the connection dropped), and some reach it, are done, and
lose their answer on the way back (a 502 after the work: the case the idempotent create is
for). Which calls fail is set by a repeating pattern, not by chance, so a run is the same
every time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

__all__ = ["FlakyProxy", "flaky_proxy"]

# Ten calls in a row: three fail, one of each kind (30%).
PATTERN = ("ok", "refused", "ok", "ok", "bad_gateway", "ok", "ok", "lost_answer", "ok", "ok")
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length",
                  "content-encoding", "host"})


@dataclass
class Tally:
    calls: int = 0
    failed: dict[str, int] = field(default_factory=dict)


class FlakyProxy:
    def __init__(self, upstream: str) -> None:
        self.upstream = upstream.rstrip("/")
        self.failing = False
        self.tally = Tally()
        self._lock = threading.Lock()
        proxy = self
        session = requests.Session()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                kind = proxy._next()
                if kind == "refused":
                    self.close_connection = True
                    return  # no answer at all: the client sees the connection dropped
                if kind == "bad_gateway":
                    self._send(502, b"<html><body>502 Bad Gateway</body></html>",
                               "text/html")
                    return
                headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                answer = session.request(self.command, proxy.upstream + self.path,
                                         data=body, headers=headers, timeout=60,
                                         allow_redirects=False)
                if kind == "lost_answer":  # the CRM did the work; its answer is lost
                    self._send(502, b"<html><body>502 Bad Gateway</body></html>",
                               "text/html")
                    return
                self._send(answer.status_code, answer.content,
                           answer.headers.get("Content-Type", "application/octet-stream"),
                           {k: v for k, v in answer.headers.items()
                            if k.lower() not in _HOP | {"content-type"}})

            def _send(self, status: int, body: bytes, content_type: str,
                      extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    def _next(self) -> str:
        with self._lock:
            if not self.failing:
                return "ok"
            kind = PATTERN[self.tally.calls % len(PATTERN)]
            self.tally.calls += 1
            if kind != "ok":
                self.tally.failed[kind] = self.tally.failed.get(kind, 0) + 1
            return kind

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)


@contextmanager
def flaky_proxy(upstream: str) -> Iterator[FlakyProxy]:
    proxy = FlakyProxy(upstream)
    try:
        yield proxy
    finally:
        proxy.close()
