"""A Dynamics 365 Web API-shaped OData service over real HTTP, for the ``rest`` connector.

    with odata_double(page_cap=2) as crm:      # crm.url (…/api/data/v9.2), crm.token_url
        ...                                     # crm.incidents, crm.take(id), crm.force("drop")

What it does as the Web API does (the parts the shipped ``mappings/rest-dynamics.yaml``
uses): the entity sets ``incidents`` and ``annotations``; ``POST`` answers ``204`` with an
``OData-EntityId`` header (``201`` and the entity with ``Prefer: return=representation``);
``$filter`` (``eq ne gt ge lt le`` joined by ``and``), ``$select``, ``$orderby``;
``Prefer: odata.maxpagesize`` pages with an ``@odata.nextLink`` carrying a keyset
``$skiptoken``; ``modifiedon`` to the second and a ``versionnumber`` that grows with every
write; OData errors as ``{"error": {"code", "message"}}``; an unknown attribute refused
with 400. Bearer tokens come from an OAuth2 client-credentials token endpoint
(``token_url``, Entra ID's form and errors) and are refused with an empty 401 once they
expire or are revoked (``revoke_tokens``).

Where the contract is silent the double picks on purpose what a client must not assume:
pages smaller than asked for (``page_cap``), the next link's query in another order.

Faults (``force(kind, …)`` for the next API calls, or a random ``rate``), the mix the other
doubles use: ``reset`` (connection reset unanswered), ``timeout`` (answer withheld past the
client's timeout; a write is carried out first), ``500``, ``429`` (with Retry-After),
``malformed`` (2xx whose body is not the JSON promised, after a write is carried out) and
``drop`` (a write carried out, then the connection closed before any answer).
"""

from __future__ import annotations

import base64
import json
import random
import re
import secrets
import socket
import struct
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

__all__ = ["FAULTS", "Incident", "ODataDouble", "odata_double"]

FAULTS = ("reset", "timeout", "500", "429", "malformed", "drop")
API = "/api/data/v9.2"
TENANT = "00000000-0000-0000-0000-00000000c0c0"
INCIDENT_FIELDS = {
    "title", "description", "crb_externalref", "crb_reference", "crb_ward", "crb_member",
    "crb_category", "crb_location", "crb_duedate", "crb_response", "prioritycode",
    "caseorigincode", "customerid_account@odata.bind", "customerid_contact@odata.bind",
}
NOT_FOUND = "0x80040217"


@dataclass
class Incident:
    incidentid: str
    fields: dict[str, Any]
    statecode: int = 0
    statuscode: int = 1  # In Progress: what a new case starts as
    createdon: str = ""
    modifiedon: str = ""
    versionnumber: int = 0
    modifiedby: str = ""
    notes: list[dict[str, Any]] = field(default_factory=list)

    def entity(self) -> dict[str, Any]:
        return {"@odata.etag": f'W/"{self.versionnumber}"', "incidentid": self.incidentid,
                **{k: v for k, v in self.fields.items() if "@" not in k},
                "crb_response": self.fields.get("crb_response"),
                "statecode": self.statecode, "statuscode": self.statuscode,
                "createdon": self.createdon, "modifiedon": self.modifiedon,
                "versionnumber": self.versionnumber, "_modifiedby_value": self.modifiedby}


class _Abort(Exception):
    """Leave the request unanswered (the fault has been carried out)."""


class ODataDouble:
    def __init__(self, *, page_cap: int = 5000, token_seconds: int = 3600, rate: float = 0.0,
                 seed: int = 1, hang_seconds: float = 1.0, retry_after: str = "1") -> None:
        self.client_id = "crm-bridge-app"
        self.client_secret = secrets.token_urlsafe(16)
        self.page_cap = page_cap
        self.token_seconds = token_seconds
        self.rate = rate
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after  # the 429's Retry-After
        self.rng = random.Random(seed)
        self.lock = threading.RLock()
        self.incidents: dict[str, Incident] = {}
        self.tokens: dict[str, float] = {}  # token → when it expires (monotonic)
        self.tokens_issued = 0
        self.refuse_tokens = False  # every token refused, however new
        self.expires_in: int | None = None  # what the token endpoint says, if not the truth
        self.refused = 0  # API calls answered 401
        self.calls: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        self.forced: list[str] = []
        self.officer_id = str(uuid.uuid4())
        self.app_user_id = str(uuid.uuid4())
        self._version = 1000
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.02,),
                                        daemon=True)
        self._thread.start()

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    @property
    def url(self) -> str:
        return f"{self.origin}{API}"

    @property
    def token_url(self) -> str:
        return f"{self.origin}/{TENANT}/oauth2/v2.0/token"

    @property
    def scope(self) -> str:
        return f"{self.origin}/.default"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # -- tokens ------------------------------------------------------------------------------
    def issue_token(self) -> str:
        with self.lock:
            token = secrets.token_urlsafe(24)
            self.tokens[token] = time.monotonic() + self.token_seconds
            self.tokens_issued += 1
            return token

    def revoke_tokens(self) -> None:
        """Every token issued so far is refused from now on (as after expiry)."""
        with self.lock:
            self.tokens.clear()

    def token_ok(self, header: str | None) -> bool:
        if self.refuse_tokens or not header or not header.startswith("Bearer "):
            return False
        with self.lock:
            expires = self.tokens.get(header.removeprefix("Bearer "))
        return expires is not None and time.monotonic() < expires

    # -- the service's state (and its officers' work) -----------------------------------------
    def _stamp(self, incident: Incident, who: str) -> None:
        self._version += 1
        incident.versionnumber = self._version
        incident.modifiedon = _now()
        incident.modifiedby = who

    def create(self, fields: dict[str, Any]) -> Incident:
        with self.lock:
            incident = Incident(str(uuid.uuid4()), dict(fields))
            incident.createdon = _now()
            self._stamp(incident, self.app_user_id)
            self.incidents[incident.incidentid] = incident
            return incident

    def _officer(self, incidentid: str, **changes: Any) -> None:
        with self.lock:
            incident = self.incidents[incidentid]
            for name, value in changes.items():
                if name in ("statecode", "statuscode"):
                    setattr(incident, name, value)
                else:
                    incident.fields[name] = value
            self._stamp(incident, self.officer_id)

    def take(self, incidentid: str) -> None:
        self._officer(incidentid, statuscode=4)  # Researching

    def reply(self, incidentid: str, text: str) -> None:
        self._officer(incidentid, crb_response=text)

    def resolve(self, incidentid: str) -> None:
        self._officer(incidentid, statecode=1, statuscode=5)  # Resolved: Problem Solved

    def cases_for(self, external_ref: str) -> list[str]:
        with self.lock:
            return [i.incidentid for i in self.incidents.values()
                    if i.fields.get("crb_externalref") == external_ref]

    # -- faults ------------------------------------------------------------------------------
    def force(self, *kinds: str) -> None:
        """The next API calls get these faults, in order ("ok": none)."""
        assert all(kind in (*FAULTS, "ok") for kind in kinds), kinds
        with self.lock:
            self.forced += kinds

    def roll(self) -> str | None:
        with self.lock:
            if self.forced:
                kind = self.forced.pop(0)
            elif self.rate > 0 and self.rng.random() < self.rate:
                kind = self.rng.choice(FAULTS)
            else:
                return None
            if kind == "ok":
                return None
            self.injected[kind] += 1
            return kind


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _error(code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


# -- $filter, $orderby, $select ------------------------------------------------------------

_CLAUSE = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s+(eq|ne|gt|ge|lt|le)\s+(.+?)\s*$")
_GUID = re.compile(r"^[0-9a-fA-F-]{36}$")


class _BadQuery(ValueError):
    pass


def _literal(text: str) -> Any:
    if text.startswith("'") and text.endswith("'") and len(text) >= 2:
        return text[1:-1].replace("''", "'")
    if text == "null":
        return None
    if re.match(r"^\d{4}-\d\d-\d\dT", text):
        try:
            return datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise _BadQuery(f"'{text}' is not a valid DateTimeOffset") from None
    if _GUID.match(text):
        return text.lower()
    try:
        return int(text)
    except ValueError:
        raise _BadQuery(f"Syntax error at '{text}' in $filter") from None


def _compare(value: Any, op: str, literal: Any) -> bool:
    if isinstance(literal, datetime):
        if not value:
            return False
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if op == "eq":
        return bool(value == literal)
    if op == "ne":
        return bool(value != literal)
    if value is None or literal is None:
        return False
    return {"gt": value > literal, "ge": value >= literal, "lt": value < literal,
            "le": value <= literal}[op]


def _filter(text: str | None) -> list[tuple[str, str, Any]]:
    if not text:
        return []
    clauses = []
    for part in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(part)
        if found is None:
            raise _BadQuery(f"Syntax error in $filter at '{part.strip()}'")
        clauses.append((found.group(1), found.group(2), _literal(found.group(3))))
    return clauses


def _sortable(value: Any) -> str:
    return f"{value:020d}" if isinstance(value, int) else str(value or "")


def _sort_key(row: dict[str, Any], order: list[tuple[str, bool]]) -> tuple[Any, ...]:
    return tuple(_sortable(row.get(name)) for name, _ in order)


# -- HTTP ----------------------------------------------------------------------------------


def _handler(crm: ODataDouble) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass

        def _send(self, status: int, data: Any = None, headers: dict[str, str] | None = None,
                  raw: bytes | None = None) -> None:
            body = raw if raw is not None else (b"" if data is None else json.dumps(data).encode())
            try:
                self.send_response(status)
                if body:
                    self.send_header("Content-Type",
                                     "application/json; odata.metadata=minimal")
                self.send_header("OData-Version", "4.0")
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
            except OSError:
                pass

        def _drop(self, reset: bool = False) -> None:
            self.close_connection = True
            with suppress(OSError):
                if reset:
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                               struct.pack("ii", 1, 0))
                self.connection.shutdown(socket.SHUT_RDWR)
            raise _Abort

        def _serve(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if parts.path.endswith("/oauth2/v2.0/token") and self.command == "POST":
                self._token(raw)
                return
            route = _route(self.command, parts.path)
            crm.calls[route] += 1
            fault = crm.roll()
            write = self.command in ("POST", "PATCH")
            if fault == "reset":
                self._drop(reset=True)
            if fault in ("500", "429"):
                self._send(int(fault), _error("0x80072321" if fault == "429" else "0x80040216",
                                              f"injected {fault}"),
                           {"Retry-After": crm.retry_after} if fault == "429" else None)
                return
            if fault in ("timeout", "drop") and not write:
                if fault == "timeout":
                    time.sleep(crm.hang_seconds)
                self._drop()
            if not crm.token_ok(self.headers.get("Authorization")):
                crm.refused += 1
                self._send(401, None, {"WWW-Authenticate": 'Bearer error="invalid_token", '
                                       f'authorization_uri="{crm.token_url}"'})
                return
            status, data, headers = _answer(crm, route, parts.path, query, raw, self.headers)
            if fault == "timeout":
                time.sleep(crm.hang_seconds)
                self._drop()
            if fault == "drop":
                self._drop()
            if fault == "malformed" and 200 <= status < 300:
                self._send(200, raw=crm.rng.choice(
                    [b"<html><body>Service Unavailable</body></html>", b'{"value": [{"inc',
                     b'{"value": [{"incidentid": null}]}']))
                return
            self._send(status, data, headers)

        def _token(self, raw: bytes) -> None:
            form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8", "replace")).items()}
            crm.calls["token"] += 1
            if form.get("grant_type") != "client_credentials":
                self._send(400, {"error": "unsupported_grant_type",
                                 "error_description": "AADSTS70003: The app requested an "
                                                      "unsupported grant type."})
                return
            if (form.get("client_id") != crm.client_id
                    or form.get("client_secret") != crm.client_secret):
                self._send(401, {"error": "invalid_client",
                                 "error_description": "AADSTS7000215: Invalid client secret "
                                                      "provided."})
                return
            if form.get("scope") not in (None, crm.scope):
                self._send(400, {"error": "invalid_scope",
                                 "error_description": "AADSTS70011: The provided value for "
                                                      "scope is not valid."})
                return
            told = crm.token_seconds if crm.expires_in is None else crm.expires_in
            self._send(200, {"token_type": "Bearer", "expires_in": told,
                             "ext_expires_in": crm.token_seconds,
                             "access_token": crm.issue_token()})

        def _any(self) -> None:
            with suppress(_Abort):
                self._serve()

        do_GET = do_POST = do_PATCH = do_DELETE = _any

    return Handler


_ONE = re.compile(rf"^{API}/(incidents|annotations)\(([^)]*)\)$")


def _route(method: str, path: str) -> str:
    if path == f"{API}/WhoAmI":
        return "whoami"
    one = _ONE.match(path)
    if one:
        return f"{method} {one.group(1)}(id)"
    if path.startswith(f"{API}/"):
        return f"{method} {path.removeprefix(API + '/')}"
    return "unknown"


def _answer(crm: ODataDouble, route: str, path: str, query: dict[str, str], raw: bytes,
            headers: Any) -> tuple[int, Any, dict[str, str]]:
    try:
        if route == "whoami":
            return 200, {"UserId": crm.app_user_id, "BusinessUnitId": str(uuid.UUID(int=1)),
                         "OrganizationId": str(uuid.UUID(int=2))}, {}
        if route == "GET incidents(id)":
            incident = crm.incidents.get(_ONE.match(path).group(2).lower())  # type: ignore[union-attr]
            if incident is None:
                return 404, _error(NOT_FOUND, f"incident With Id = {path[-37:-1]} Does Not "
                                              "Exist"), {}
            return 200, _select(incident.entity(), query), {}
        if route == "POST incidents":
            return _create_incident(crm, raw, headers)
        if route == "GET incidents":
            with crm.lock:
                rows = [i.entity() for i in crm.incidents.values()]
            return _collection(crm, "incidents", rows, query, headers)
        if route == "POST annotations":
            return _create_note(crm, raw)
        if route == "GET annotations":
            with crm.lock:
                rows = [dict(n) for i in crm.incidents.values() for n in i.notes]
            return _collection(crm, "annotations", rows, query, headers)
    except _BadQuery as exc:
        return 400, _error("0x80060888", str(exc)), {}
    return 404, _error("0x80060888", f"Resource not found for the segment '{path}'."), {}


def _body(raw: bytes) -> dict[str, Any]:
    try:
        data = json.loads(raw or b"{}")
    except ValueError:
        raise _BadQuery("The request body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _BadQuery("The request body must be a JSON object")
    return data


def _create_incident(crm: ODataDouble, raw: bytes,
                     headers: Any) -> tuple[int, Any, dict[str, str]]:
    data = _body(raw)
    unknown = sorted(set(data) - INCIDENT_FIELDS)
    if unknown:
        return 400, _error("0x80060888", f"The property '{unknown[0]}' does not exist on type "
                                         "'Microsoft.Dynamics.CRM.incident'. Make sure to only "
                                         "use property names that are defined by the type."), {}
    if not data.get("title"):
        return 400, _error("0x80040203", "title: a case must have a title"), {}
    incident = crm.create(data)
    location = {"OData-EntityId": f"{crm.url}/incidents({incident.incidentid})"}
    if "return=representation" in (headers.get("Prefer") or ""):
        return 201, incident.entity(), location
    return 204, None, location


def _create_note(crm: ODataDouble, raw: bytes) -> tuple[int, Any, dict[str, str]]:
    data = _body(raw)
    bind = str(data.get("objectid_incident@odata.bind", ""))
    found = re.match(r"^/incidents\(([^)]+)\)$", bind)
    if found is None:
        return 400, _error("0x80060888", "objectid_incident@odata.bind must be "
                                         "/incidents(<id>)"), {}
    with crm.lock:
        incident = crm.incidents.get(found.group(1).lower())
        if incident is None:
            return 404, _error(NOT_FOUND, f"incident With Id = {found.group(1)} Does Not "
                                          "Exist"), {}
        note = {"annotationid": str(uuid.uuid4()), "_objectid_value": incident.incidentid,
                "subject": data.get("subject"), "notetext": data.get("notetext"),
                "createdon": _now()}
        incident.notes.append(note)
    return 204, None, {"OData-EntityId": f"{crm.url}/annotations({note['annotationid']})"}


def _select(row: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    chosen = [name.strip() for name in query.get("$select", "").split(",") if name.strip()]
    if not chosen:
        return row
    return {k: v for k, v in row.items() if k in chosen or k.startswith("@")
            or k in ("incidentid", "annotationid")}


def _collection(crm: ODataDouble, name: str, rows: list[dict[str, Any]],
                query: dict[str, str], headers: Any) -> tuple[int, Any, dict[str, str]]:
    clauses = _filter(query.get("$filter"))
    rows = [row for row in rows if all(_compare(row.get(f), op, lit) for f, op, lit in clauses)]
    order = [(item.split()[0], item.strip().endswith(" desc"))
             for item in (query.get("$orderby") or "").split(",") if item.strip()]
    key_name = "incidentid" if name == "incidents" else "annotationid"
    order.append((key_name, False))
    for field_name, desc in reversed(order):
        rows.sort(key=lambda row, f=field_name: _sortable(row.get(f)), reverse=desc)
    if "$skiptoken" in query:
        after = json.loads(base64.urlsafe_b64decode(query["$skiptoken"]))
        rows = [row for row in rows if list(_sort_key(row, order)) > after]
    asked = re.search(r"odata\.maxpagesize=(\d+)", headers.get("Prefer") or "")
    size = min(int(asked.group(1)) if asked else 5000, crm.page_cap)
    if "$top" in query:
        size = min(size, int(query["$top"]))
        rows = rows[:size]
    page = rows[:size]
    body: dict[str, Any] = {"@odata.context": f"{crm.url}/$metadata#{name}",
                            "value": [_select(row, query) for row in page]}
    if len(rows) > size:
        token = base64.urlsafe_b64encode(json.dumps(list(_sort_key(page[-1], order)))
                                         .encode()).decode()
        rest = {k: v for k, v in query.items() if k != "$skiptoken"}
        # the server's own order of parameters, not the client's
        link = urlencode(sorted({**rest, "$skiptoken": token}.items(), reverse=True),
                         quote_via=quote, safe="$',")
        body["@odata.nextLink"] = f"{crm.url}/{name}?{link}"
    return 200, body, {"Preference-Applied": f"odata.maxpagesize={size}"} if asked else {}


@contextmanager
def odata_double(**options: Any) -> Iterator[ODataDouble]:
    crm = ODataDouble(**options)
    try:
        yield crm
    finally:
        crm.close()
