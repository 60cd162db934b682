"""The ``rest`` connector's wire client: one ``requests.Session``, timeouts, translated errors.

It knows HTTP and JSON and nothing of enquiries or of any one CRM's URLs (the mapping says
those). Every failure becomes one of the bridge's errors here, in ``RestClient.call``:

    refused, reset, dropped, DNS, timeout     → TransientError  (the CRM is down or slow)
    HTTP 5xx, 429                             → TransientError  Retry-After (seconds or an
                                                                 HTTP date) → .retry_after
    2xx whose body is not JSON                → TransientError  (a proxy's page, a worker
                                                                 killed mid-answer)
    HTTP 401, 403                             → AuthError       stop the run
    HTTP 409 to a request sent with a key     → TransientError  (the CRM is still carrying
                                                                 out an earlier try of it)
    3xx, 400, 404, 409, 422 and other 4xx     → PermanentError  with the server's reason

A garbled success is transient, not permanent, on purpose: it says nothing about the
enquiry, and a retry is safe because creating a case looks it up by the enquiry's id first.

Each call logs one INFO line: method, path (never the query string, which carries search
values), status or what went wrong, and time. No body, header or token is ever logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from requests.structures import CaseInsensitiveDict

from connectors.read_retry import read_again
from connectors.rest_auth import HeaderAuth
from connectors.rest_paths import parse as parse_path
from connectors.retry_after import retry_after_seconds
from connectors.unreachable import why_unreachable
from crm_bridge.errors import AuthError, ConfigError, PermanentError, TransientError

__all__ = ["Answer", "HeaderAuth", "Paging", "RestClient", "pages", "retry_after_seconds"]

log = logging.getLogger(__name__)

_REASON_CHARS = 300




@dataclass(frozen=True)
class Answer:
    """A parsed JSON body (None when empty) and the answer's headers."""

    body: Any
    headers: CaseInsensitiveDict[str]


class RestClient:
    """Calls one JSON API; ``call`` returns the parsed body or raises the bridge's error."""

    def __init__(self, base_url: str, auth: AuthBase | None, *,
                 timeout: tuple[float, float] = (5.0, 30.0), verify: bool | str = True,
                 error_path: str = "message") -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.error_path = error_path
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = verify
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "crm-bridge rest connector"})
        # No urllib3 retries: sync decides what to retry, from the error type alone.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    def call(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
             json: Any = None, key: tuple[str, str] | None = None,
             headers: Mapping[str, str] | None = None) -> Any:
        """``method path`` (relative to the base URL): the JSON answer, or a bridge error.
        ``key`` is an idempotency-key header (name, value) to send with it."""
        return self.answer(method, path, params=params, json=json, key=key,
                           headers=headers).body

    def answer(self, method: str, path: str, *, params: Mapping[str, str] | None = None,
               json: Any = None, key: tuple[str, str] | None = None,
               headers: Mapping[str, str] | None = None) -> Answer:
        """``call``, with the answer's headers. ``path`` may be a whole URL (a next-page
        link) on the base URL's own server, never another: the token goes with it."""
        url = self._url(path)
        shown = urlsplit(url).path
        sent = {**(headers or {}), **dict([key] if key else [])}
        renew = getattr(self.session.auth, "renew", None)
        for attempt in (1, 2):
            response = self._send(method, url, shown, params, json, sent)
            if response.status_code == 401 and attempt == 1 and renew is not None and renew():
                response.close()
                log.info("rest %s %s: token refused; fetching a new one", method, shown)
                continue
            break
        with response:
            try:
                body = self._check(method, shown, response, keyed=key is not None)
            except requests.RequestException as exc:  # the body broke off while being read
                raise TransientError(f"the CRM's answer to {method} {shown} broke off: "
                                     f"{why_unreachable(exc)}") from exc
            return Answer(body, response.headers)

    def _url(self, path: str) -> str:
        if not path.startswith(("http://", "https://")):
            return f"{self.base_url}{path}"
        base, link = urlsplit(self.base_url), urlsplit(path)
        if (link.scheme, link.netloc) != (base.scheme, base.netloc):
            raise TransientError(f"the CRM linked to another server ({link.scheme}://"
                                 f"{link.netloc}) for its next page; the bridge sends its "
                                 f"token only to {base.scheme}://{base.netloc}: set "
                                 "connector.url to the address the CRM calls itself")
        return path

    def _send(self, method: str, url: str, shown: str, params: Mapping[str, str] | None,
              json: Any, headers: Mapping[str, str]) -> requests.Response:
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, params=params, json=json,
                                            headers=dict(headers) or None,
                                            timeout=self.timeout, allow_redirects=False)
        except requests.Timeout as exc:
            log.info("rest %s %s: timed out", method, shown)
            raise TransientError(f"the CRM did not answer {method} {shown} within "
                                 f"{self.timeout[1]:g} s") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise ConfigError(f"connector.url: {self.base_url} is not a usable URL") from exc
        except requests.RequestException as exc:
            why = why_unreachable(exc)
            log.info("rest %s %s: %s", method, shown, why)
            raise TransientError(f"the CRM at {self.base_url} cannot be reached: {why} "
                                 f"({method} {shown})") from exc
        elapsed = (time.perf_counter() - started) * 1000
        log.info("rest %s %s -> %d (%.0f ms)", method, shown, response.status_code, elapsed)
        return response

    def _check(self, method: str, path: str, response: requests.Response,
               keyed: bool = False) -> Any:
        status = response.status_code
        if status == 409 and keyed:  # the draft's answer to a key whose first try is running
            after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(f"the CRM is still carrying out an earlier try of {method} "
                                 f"{path} (HTTP 409); trying again later", retry_after=after)
        if status == 429 or status >= 500:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(f"the CRM is busy or failing: {method} {path} answered HTTP "
                                 f"{status}{_summary(response)}", retry_after=after)
        if status in (401, 403):
            hint = ("the token was not accepted" if status == 401
                    else "the bridge's account lacks a right")
            raise AuthError(f"the CRM refused {method} {path} (HTTP {status}): "
                            f"{hint}{self._reason(response)}")
        if 300 <= status < 400:
            raise PermanentError(f"the CRM redirected {method} {path} (HTTP {status}) to "
                                 f"{response.headers.get('Location', '?')}: set connector.url "
                                 "to the API's own address")
        if status >= 400:
            raise PermanentError(f"the CRM refused {method} {path} (HTTP {status})"
                                 f"{self._reason(response)}")
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"the CRM answered {method} {path} with a body that is not "
                                 "JSON; retrying later") from None

    def _reason(self, response: requests.Response) -> str:
        """The server's own explanation: the JSON body's message, else the start of the text."""
        try:
            data = response.json()
        except ValueError:
            text = response.text
        else:
            text = data if isinstance(data, str) else ""
            if isinstance(data, dict | list):
                node = parse_path(self.error_path).read(data)
                text = node if isinstance(node, str) else ""
        text = " ".join(text.split())[:_REASON_CHARS]
        return f": {text}" if text else ""


def _summary(response: requests.Response) -> str:
    """What came back, without a word of it: a transient error is logged, and a failing
    CRM's error page can quote the case it was sent (a rejection keeps the CRM's reason:
    it goes to the store, not the log)."""
    kind = response.headers.get("Content-Type", "no content type").split(";", 1)[0].strip()
    return f" ({kind}, {len(response.content)} bytes)"


@dataclass(frozen=True)
class Paging:
    """How the change feed's pages follow one another (the mapping's ``updates``)."""

    next_of: Callable[[Any], Any]  # the next page's token or link in a body; None: last page
    next_param: str = "after"
    link: bool = False  # the next page is a URL to GET as it is
    page_param: str | None = None  # numbered pages: 1, 2, … while pages are full
    page_size: int = 0
    count: Callable[[Any], int] = len


def pages(client: RestClient, method: str, path: str, params: dict[str, str],
          paging: Paging, attempts: int = 1, wait: float = 0.0,
          headers: Mapping[str, str] | None = None) -> Iterator[Answer]:
    """Each page's answer, following ``paging`` until the last page.

    A page that fails for a transient reason is asked for again, the same page, up to
    ``attempts`` times in all: reading a page is safe to repeat, and starting the whole
    feed again (as a caller's retry must) would re-read every page before it.
    """
    query: dict[str, str] | None = dict(params)
    url = path
    number = 1
    while True:
        if paging.page_param is not None and query is not None:
            query[paging.page_param] = str(number)
        answer = _page(client, method, url, query, attempts, wait, headers)
        yield answer
        if paging.page_param is not None:
            if paging.count(answer.body) < paging.page_size:
                return
            number += 1
            continue
        token = paging.next_of(answer.body)
        if token in (None, ""):
            return
        if paging.link:
            if str(token) == url:
                raise TransientError(f"the CRM gave the same next-page link twice for {path}")
            url, query = str(token), None  # the link carries the whole query
            continue
        assert query is not None
        if str(token) == query.get(paging.next_param):
            raise TransientError(f"the CRM gave the same next-page token twice for {path}")
        query[paging.next_param] = str(token)


def _page(client: RestClient, method: str, path: str, query: dict[str, str] | None,
          attempts: int, wait: float, headers: Mapping[str, str] | None) -> Answer:
    """One page, asked again on a transient failure; the CRM's Retry-After is waited when
    it is short (``read_retry.PATIENCE``), else the failure goes to the caller at once."""
    return read_again(lambda: client.answer(method, path, params=query, headers=headers),
                      attempts, wait)
