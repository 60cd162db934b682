"""The FL service double over real HTTP: WSDL + XSD, strict envelope validation, auth, faults.

Separate from production code on purpose (it lives under tests/): it plays a strict
Lagan/Verint FL server as CONTRACT.md describes one. Every request envelope is parsed
safely and its Body's only child validated against FLTypes.xsd with lxml XMLSchema, so
an unqualified ``CaseReference``, a wrong order or a missing required element is a Fault.

Knobs, for tests and the benchmark:
- ``auth``: "token" (FLAuth ``authenticate`` → BinarySecurityToken in the response header),
  "username_token" (WS-Security UsernameToken on every call) or "basic" (HTTP Basic, the
  ``?wsdl`` fetch included); ``expire_tokens()`` ends every token issued so far.
- ``token_refusal``: how an unknown or expired token is answered: an FWTException fault
  ("fault") or, as a servlet filter in front of FL would, a Tomcat HTML 401 page ("http_401").
- ``fail_next(element, Failure(...))``: the next request whose Body holds ``element`` gets
  an FWTException fault, an HTML error page, a delay, a reply carrying a DOCTYPE/XXE, or is
  committed and then has its connection dropped with no reply.
- ``fail_share``: that share of FL calls answers an HTML 503 page before doing anything.
- ``default_due_days``: a case created without DueDate gets one from "FL" (``due_date:
  read_back``); ``store.reopen()`` reopens a closed case, with or without its Closed date.
- ``fail_share_fault``: that share of FL calls answers the personality's "database
  unavailable" FWTException instead.

Two personalities, differing only where CONTRACT.md is silent, so the connector can assume
neither: ``stock`` (binding ``FLSoapBinding``, the XSD inlined in ``?wsdl``, LastModifiedDate
in case details, no search cap, ErrorCodes 10/30/1001/1002) and ``site`` (binding
``FLWebBinding``, a WSDL that imports its XSD by URL from the same server, no
LastModifiedDate, searches capped at 500 cases, ErrorCodes 2010/9999/4004/4005).
"""

from __future__ import annotations

import base64
import copy
import random
import secrets
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Literal

from lxml import etree

from .crm import FLT, SITE_CODES, STOCK_CODES, FLFault, FlStore

__all__ = ["Failure", "LaganDouble", "lagan_double"]

HERE = Path(__file__).resolve().parent
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = ("http://docs.oasis-open.org/wss/2004/01/"
        "oasis-200401-wss-wssecurity-secext-1.0.xsd")
FL_PATH = "/lagan/services/FL"
AUTH_PATH = "/lagan/services/FLAuth"
MOVED_PATH = "/lagan/services/FLmoved"  # answers with a redirect to another server

AuthStyle = Literal["token", "username_token", "basic"]
Personality = Literal["stock", "site"]

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                          huge_tree=False)
_HTML = ("<!DOCTYPE html><html><head><title>{status} {title}</title></head><body>"
         "<h1>HTTP Status {status} - {title}</h1><hr><h3>Apache Tomcat/9.0</h3></body></html>")
_XXE = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
        b'<soapenv:Envelope xmlns:soapenv="' + SOAP.encode() + b'"><soapenv:Body>'
        b'<flt:CaseReference xmlns:flt="' + FLT.encode() + b'">&xxe;</flt:CaseReference>'
        b'</soapenv:Body></soapenv:Envelope>')


@dataclass(frozen=True)
class Failure:
    kind: Literal["fault", "html", "drop_after_commit", "delay", "xxe"]
    code: int = 0          # fault: ErrorCode; html: HTTP status
    message: str = ""
    seconds: float = 0.0   # delay


def wsdl_text(address: str, personality: Personality = "stock",
              schema_location: str | None = None) -> str:
    """FL.wsdl as each personality answers ``?wsdl``: ``stock`` with FLTypes.xsd inlined in
    its types; ``site`` importing it by ``schema_location`` (default: the XSD's URL on the
    same server, ``?xsd=FLTypes.xsd``) and with another binding name."""
    text = (HERE / "FL.wsdl").read_text(encoding="utf-8").replace("SERVICE_ADDRESS", address)
    if personality == "site":
        location = schema_location or f"{address}?xsd=FLTypes.xsd"
        return (text.replace('schemaLocation="FLTypes.xsd"', f'schemaLocation="{location}"')
                .replace("FLSoapBinding", "FLWebBinding"))
    xsd = (HERE / "FLTypes.xsd").read_text(encoding="utf-8").split("?>", 1)[1]
    start = text.index('<xs:schema targetNamespace="http://www.lagan.com/wsdl/FLService">')
    end = text.index("</xs:schema>", start) + len("</xs:schema>")
    return text[:start] + xsd.strip() + text[end:]


class LaganDouble:
    def __init__(self, auth: AuthStyle = "token", username: str = "crm-bridge",
                 password: str = "s3cret-pass", classifications: dict[int, str] | None = None,
                 fail_share: float = 0.0, seed: int = 9,
                 token_refusal: Literal["fault", "http_401"] = "fault",
                 default_due_days: int | None = None, personality: Personality = "stock",
                 fail_share_fault: float = 0.0, modified_filter: bool = True,
                 raise_as: str | None = None, search_cap: int | None = None,
                 port: int = 0) -> None:
        self.personality = personality
        site = personality == "site"
        self.codes = SITE_CODES if site else STOCK_CODES
        self.fail_share_fault = fail_share_fault
        self.auth = auth
        self.token_refusal = token_refusal
        self.authentications = 0
        self.username = username
        self.password = password
        self.store = FlStore(classifications, default_due_days, codes=self.codes,
                             search_cap=search_cap or (500 if site else None),
                             report_modified=not site, modified_filter=modified_filter,
                             raise_as=raise_as)
        self.fail_share = fail_share
        self.calls: Counter[str] = Counter()
        self.wsdl_fetches = 0
        self._plan: dict[str, list[Failure]] = defaultdict(list)
        self._tokens: set[str] = set()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.schema = etree.XMLSchema(etree.parse(str(HERE / "FLTypes.xsd"), _PARSER))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,),
                                        daemon=True)
        self._thread.start()

    # -- for tests ---------------------------------------------------------------------------
    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def url(self) -> str:
        return self.base + FL_PATH

    def fail_next(self, element: str, failure: Failure) -> None:
        with self._lock:
            self._plan[element].append(failure)

    def expire_tokens(self) -> None:
        with self._lock:
            self._tokens.clear()

    def write_local_wsdl(self, folder: Path) -> Path:
        """A local copy of the WSDL (and, for ``site``, the XSD beside it, imported by a
        relative name), as a council would keep beside its config."""
        path = folder / "FL.wsdl"
        path.write_text(wsdl_text(self.url, self.personality, "FLTypes.xsd"), encoding="utf-8")
        if self.personality == "site":
            (folder / "FLTypes.xsd").write_bytes((HERE / "FLTypes.xsd").read_bytes())
        return path

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=10)

    # -- the protocol ------------------------------------------------------------------------
    def _take_failure(self, element: str) -> Failure | None:
        with self._lock:
            if self._plan[element]:
                return self._plan[element].pop(0)
            if self.fail_share and self._rng.random() < self.fail_share:
                return Failure("html", 503)
            if self.fail_share_fault and self._rng.random() < self.fail_share_fault:
                return Failure("fault", self.codes.busy, "Database unavailable")
        return None

    def _basic_ok(self, header: str | None) -> bool:
        expected = base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return header == f"Basic {expected}"

    def _username_token_ok(self, envelope: etree._Element) -> bool:
        ns = {"s": SOAP, "w": WSSE}
        user = envelope.findtext("s:Header/w:Security/w:UsernameToken/w:Username", namespaces=ns)
        password = envelope.findtext("s:Header/w:Security/w:UsernameToken/w:Password",
                                     namespaces=ns)
        return user == self.username and password == self.password

    def _token_ok(self, envelope: etree._Element) -> bool:
        token = envelope.findtext("s:Header/w:Security/w:BinarySecurityToken",
                                  namespaces={"s": SOAP, "w": WSSE})
        with self._lock:
            return token is not None and token in self._tokens

    def _issue_token(self) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._tokens.add(token)
            self.authentications += 1
        return token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        double = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body are two writes

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str = "text/xml; charset=utf-8",
                      extra: dict[str, str] | None = None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                for name, value in (extra or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(body)

            def _html(self, status: int, title: str) -> None:
                extra = {"WWW-Authenticate": 'Basic realm="lagan"'} if status == 401 else None
                self._send(status, _HTML.format(status=status, title=title).encode(),
                           "text/html;charset=utf-8", extra)

            def _fault(self, message: str, code: int | None) -> None:
                self._send(500, _fault_envelope(message, code))

            def _moved(self) -> None:
                """The FL service moved: a redirect, to another server."""
                self.send_response(301)
                self.send_header("Location", "http://fl.elsewhere.invalid/lagan/services/FL")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def do_GET(self) -> None:
                path, _, query = self.path.partition("?")
                if path == MOVED_PATH:
                    return self._moved()
                if path != FL_PATH:
                    return self._html(404, "Not Found")
                if double.auth == "basic" and not double._basic_ok(
                        self.headers.get("Authorization")):
                    return self._html(401, "Unauthorized")
                if query.lower() == "wsdl":
                    double.wsdl_fetches += 1
                    body = wsdl_text(double.url, double.personality).encode()
                    return self._send(200, body)
                if query == "xsd=FLTypes.xsd":
                    return self._send(200, (HERE / "FLTypes.xsd").read_bytes())
                return self._html(404, "Not Found")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = self.path.partition("?")[0]
                if path == MOVED_PATH:
                    return self._moved()
                if path not in (FL_PATH, AUTH_PATH):
                    return self._html(404, "Not Found")
                if double.auth == "basic" and not double._basic_ok(
                        self.headers.get("Authorization")):
                    return self._html(401, "Unauthorized")
                try:
                    envelope = etree.fromstring(raw, _PARSER)
                except etree.XMLSyntaxError as exc:
                    return self._fault(f"Unparseable request: {exc}", None)
                if envelope.getroottree().docinfo.doctype:
                    return self._fault("DOCTYPE is not allowed in a request", None)
                if path == AUTH_PATH:
                    return self._authenticate(envelope)
                self._fl(envelope)

            def _authenticate(self, envelope: etree._Element) -> None:
                if not double._username_token_ok(envelope):
                    return self._fault("Authentication failed", double.codes.auth_failed)
                token = double._issue_token()
                body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Header>'
                        f'<wsse:Security xmlns:wsse="{WSSE}"><wsse:BinarySecurityToken>'
                        f'{token}</wsse:BinarySecurityToken></wsse:Security></soapenv:Header>'
                        f'<soapenv:Body/></soapenv:Envelope>')
                self._send(200, body.encode())

            def _fl(self, envelope: etree._Element) -> None:
                body = envelope.find(f"{{{SOAP}}}Body")
                children = list(body) if body is not None else []
                if len(children) != 1:
                    return self._fault("The Body must hold exactly one request element", None)
                request = children[0]
                name = etree.QName(request).localname
                double.calls[name] += 1
                failure = double._take_failure(name)
                if failure is not None and failure.kind == "html":
                    return self._html(failure.code, "Service Unavailable"
                                      if failure.code == 503 else "Error")
                if failure is not None and failure.kind == "delay":
                    time.sleep(failure.seconds)
                if double.auth == "username_token" and not double._username_token_ok(envelope):
                    return self._fault("Authentication failed", double.codes.auth_failed)
                if double.auth == "token" and not double._token_ok(envelope):
                    if double.token_refusal == "http_401":
                        return self._html(401, "Unauthorized")
                    return self._fault("Authentication failed: token invalid or expired",
                                       double.codes.auth_failed)
                standalone = etree.ElementTree(copy.deepcopy(request))
                if not double.schema.validate(standalone):
                    return self._fault(f"Schema validation: {double.schema.error_log.last_error}",
                                       None)
                handler = double.store.handlers().get(name)
                if handler is None:
                    return self._fault(f"No operation takes {name}", None)
                if failure is not None and failure.kind == "fault":
                    return self._fault(failure.message, failure.code)
                if failure is not None and failure.kind == "xxe":
                    return self._send(200, _XXE)
                try:
                    reply = handler(request, double.username)
                except FLFault as fault:
                    return self._fault(fault.message, fault.code)
                if failure is not None and failure.kind == "drop_after_commit":
                    self.close_connection = True
                    return  # committed; the reply is lost
                out = (f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Body>'.encode()
                       + etree.tostring(reply) + b"</soapenv:Body></soapenv:Envelope>")
                self._send(200, out)

        return Handler


def _fault_envelope(message: str, code: int | None) -> bytes:
    env = etree.Element(f"{{{SOAP}}}Envelope", nsmap={"soapenv": SOAP})
    fault = etree.SubElement(etree.SubElement(env, f"{{{SOAP}}}Body"), f"{{{SOAP}}}Fault")
    etree.SubElement(fault, "faultcode").text = "soapenv:Server"
    etree.SubElement(fault, "faultstring").text = message
    if code is not None:
        exc = etree.SubElement(etree.SubElement(fault, "detail"), f"{{{FLT}}}FWTException",
                               nsmap={"flt": FLT})
        etree.SubElement(exc, "ErrorMessage").text = message
        etree.SubElement(exc, "ErrorCode").text = str(code)
    return etree.tostring(env, xml_declaration=True, encoding="utf-8")


@contextmanager
def lagan_double(**options: object) -> Iterator[LaganDouble]:
    server = LaganDouble(**options)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.close()
