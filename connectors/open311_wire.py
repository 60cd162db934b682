"""The ``open311`` connector's wire client: GeoReport v2 over one ``requests.Session``.

It knows the URL pattern (``<url>/<resource>.<format>``), the two formats and how the
server's answers fail; nothing of enquiries. Every failure becomes one of the bridge's
errors here, in ``Open311Wire.call``:

    refused, reset, dropped, timeout          → TransientError  (down or slow)
    HTTP 429, 5xx                             → TransientError  with the Retry-After
    HTTP 401, 403                             → AuthError       (the api_key, or the
                                                                 jurisdiction_id, refused)
    HTTP 404 with no GeoReport error list     → MisconfiguredError (nothing at the URL:
                                                                 connector.url is wrong)
    HTTP 400, 404, other 4xx with
      ``[{code, description}]``               → PermanentError  naming the server's words
    2xx that cannot be read                   → TransientError  (a proxy's page, an
                                                                 answer broken off)

Each call logs one INFO line: method, resource, status and time; never the query or the
form (they carry the api_key and the enquiry), never a body.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any, Literal
from urllib.parse import quote

import requests
from requests.adapters import HTTPAdapter

from connectors.open311_xml import XmlError, parse_xml
from connectors.retry_after import retry_after_seconds
from connectors.unreachable import why_unreachable
from crm_bridge.errors import (
    AuthError,
    ConfigError,
    MisconfiguredError,
    PermanentError,
    TransientError,
)

__all__ = ["Format", "Open311Wire", "server_errors"]

log = logging.getLogger(__name__)

Format = Literal["json", "xml"]
Form = Sequence[tuple[str, str]]
_REASON_CHARS = 300


class Open311Wire:
    """Calls one GeoReport v2 endpoint; ``call`` returns the parsed answer or raises."""

    def __init__(self, base_url: str, fmt: Format, *, api_key: str | None,
                 jurisdiction_id: str | None, timeout: tuple[float, float] = (5.0, 30.0),
                 verify: bool | str = True) -> None:
        self.base_url = base_url.rstrip("/")
        self.format = fmt
        self.timeout = timeout
        self._common: list[tuple[str, str]] = []
        if jurisdiction_id:
            self._common.append(("jurisdiction_id", jurisdiction_id))
        self._api_key = api_key
        self.session = requests.Session()
        self.session.verify = verify
        self.session.headers.update({
            "Accept": "application/json" if fmt == "json" else "text/xml, application/xml",
            "User-Agent": "crm-bridge open311 connector"})
        # No urllib3 retries: sync decides what to retry, from the error type alone.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def url(self, resource: str) -> str:
        """``services`` → ``<url>/services.json``; path parts are quoted."""
        path = "/".join(quote(part, safe="") for part in resource.split("/"))
        return f"{self.base_url}/{path}.{self.format}"

    def call(self, method: str, resource: str, params: Form = (), *, form: Form | None = None,
             key: bool = False) -> Any:
        """``method resource`` with ``params`` in the query (and ``form`` as the body of a
        POST); ``key``: send the api_key too. The answer as lists, dicts and values."""
        query = [*self._common, *params]
        body = list(form) if form is not None else None
        if key and self._api_key:
            (body if body is not None else query).append(("api_key", self._api_key))
        started = time.perf_counter()
        try:
            response = self.session.request(method, self.url(resource), params=query,
                                            data=body, timeout=self.timeout,
                                            allow_redirects=False)
        except requests.Timeout as exc:
            log.info("open311 %s %s: timed out", method, resource)
            raise TransientError(f"the Open311 server did not answer {method} {resource} "
                                 f"within {self.timeout[1]:g} s") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise ConfigError(f"connector.url: {self.base_url} is not a usable URL") from exc
        except requests.RequestException as exc:
            why = why_unreachable(exc)
            log.info("open311 %s %s: %s", method, resource, why)
            raise TransientError(f"the Open311 server at {self.base_url} cannot be reached: "
                                 f"{why} ({method} {resource})") from exc
        with response:
            log.info("open311 %s %s -> %d (%.0f ms)", method, resource, response.status_code,
                     (time.perf_counter() - started) * 1000)
            try:
                return self._check(method, resource, response)
            except requests.RequestException as exc:  # the body broke off while read
                raise TransientError(f"the Open311 server's answer to {method} {resource} "
                                     f"broke off: {why_unreachable(exc)}") from exc

    def _check(self, method: str, resource: str, response: requests.Response) -> Any:
        status = response.status_code
        what = f"{method} {resource}"
        if status == 429 or status >= 500:
            raise TransientError(f"the Open311 server is busy or failing: {what} answered "
                                 f"HTTP {status}",
                                 retry_after=retry_after_seconds(
                                     response.headers.get("Retry-After")))
        if status in (401, 403):
            raise AuthError(f"the Open311 server refused {what} (HTTP {status}): check "
                            f"connector.api_key and connector.jurisdiction_id"
                            f"{self._reason(response)}")
        if 300 <= status < 400:
            raise MisconfiguredError(f"the Open311 server redirected {what} (HTTP {status}) to "
                                     f"{response.headers.get('Location', '?')}: set "
                                     "connector.url to the endpoint's own address")
        if status >= 400:
            errors = self._errors(response)
            if status == 404 and not errors:
                raise MisconfiguredError(f"no Open311 endpoint answers {what} at "
                                         f"{self.base_url} (HTTP 404): check connector.url")
            words = "; ".join(errors) if errors else _text(response)
            raise PermanentError(f"the Open311 server refused {what} (HTTP {status})"
                                 + (f": {words}" if words else ""))
        if not response.content:
            return None
        try:
            return self._parse(response.content)
        except ValueError:
            raise TransientError(f"the Open311 server answered {what} with a body that is "
                                 f"not {self.format.upper()}; retrying later") from None

    def _parse(self, content: bytes) -> Any:
        if self.format == "xml":
            try:
                return parse_xml(content)
            except XmlError as exc:
                raise ValueError(str(exc)) from None
        return json.loads(content)

    def _errors(self, response: requests.Response) -> list[str]:
        try:
            data = self._parse(response.content) if response.content else None
        except ValueError:
            return []
        return server_errors(data)

    def _reason(self, response: requests.Response) -> str:
        errors = self._errors(response)
        words = "; ".join(errors) if errors else ""
        return f": {words}" if words else ""


def server_errors(data: Any) -> list[str]:
    """The descriptions of a GeoReport ``[{code, description}]`` error list (or [])."""
    items = data if isinstance(data, list) else [data] if isinstance(data, dict) else []
    found = []
    for item in items:
        if isinstance(item, Mapping) and ("description" in item or "code" in item):
            text = " ".join(str(item.get("description") or "").split())[:_REASON_CHARS]
            code = item.get("code")
            found.append(f"{text} (code {code})" if code not in (None, "") else text)
    return found


def _text(response: requests.Response) -> str:
    kind = response.headers.get("Content-Type", "")
    if "html" in kind:
        return ""
    return " ".join(response.text.split())[:_REASON_CHARS]


