"""A CRM stand-in over real HTTP, for the sync tests only: the JSON API ``mappings/rest.yaml``
describes, failing a chosen share of calls in every way a real CRM and network do.

    with crm_standin(faults=Faults(rate=0.3)) as crm:   # crm.url, crm.token
        ...                                               # run sync against it
        crm.injected                                      # Counter: what it did to whom

Faults (``Faults.kinds``), each counted in ``injected`` when fired:

    refused    the call is reset, and the server stops listening for ``outage_seconds``:
               the kernel refuses every connection in that window (the stand-in cannot
               count those; ``injected["refused"]`` counts the outages)
    timeout    the call hangs past the client's timeout and is closed unanswered; a write
               is carried out first or not at all (both happen)
    500, 429   answered at once, nothing done; 429 carries ``Retry-After``
    malformed  2xx with a body that is not the JSON promised; a write is carried out first
    drop       a write is carried out, then the connection is closed before any answer
               (the create-accepted-then-lost case); a read is dropped unanswered

Cases are never de-duplicated by content: a second create for one external reference opens
a second case, so a test can see the bridge make one. A create or note sent with an
``Idempotency-Key`` header (``idempotency_header``; None ignores it, as a CRM without keys
does) is carried out once per key: a repeat answers the first result (the same case or note
id), or 409 while the first is still being carried out; only a success is remembered, so a
refused request may be tried again. ``hold(route)`` makes the next write on that route wait,
received but not committed, until the test releases it: the window in which a client times
out or is killed while the CRM is still writing. Every change is an event with a unique id;
``Officers`` works the cases over time (new → open → resolved with a reply → closed), and
stamps some changes a little in the past, as a late commit or a skewed clock would.
State lives in this process, so it outlives the sync processes a test kills.
"""

from __future__ import annotations

import json
import random
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

from support.crm_keys import Hold, KeyedWrites

__all__ = ["KINDS", "Case", "CrmStandin", "Event", "Faults", "Hold", "Officers",
           "crm_standin"]

KINDS = ("refused", "timeout", "500", "429", "malformed", "drop")
REJECT_MARK = "[reject]"
"""A case whose title holds this is refused with 422 (a permanent rejection)."""


@dataclass
class Faults:
    rate: float = 0.0
    kinds: tuple[str, ...] = KINDS
    hang_seconds: float = 1.0  # longer than the client's read timeout
    outage_seconds: float = 0.15
    retry_after: str = "1"
    seed: int = 1


@dataclass
class Case:
    id: str
    external_ref: str
    queue: str
    title: str
    body: dict[str, Any]
    status: str = "new"
    response: str | None = None
    notes: list[dict[str, Any]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "external_ref": self.external_ref, "queue": self.queue,
                "title": self.title, "status": self.status, "response": self.response}


@dataclass(frozen=True)
class Event:
    seq: int
    id: str
    case_id: str
    external_ref: str
    at: datetime
    status: str | None
    response: str | None
    actor: str

    def public(self) -> dict[str, Any]:
        return {"event_id": self.id, "case_id": self.case_id, "external_ref": self.external_ref,
                "at": self.at.isoformat().replace("+00:00", "Z"), "status": self.status,
                "response": self.response, "actor": self.actor}


class _Abort(Exception):
    """Leave the request unanswered (the fault has been carried out)."""


class CrmStandin(KeyedWrites):
    def __init__(self, faults: Faults | None = None, token: str = "standin-token") -> None:
        self.faults = faults or Faults()
        self.token = token
        super().__init__()  # self.lock, the key store and the held writes
        self.rng = random.Random(self.faults.seed)
        self.cases: dict[str, Case] = {}
        self.events: list[Event] = []
        self.injected: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()
        self.forced: list[tuple[str, bool]] = []
        self.reject: str | None = REJECT_MARK  # None: refuse nothing
        self._seq = 0
        self._down = threading.Lock()
        self._port = 0
        self._httpd: ThreadingHTTPServer | None = None
        self._start()

    # -- serving, and going away for a moment ------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def _start(self) -> None:
        handler = _handler(self)
        httpd = ThreadingHTTPServer(("127.0.0.1", self._port), handler)
        httpd.daemon_threads = True
        self._port = int(httpd.server_address[1])
        self._httpd = httpd
        threading.Thread(target=httpd.serve_forever, args=(0.02,), daemon=True).start()

    def _stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self._httpd = None

    def outage(self, seconds: float) -> None:
        """Stop listening for ``seconds`` (connections are refused), then listen again."""
        if not self._down.acquire(blocking=False):
            return

        def cycle() -> None:
            try:
                self._stop()
                time.sleep(seconds)
                self._start()
            finally:
                self._down.release()

        threading.Thread(target=cycle, daemon=True).start()

    def close(self) -> None:
        with self._down:
            self._stop()

    # -- the CRM's state ---------------------------------------------------------------------
    def _event(self, case: Case, actor: str, at: datetime | None = None,
               response: str | None = None) -> Event:
        self._seq += 1
        event = Event(self._seq, f"ev-{self._seq}", case.id, case.external_ref,
                      at or datetime.now(UTC), case.status, response, actor)
        self.events.append(event)
        return event

    def create(self, body: dict[str, Any]) -> Case:
        with self.lock:
            case = Case(f"C{len(self.cases) + 1:06d}", str(body["external_ref"]),
                        str(body.get("queue", "")), str(body.get("title", "")), body)
            self.cases[case.id] = case
            self._event(case, "crm")
            return case

    def change(self, case_id: str, status: str, actor: str, response: str | None = None,
               at: datetime | None = None) -> Event:
        """An officer's change; ``at`` may lie in the past (a late commit)."""
        with self.lock:
            case = self.cases[case_id]
            case.status = status
            if response is not None:
                case.response = response
            return self._event(case, actor, at, response)

    def cases_for(self, external_ref: str) -> list[Case]:
        with self.lock:
            return [c for c in self.cases.values() if c.external_ref == external_ref]

    def updates(self, since: datetime | None, after: tuple[datetime, int] | None,
                limit: int) -> tuple[list[Event], str | None]:
        with self.lock:
            chosen = sorted((e for e in self.events if since is None or e.at >= since),
                            key=lambda e: (e.at, e.seq))
        if after is not None:
            chosen = [e for e in chosen if (e.at, e.seq) > after]
        page = chosen[:limit]
        return page, f"{page[-1].at.isoformat()}|{page[-1].seq}" if len(chosen) > limit else None

    # -- faults ---------------------------------------------------------------------------
    def force(self, *kinds: str, write_first: bool = True) -> None:
        """The next calls get these faults, in order, whatever the rate ("ok": none)."""
        with self.lock:
            self.forced += [(kind, write_first) for kind in kinds]

    def roll(self) -> tuple[str | None, bool]:
        """The fault this call gets, if any (counted), and for a timeout whether the write
        is carried out before the hang (True) or not at all."""
        with self.lock:
            if self.forced:
                kind, write_first = self.forced.pop(0)
                if kind == "ok":
                    return None, False
                self.injected[kind] += 1
                return kind, write_first
            if self.faults.rate <= 0 or self.rng.random() >= self.faults.rate:
                return None, False
            kind = self.rng.choice(self.faults.kinds)
            self.injected[kind] += 1
            return kind, self.rng.random() < 0.5


def _handler(crm: CrmStandin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, data: Any, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> None:
            body = raw if raw is not None else json.dumps(data).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass  # the client gave up: that may have been the point

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

        def _hang(self) -> None:
            time.sleep(crm.faults.hang_seconds)
            self._drop()

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            route = _route(self.command, parts.path)
            crm.calls[route] += 1
            fault, write_first = crm.roll()
            write = route in ("create", "add_note")
            if fault == "refused":
                crm.outage(crm.faults.outage_seconds)
                self._drop(reset=True)
            if fault in ("500", "429"):
                headers = {"Retry-After": crm.faults.retry_after} if fault == "429" else {}
                self._send(int(fault), {"message": f"injected {fault}"}, headers)
                return
            if fault == "timeout" and not (write and write_first):
                self._hang()
            if fault == "drop" and not write:
                self._drop()
            if self.headers.get("Authorization") != f"Bearer {crm.token}":
                self._send(401, {"message": "invalid or missing token"})
                return
            status, data = self._write(route, parts.path, query, raw) if write else \
                _answer(crm, route, parts.path, query, raw)
            if fault == "timeout":
                self._hang()
            if fault == "drop":
                self._drop()
            if fault == "malformed" and 200 <= status < 300:
                self._send(status, None, raw=crm.rng.choice(
                    [b"<html><body>Bad gateway</body></html>", b'{"id": "C0', b'{"ok": true}',
                     b'{"items": [{"event_id": null}]}']))
                return
            self._send(status, data)

        def _write(self, route: str, path: str, query: dict[str, str],
                   raw: bytes) -> tuple[int, Any]:
            """A create or note: once per idempotency key, and held if the test says so."""
            key = self.headers.get(crm.idempotency_header) if crm.idempotency_header else None
            first = crm.begin(f"{route} {key}") if key else None
            if first == "busy":
                return 409, {"message": "a request with this key is still being carried out"}
            if isinstance(first, tuple):
                return first
            status, data = 500, None
            try:
                held = crm.take_hold(route)
                if held is not None:
                    held.wait()
                status, data = _answer(crm, route, path, query, raw)
                if held is not None:
                    held.committed.set()
                return status, data
            finally:
                if key:
                    crm.finish(f"{route} {key}", status, data)

        def _any(self) -> None:
            with suppress(_Abort):
                self._serve()

        do_GET = do_POST = do_PUT = do_PATCH = _any

    return Handler


def _route(method: str, path: str) -> str:
    parts = [p if n != 1 else "*" for n, p in enumerate(p for p in path.split("/") if p)]
    return {("POST", "cases"): "create", ("GET", "cases"): "find", ("GET", "cases/*"): "get",
            ("POST", "cases/*/notes"): "add_note", ("GET", "cases/*/notes"): "notes",
            ("GET", "updates"): "updates", ("GET", "health"): "health",
            }.get((method, "/".join(parts)), "unknown")


def _answer(crm: CrmStandin, route: str, path: str, query: dict[str, str],
            raw: bytes) -> tuple[int, Any]:
    case_id = path.split("/")[2] if route in ("get", "add_note", "notes") else ""
    if case_id and case_id not in crm.cases:
        return 404, {"message": f"no case {case_id}"}
    if route == "create":
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            return 400, {"message": "the body is not JSON"}
        if not isinstance(body, dict) or not body.get("external_ref") or not body.get("title"):
            return 422, {"message": "external_ref and title are required"}
        if crm.reject and (crm.reject in str(body.get("title"))
                           or crm.reject in str(body.get("description"))):
            return 422, {"message": f"queue '{body.get('queue')}' is closed to new cases"}
        return 201, crm.create(body).public()
    if route == "find":
        return 200, {"items": [c.public() for c in crm.cases_for(query.get("external_ref", ""))]}
    if route == "get":
        return 200, crm.cases[case_id].public()
    if route == "add_note":
        note = json.loads(raw or b"{}")
        with crm.lock:
            crm.cases[case_id].notes.append(note)
        return 201, {"id": f"N{len(crm.cases[case_id].notes)}"}
    if route == "notes":
        return 200, {"items": list(crm.cases[case_id].notes)}
    if route == "updates":
        since = _time(query.get("since"))
        after = query.get("after")
        cut = (_time(after.split("|")[0]), int(after.split("|")[1])) if after else None
        page, token = crm.updates(since, cut,  # type: ignore[arg-type]
                                  min(500, int(query.get("limit", "100"))))
        return 200, {"items": [e.public() for e in page], "next": token}
    if route == "health":
        return 200, {"ok": True}
    return 404, {"message": f"no such endpoint {path}"}


def _time(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text.replace("Z", "+00:00")) if text else None


class Officers:
    """Service officers working the stand-in's cases in a thread: every ``interval`` a few
    cases move on one step; ``late_share`` of changes are stamped up to ``late_seconds`` in
    the past; ``idle_share`` of cases are never touched. ``stop()`` ends it; every change it
    made is an event in ``crm.events``."""

    FLOW: ClassVar[dict[str, str]] = {"new": "open", "open": "resolved", "resolved": "closed"}

    def __init__(self, crm: CrmStandin, interval: float = 0.05, per_tick: int = 5,
                 late_share: float = 0.2, late_seconds: float = 30, idle_share: float = 0.0,
                 seed: int = 7) -> None:
        self.crm, self.interval, self.per_tick = crm, interval, per_tick
        self.late_share, self.late_seconds = late_share, late_seconds
        self.idle_share = idle_share  # cases nobody ever works (they get chased)
        self._idle: dict[str, bool] = {}
        self.rng = random.Random(seed)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            with self.crm.lock:
                open_cases = [c.id for c in self.crm.cases.values() if c.status in self.FLOW
                              and not self._idle.setdefault(
                                  c.id, self.rng.random() < self.idle_share)]
            for case_id in self.rng.sample(open_cases, min(self.per_tick, len(open_cases))):
                self.tick(case_id)

    def tick(self, case_id: str) -> None:
        case = self.crm.cases[case_id]
        step = self.FLOW[case.status]
        at = None
        if self.rng.random() < self.late_share:  # late, though after the case's last change
            at = datetime.now(UTC) - timedelta(seconds=self.rng.uniform(0, self.late_seconds))
            with self.crm.lock:
                before = max(e.at for e in self.crm.events if e.case_id == case_id)
            at = max(at, before + timedelta(microseconds=1))
        reply = f"Done: {case.title} dealt with." if step == "resolved" else None
        self.crm.change(case_id, step, f"officer{self.rng.randrange(5)}", reply, at)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


@contextmanager
def crm_standin(faults: Faults | None = None) -> Iterator[CrmStandin]:
    crm = CrmStandin(faults)
    try:
        yield crm
    finally:
        crm.close()
