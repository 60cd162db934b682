"""An Open311 GeoReport v2 server double over real HTTP, JSON and XML, strict about its input.

Never shipped (it lives under tests/). Every call is checked against swagger.json's
parameters (``validate``) and refused with GeoReport's ``[{code, description}]`` (or
``<errors>``) when it breaks them; every answer is checked against the JSON Schemas
before it goes out. Service list, definition, the token answer to a POST and the token
look-up are the recorded answers of mySociety's open311-adapter fixtures (``recorded/``).

Knobs, for tests and the benchmark:
- ``tokens``: POST requests answers a token (as the recorded requestpost.xml); GET tokens
  answers without an id for the first ``token_pending`` look-ups, then with it.
- ``updates_extension``: mySociety's servicerequestupdates (GET and POST); off, those
  paths answer a plain 404 as a server without the extension does.
- ``lists_posted_updates``: updates clients post (notes, photos by ``media_url``) are
  listed back by GET servicerequestupdates, as a back office that logs them does (a
  Confirm behind open311-adapter, with its update text published); off, only officers'
  updates are listed. Either way a repeated update_id is kept again, not de-duplicated.
- ``updated_after``: GET requests takes an ``updated_after`` filter (not in GeoReport v2;
  some servers have it); off, it is refused as an unknown parameter.
- ``fail_next(route, kind)`` / ``fail_share``: ``refused`` (the connection is reset
  before anything is done), ``500``, ``429`` (with Retry-After), ``drop`` (a write is
  carried out, then the connection is closed with no answer; a read is just closed).
"""

from __future__ import annotations

import json
import random
import secrets
import socket
import struct
import threading
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from xml.sax.saxutils import escape

from .state import RECORDED, State
from .validate import EXTRA_POST_FIELDS, Invalid, Schemas, parse_time

__all__ = ["FAULTS", "Open311Double", "open311_double"]

PREFIX = "/open311/v2"
FAULTS = ("refused", "500", "429", "drop")
UPDATE_STATUSES = ("open", "closed", "fixed", "in_progress", "action_scheduled",
                   "investigating", "duplicate", "not_councils_responsibility",
                   "no_further_action", "internal_referral", "for_triage")
_WRITES = ("POST requests", "POST servicerequestupdates")
_ITEM_TAGS = {"services": "service", "service_requests": "request", "errors": "error",
              "service_requests_updates": "request_update", "attributes": "attribute",
              "values": "value"}


class _Abort(Exception):
    """Leave the request unanswered (the fault has been carried out)."""


class _Answer(Exception):
    def __init__(self, status: int, description: str) -> None:
        self.status = status
        self.description = description


class Open311Double:
    def __init__(self, *, api_key: str = "double-api-key", jurisdiction_id: str = "council",
                 tokens: bool = False, token_pending: int = 1, updates_extension: bool = True,
                 updated_after: bool = True, lists_posted_updates: bool = False,
                 fail_share: float = 0.0, seed: int = 11,
                 retry_after: str = "0") -> None:
        self.api_key = api_key
        self.jurisdiction_id = jurisdiction_id
        self.tokens = tokens
        self.token_pending = token_pending
        self.updates_extension = updates_extension
        self.updated_after = updated_after
        self.lists_posted_updates = lists_posted_updates
        self.fail_share = fail_share
        self.retry_after = retry_after
        self.state = State()
        self.schemas = Schemas()
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.seen: list[tuple[str, list[tuple[str, str]]]] = []  # route, every parameter
        self._plan: dict[str, list[str]] = defaultdict(list)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    # -- for tests ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}{PREFIX}"

    @property
    def problems(self) -> list[str]:
        """Answers of the double's own that broke the JSON Schemas (should stay empty)."""
        return self.schemas.problems

    def fail_next(self, route: str, kind: str) -> None:
        """The next call of ``route`` ("POST requests", "GET requests"…) gets ``kind``."""
        assert kind in FAULTS, kind
        with self._lock:
            self._plan[route].append(kind)

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    def _fault(self, route: str) -> str | None:
        with self._lock:
            if self._plan[route]:
                kind = self._plan[route].pop(0)
            elif self.fail_share and self._rng.random() < self.fail_share:
                kind = self._rng.choice(FAULTS)
            else:
                return None
            self.injected[kind] += 1
            return kind

    # -- the calls -----------------------------------------------------------------------------
    def serve(self, method: str, resource: str, params: list[tuple[str, str]]) -> tuple[str, Any]:
        """(root element, data) for a call, or ``_Answer`` with an error."""
        route = f"{method} {resource.split('/')[0]}"
        if route in ("GET servicerequestupdates", "POST servicerequestupdates"):
            return self._updates(method, params)
        self._jurisdiction(params)
        if route == "GET services" and "/" not in resource:
            self.schemas.query("/services.{response_format}", "get", params)
            self.schemas.answer("services.json", self.state.services)
            return "services", self.state.services
        if route == "GET services":
            self.schemas.query("/services/{service_code}.{response_format}", "get", params)
            code = resource.split("/", 1)[1]
            definition = self.state.definitions.get(code)
            if definition is None:
                raise _Answer(404, f"service_code {code} not found")
            self.schemas.answer("service-definition.json", definition)
            return "service_definition", definition
        if route == "POST requests":
            return self._create(params)
        if route == "GET requests":
            extra = ("api_key", "updated_after") if self.updated_after else ("api_key",)
            values = self.schemas.query("/requests.{response_format}", "get", params, extra)
            query = {k: v[-1] for k, v in values.items()}
            for name in ("start_date", "end_date", "updated_after"):
                if query.get(name):
                    parse_time(query[name])
            found = [r.public() for r in self.state.listed(query, query.get("updated_after"))]
            self.schemas.answer("requests.json", found)
            return "service_requests", found
        if route == "GET tokens":
            self.schemas.query("/tokens/{token_id}.{response_format}", "get", params)
            token = resource.split("/", 1)[1]
            found = self._token(token)
            if found is None:
                return "service_requests", [{"token": token}]
            return "recorded:token.xml", {"fill": {"ServiceID": found},
                                          "json": [{"service_request_id": found,
                                                    "token": token}]}
        raise _Answer(404, f"no such resource {resource}")

    def _jurisdiction(self, params: list[tuple[str, str]]) -> None:
        given = dict(params).get("jurisdiction_id")
        if given is not None and given != self.jurisdiction_id:
            raise _Answer(404, f"jurisdiction_id {given} not found")

    def _key(self, params: list[tuple[str, str]]) -> None:
        if dict(params).get("api_key") != self.api_key:
            raise _Answer(403, "Invalid api_key")

    def _create(self, params: list[tuple[str, str]]) -> tuple[str, Any]:
        values = self.schemas.query("/requests.{response_format}", "post", params,
                                    EXTRA_POST_FIELDS)
        self._key(params)
        code = values["service_code"][-1]
        service = self.state.service(code)
        if service is None:
            raise _Answer(400, f"Service code {code} not found")
        if not (values.get("address_string") or values.get("address_id")
                or (values.get("lat") and values.get("long"))):
            raise _Answer(400, "a location is required: lat and long, address_string or "
                               "address_id")
        if len(values.get("description", [""])[-1]) > 4000:
            raise _Answer(400, "description is longer than 4000 characters")
        if service["metadata"]:
            self.schemas.attributes(self.state.definitions[code], values)
        request = self.state.create(values)
        if self.tokens:
            token = secrets.token_hex(8)
            with self.state.lock:
                self.state.tokens[token] = request.id
            return "recorded:requestpost.xml", {"fill": {"TOKEN": token},
                                                "json": [{"token": token}]}
        return "service_requests", [{"service_request_id": request.id}]

    def _token(self, token: str) -> str | None:
        """The request's id, or None while the token is still pending."""
        with self.state.lock:
            request_id = self.state.tokens.get(token)
            if request_id is None:
                raise _Answer(404, f"token {token} not found")
            reads = self.state.token_reads[token] = self.state.token_reads.get(token, 0) + 1
        return None if reads <= self.token_pending else request_id

    def _updates(self, method: str, params: list[tuple[str, str]]) -> tuple[str, Any]:
        if not self.updates_extension:
            raise _Answer(404, "")
        self._jurisdiction(params)
        self._key(params)
        query = dict(params)
        if method == "GET":
            for name in ("start_date", "end_date"):
                if query.get(name):
                    parse_time(query[name])
            found = [u.public() for u in self.state.updates_since(query.get("start_date"),
                                                                  query.get("end_date"))]
            return "service_requests_updates", found
        for name in ("service_request_id", "update_id", "updated_datetime", "status",
                     "description"):
            if not query.get(name):
                raise Invalid(f"{name} is required")
        parse_time(query["updated_datetime"])
        if query["status"].lower() not in UPDATE_STATUSES:
            raise Invalid(f"status {query['status']} is not an update status")
        media = [value for name, value in params if name == "media_url"]
        for url in media:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
                raise Invalid(f"media_url '{url}' is not an http(s) URI")
        if query["service_request_id"] not in self.state.requests:
            raise _Answer(400, f"Service request {query['service_request_id']} not found")
        update_id = self.state.note(query["service_request_id"], query,
                                    listed=self.lists_posted_updates)
        return "service_request_updates", [{"update_id": update_id}]


def render(fmt: str, root: str, data: Any) -> bytes:
    if root.startswith("recorded:"):
        text = (RECORDED / root.split(":", 1)[1]).read_text(encoding="utf-8")
        if fmt == "xml":
            for name, value in data["fill"].items():
                text = text.replace(f">{name}<", f">{escape(value)}<")
            return text.encode()
        return json.dumps(data["json"]).encode()
    if fmt == "json":
        return json.dumps(data).encode()
    return b'<?xml version="1.0" encoding="utf-8"?>\n' + _xml(root, data).encode()


def _xml(tag: str, value: Any) -> str:
    if isinstance(value, list):
        item = _ITEM_TAGS.get(tag, "item")
        return f"<{tag}>{''.join(_xml(item, v) for v in value)}</{tag}>"
    if isinstance(value, dict):
        return f"<{tag}>{''.join(_xml(k, v) for k, v in value.items())}</{tag}>"
    if value is None:
        return f"<{tag} />"
    text = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return f"<{tag}>{escape(text)}</{tag}>"


def _handler(double: Open311Double) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, body: bytes, kind: str,
                  headers: dict[str, str] | None = None) -> None:
            try:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def _drop(self, reset: bool = False) -> None:
            self.close_connection = True
            try:
                if reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            raise _Abort

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            if not parts.path.startswith(PREFIX + "/") or "." not in parts.path:
                self._send(404, b"<html><body>Not Found</body></html>", "text/html")
                return
            resource, _, fmt = parts.path[len(PREFIX) + 1:].rpartition(".")
            if fmt not in ("json", "xml"):
                self._send(404, b"<html><body>Not Found</body></html>", "text/html")
                return
            params = parse_qsl(parts.query, keep_blank_values=True)
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                params += parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True)
            route = f"{self.command} {resource.split('/')[0]}"
            double.calls[route] += 1
            double.seen.append((route, params))
            fault = double._fault(route)
            if fault == "refused":
                self._drop(reset=True)
            if fault in ("500", "429"):
                headers = {"Retry-After": double.retry_after} if fault == "429" else {}
                self._error(fmt, int(fault), f"injected {fault}", headers)
                return
            if fault == "drop" and route not in _WRITES:
                self._drop()
            try:
                root, data = double.serve(self.command, resource, params)
            except Invalid as exc:
                self._error(fmt, 400, str(exc))
                return
            except _Answer as exc:
                if exc.status == 404 and not exc.description:
                    self._send(404, b"<html><body>Not Found</body></html>", "text/html")
                else:
                    self._error(fmt, exc.status, exc.description)
                return
            if fault == "drop":
                self._drop()
            kind = "application/json" if fmt == "json" else "text/xml; charset=utf-8"
            self._send(200, render(fmt, root, data), kind)

        def _error(self, fmt: str, status: int, description: str,
                   headers: dict[str, str] | None = None) -> None:
            errors = [{"code": status, "description": description}]
            kind = "application/json" if fmt == "json" else "text/xml; charset=utf-8"
            self._send(status, render(fmt, "errors", errors), kind, headers)

        def _any(self) -> None:
            with suppress(_Abort):
                self._serve()

        do_GET = do_POST = _any

    return Handler


@contextmanager
def open311_double(**options: Any) -> Iterator[Open311Double]:
    double = Open311Double(**options)
    try:
        yield double
    finally:
        double.close()
