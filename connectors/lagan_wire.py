"""The wire client for Lagan / Verint FL: one zeep client per run, auth, and error translation.

It knows SOAP, the three authentication styles and FL's faults, and nothing of enquiries
(``connectors/lagan_mapping.py`` maps those). The WSDL is read once, from ``<url>?wsdl``
(through the same session, so HTTP Basic applies to it) or from a local copy. The WSDL may
import its schema: imports are fetched only from the configured server's own origin
(scheme, host and port) or, for a local copy, from files in the copy's folder; anything
else is refused. Every XML document (WSDL, schema, replies) is parsed with no DTD, no
entities and no huge trees; a reply carrying a DOCTYPE or an entity is refused. The binding
is taken from the WSDL: the one for FL's port type ``FLWebInterface`` (or the only one), or
the one named in the settings when there are several.

Every failure becomes a bridge error in one place, ``LaganWire.call`` (judged by
``translate``); never by SOAP faultcode, whose use by real servers is unknown:

    requests.Timeout, ConnectionError (reply lost)  → TransientError
    HTTP 5xx / 429 (an HTML page from Tomcat/Apache) → TransientError (Retry-After kept)
    HTTP 404 / 410, a redirect                      → MisconfiguredError (no FL at the URL)
    a WSDL that will not load, no usable binding    → MisconfiguredError
    HTTP 401                                        → AuthError (after one fresh login)
    HTTP 403                                        → AuthError
    Fault with FWTException ErrorCode in auth_codes → AuthError (after one fresh login)
    Fault with ErrorCode in transient_codes         → TransientError
    Fault with ErrorCode in permanent_codes         → PermanentError, with the server's words
    Fault with an ErrorCode in none of the lists    → UnplacedCodeError (after one fresh login
                                                      and retry: an expired login on a site
                                                      whose code is not listed yet)
    a Fault with no ErrorCode (a schema refusal)    → PermanentError, with the server's words
    a reply with a DOCTYPE / entity                 → PermanentError (refused, never parsed)
    a 200 reply that is not the XML expected        → TransientError
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import requests
from lxml import etree
from requests.adapters import HTTPAdapter
from zeep import Client, Settings
from zeep import exceptions as zx

from connectors.lagan_transport import OffOrigin, SafeTransport
from crm_bridge.errors import (
    AuthError,
    ConnectorError,
    MisconfiguredError,
    PermanentError,
    TransientError,
    UnplacedCodeError,
)

__all__ = ["FLS", "FLT", "AuthStyle", "ErrorCodes", "LaganWire", "translate"]

log = logging.getLogger(__name__)

FLT = "http://www.lagan.com/wsdl/FLTypes"
FLS = "http://www.lagan.com/wsdl/FLService"
PORT_TYPE = "FLWebInterface"
SOAP = "http://schemas.xmlsoap.org/soap/envelope/"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
_PASSWORD_TEXT = ("http://docs.oasis-open.org/wss/2004/01/"  # noqa: S105 (a URI)
                  "oasis-200401-wss-username-token-profile-1.0#PasswordText")

AuthStyle = Literal["token", "username_token", "basic"]
T = TypeVar("T")

# Imports are allowed through zeep, then judged by ``_Transport.load`` (same origin or the
# local copy's folder only): zeep's own switch forbids every one, the server's own included.
_SAFE = {"forbid_dtd": True, "forbid_entities": True, "forbid_external": False,
         "xml_huge_tree": False}
_REPLY_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                                huge_tree=False)


@dataclass(frozen=True)
class ErrorCodes:
    """Where the mapping places a site's FWTException ErrorCodes: 'try later', 'bad login',
    'refused for good'; any other code is retried on ``hold_after`` runs, then held."""

    transient: Collection[int] = ()
    auth: Collection[int] = ()
    permanent: Collection[int] = ()
    hold_after: int = 5


class _AuthFault(AuthError):
    """FL refused the login: an FWTException with an auth code, or HTTP 401 (a server may
    answer an expired token either way). With a token, worth one re-authentication."""


def _fwt(fault: zx.Fault) -> tuple[int | None, str]:
    """ErrorCode and ErrorMessage of the FWTException in a Fault's detail, if any."""
    detail = fault.detail
    if detail is not None:
        for exc in detail.iter(f"{{{FLT}}}FWTException", "FWTException"):
            code = exc.findtext("ErrorCode")
            message = exc.findtext("ErrorMessage") or fault.message or ""
            try:
                return (int(code) if code is not None else None), message
            except ValueError:
                return None, message
    return None, fault.message or ""


def _status_error(status: int, what: str, retry_after: str | None = None) -> ConnectorError:
    if status in (404, 410):
        return MisconfiguredError(f"{what}: HTTP {status}, nothing answers at that address: "
                                  "check connector.url (…/lagan/services/FL) or connector.wsdl")
    if status == 401:
        return _AuthFault(f"{what}: HTTP 401, the user name, password or token was not "
                          "accepted")
    if status == 403:
        return AuthError(f"{what}: HTTP 403, the bridge's account may not use this service")
    if status >= 500 or status == 429:
        after = float(retry_after) if retry_after and retry_after.isdigit() else None
        return TransientError(f"{what}: HTTP {status} (an error page, not a SOAP reply): "
                              "the server is failing or restarting", retry_after=after)
    return PermanentError(f"{what}: HTTP {status}")


def translate(exc: Exception, what: str, codes: ErrorCodes) -> ConnectorError:
    """The one place FL's, zeep's and requests' errors become the bridge's."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, requests.TooManyRedirects):
        where = exc.response.headers.get("Location", "elsewhere") if exc.response is not None \
            else "elsewhere"
        return MisconfiguredError(f"{what}: the server redirects to {where}; the bridge does "
                                  "not follow redirects: set connector.url (or wsdl) to the "
                                  "address FL answers at")
    if isinstance(exc, requests.Timeout):
        return TransientError(f"{what}: no answer in time")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return _status_error(exc.response.status_code, what,
                             exc.response.headers.get("Retry-After"))
    if isinstance(exc, requests.RequestException):
        return TransientError(f"{what}: cannot be reached or the reply was lost "
                              f"({type(exc).__name__})")
    if isinstance(exc, zx.Fault):
        code, message = _fwt(exc)
        said = f"{what} was refused: {message}" + (f" (ErrorCode {code})" if code else "")
        if code is None or code in codes.permanent:
            return PermanentError(said)
        if code in codes.auth:
            return _AuthFault(said)
        if code in codes.transient:
            return TransientError(said)
        return UnplacedCodeError(
            f"{what}: FL answered \"{message}\" (ErrorCode {code}, not placed in "
            "mappings/lagan.yaml: add it to transient_error_codes, permanent_error_codes or "
            "auth_error_codes)", str(code), message, codes.hold_after)
    if isinstance(exc, zx.TransportError):
        return _status_error(exc.status_code, what) if exc.status_code != 200 else (
            TransientError(f"{what}: the reply was not the XML expected"))
    if isinstance(exc, zx.DTDForbidden | zx.EntitiesForbidden):
        return PermanentError(f"{what}: the reply carried a DOCTYPE or an XML entity and was "
                              "refused unread (possible XXE); check what answers at the URL")
    if isinstance(exc, zx.Error | etree.XMLSyntaxError | ValueError):
        return TransientError(f"{what}: the reply was not understood ({type(exc).__name__})")
    raise exc


def _security(child: etree._Element) -> etree._Element:
    security = etree.Element(f"{{{WSSE}}}Security", nsmap={"wsse": WSSE})
    security.append(child)
    return security


def username_token(username: str, password: str) -> etree._Element:
    token = etree.Element(f"{{{WSSE}}}UsernameToken")
    etree.SubElement(token, f"{{{WSSE}}}Username").text = username
    pw = etree.SubElement(token, f"{{{WSSE}}}Password", Type=_PASSWORD_TEXT)
    pw.text = password
    return _security(token)


class LaganWire:
    """One session and one zeep client (built on first use) to one FL endpoint."""

    def __init__(self, url: str, *, auth: AuthStyle, username: str, password: str,
                 auth_url: str, wsdl: str | None, codes: ErrorCodes,
                 timeout: tuple[float, float], verify: bool | str = True,
                 proxy: str | None = None, binding: str | None = None) -> None:
        self.url = url
        self.binding_name = binding
        self.auth_url = auth_url
        self.style = auth
        self._username = username
        self._password = password
        self.wsdl = wsdl or f"{url}?wsdl"
        self.codes = codes
        self.timeout = timeout
        self.session = requests.Session()
        self.session.verify = verify
        # Proxies come from the settings, not the environment: what the bridge talks to is
        # then in its config file, and requests skips an os.environ scan on every call.
        self.session.trust_env = False
        if proxy:
            self.session.proxies = {"http": proxy, "https": proxy}
        self.session.headers["User-Agent"] = "crm-bridge lagan connector"
        # No redirects: a WSDL or endpoint moved elsewhere is a setting to fix, and the WSDL's
        # imports must come from the configured origin, not wherever a redirect points.
        self.session.max_redirects = 0
        if auth == "basic":
            self.session.auth = (username, password)
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._client: Any = None
        self._service: Any = None
        self._header: etree._Element | None = None
        self.binding: str | None = None  # the binding's QName, once the WSDL is read
        # ErrorCodes FL answered that the mapping does not place, with FL's words; and
        # those a fresh login cleared (an expired login whose code is not listed yet).
        self.unplaced: dict[str, str] = {}
        self.cleared_by_login: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"LaganWire({self.url!r}, auth={self.style!r})"  # never the password

    def close(self) -> None:
        self.session.close()

    # -- setup, once per run -----------------------------------------------------------------
    def service(self) -> Any:
        """The zeep service proxy; the WSDL is fetched and parsed on the first call only.

        A WSDL that cannot be fetched because the server is down or slow is transient; one
        that is not there (404), will not parse, refers outside the server, or has no
        binding for FL's port type is a ``MisconfiguredError``: no later run will fare
        better until the settings change."""
        if self._service is None:
            local = not self.wsdl.startswith(("http://", "https://"))
            folder = Path(self.wsdl.removeprefix("file://")).resolve().parent if local else None
            what = f"the FL WSDL at {self.wsdl}"

            def load() -> Any:
                transport = SafeTransport(origin=self.url, folder=folder, session=self.session,
                                       timeout=self.timeout[1],
                                       operation_timeout=self.timeout[1])
                return Client(self.wsdl, transport=transport,  # type: ignore[no-untyped-call]
                              settings=Settings(**_SAFE))
            try:
                client = load()
            except (requests.RequestException, ConnectorError) as exc:
                raise translate(exc, what, self.codes) from exc
            except (zx.Error, etree.Error, ValueError, OSError, OffOrigin) as exc:
                raise MisconfiguredError(f"{what} will not load: {_said(exc)}; check "
                                         "connector.url or connector.wsdl") from exc
            binding = self._pick_binding(client, what)
            self._client = client
            self._service = client.create_service(binding, self.url)
            self.binding = binding
        return self._service

    def _pick_binding(self, client: Any, what: str) -> str:
        """The binding to call FL through, as the WSDL names it: the one named in the
        settings, else the only SOAP binding of FL's port type (or the only one at all)."""
        bindings = {str(qname): b for qname, b in client.wsdl.bindings.items()}
        names = sorted(bindings)
        if self.binding_name:
            for qname in names:
                if self.binding_name in (qname, qname.rsplit("}", 1)[-1]):
                    return qname
            raise MisconfiguredError(f"{what} has no binding '{self.binding_name}' (it has: "
                                     f"{', '.join(names) or 'none'}): fix connector.binding")
        fl = [q for q, b in bindings.items()
              if getattr(getattr(b, "port_type", None), "name", None) in
              (f"{{{FLS}}}{PORT_TYPE}", PORT_TYPE)]
        chosen = fl or names
        if len(chosen) == 1:
            return chosen[0]
        if not chosen:
            raise MisconfiguredError(f"{what} declares no binding: it is not FL's WSDL")
        raise MisconfiguredError(f"{what} has several bindings ({', '.join(sorted(chosen))}): "
                                 "name one in connector.binding")

    def _headers(self, fresh: bool = False) -> list[etree._Element]:
        if self.style == "username_token":
            if self._header is None or fresh:
                self._header = username_token(self._username, self._password)
        elif self.style == "token" and (self._header is None or fresh):
            self._header = self._authenticate()
        return [self._header] if self._header is not None else []

    def _login_again(self) -> None:
        """A fresh login in the configured style: a new FLAuth token, a new UsernameToken
        header, and (every style) no session cookie a server may have tied an old login to."""
        self.session.cookies.clear()
        self._headers(fresh=True)

    def _authenticate(self) -> etree._Element:
        """FLAuth ``authenticate``: the token is in the reply's SOAP header, which the WSDL does
        not declare, so the envelope is posted and read here rather than through zeep."""
        header = etree.tostring(username_token(self._username, self._password)).decode()
        body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP}"><soapenv:Header>{header}'
                '</soapenv:Header><soapenv:Body/></soapenv:Envelope>')

        def post() -> etree._Element:
            reply = self.session.post(self.auth_url, data=body.encode(), timeout=self.timeout,
                                      headers={"Content-Type": "text/xml; charset=utf-8",
                                               "SOAPAction": '""'})
            with reply:
                root = self._parse_reply(reply)
            fault = root.find(f"{{{SOAP}}}Body/{{{SOAP}}}Fault")
            if fault is not None:
                message = fault.findtext(f".//{{{FLT}}}FWTException/ErrorMessage") or \
                    fault.findtext("faultstring") or "refused"
                raise AuthError(f"FLAuth authenticate refused the bridge's login: {message}")
            token = root.find(f"{{{SOAP}}}Header/{{{WSSE}}}Security/{{{WSSE}}}"
                              "BinarySecurityToken")
            if token is None or not (token.text or "").strip():
                raise TransientError("FLAuth authenticate answered without a "
                                     "BinarySecurityToken in its SOAP header")
            return _security(etree.fromstring(etree.tostring(token)))
        result: etree._Element = self._guard("FLAuth authenticate", post)
        log.info("lagan FLAuth authenticate -> token received")
        return result

    @staticmethod
    def _parse_reply(reply: requests.Response) -> etree._Element:
        if reply.status_code != 200 and "xml" not in reply.headers.get("Content-Type", ""):
            raise _status_error(reply.status_code, "FLAuth authenticate",
                                reply.headers.get("Retry-After"))
        root = etree.fromstring(reply.content, _REPLY_PARSER)
        if root.getroottree().docinfo.doctype:
            raise zx.DTDForbidden("", None, None)  # type: ignore[no-untyped-call]
        return root

    # -- calls ---------------------------------------------------------------------------------
    def _guard(self, what: str, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except Exception as exc:  # judged, and re-raised if not FL's, in translate
            raise translate(exc, what, self.codes) from exc

    def call(self, operation: str, **request: Any) -> Any:
        """``operation`` with the request element's fields; one INFO line, no values logged.

        In every auth style a refused login (an auth-coded fault or HTTP 401: an expired
        login may be answered either way) gets one fresh login and one more try; a second
        refusal is an ``AuthError``. A fault whose ErrorCode the mapping does not place gets
        the same one fresh login and try (a site's "session expired" code may not be listed
        yet): if that clears it, the code is remembered as one a fresh login cleared.
        """
        service = self.service()
        started = time.perf_counter()
        method = getattr(service, operation)

        def once() -> Any:
            return self._guard(f"FL {operation}",
                               lambda: method(**request, _soapheaders=self._headers()))
        try:
            result = once()
        except _AuthFault:
            log.info("lagan %s: login refused (expired?); logging in again", operation)
            self._login_again()
            result = once()
        except UnplacedCodeError as first:
            log.info("lagan %s: ErrorCode %s is not placed in the mapping; logging in again "
                     "and trying once more", operation, first.code)
            self._login_again()
            try:
                result = once()
            except UnplacedCodeError as again:
                self.unplaced[again.code] = again.crm_message
                raise
            self.cleared_by_login[first.code] = first.crm_message
        log.info("lagan %s ok (%.0f ms)", operation, (time.perf_counter() - started) * 1000)
        return result


def _said(exc: BaseException) -> str:
    """An exception in words, for a message: its text, or its kind when it has none."""
    text = " ".join(str(exc).split())
    return f"{text} ({type(exc).__name__})" if text else type(exc).__name__
