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

import http.client
import logging
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase
from tenacity import RetryCallState, Retrying, retry_if_exception_type, wait_random_exponential

from connectors.retry_after import retry_after_seconds
from crm_bridge.errors import AuthError, ConfigError, PermanentError, TransientError

__all__ = ["HeaderAuth", "RestClient", "pages", "retry_after_seconds"]

log = logging.getLogger(__name__)

_REASON_CHARS = 300
_PAGE_PATIENCE = 10.0  # seconds: the longest wait before a page is asked for again


class HeaderAuth(AuthBase):
    """One header carrying the API token; its value never appears in a repr or a log."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self._header] = self._value
        return request

    def __repr__(self) -> str:
        return f"HeaderAuth({self._header}: ****)"


def _why(exc: BaseException) -> str:
    """What a requests connection error was, in a few words, from its chain of causes."""
    queue: list[Any] = [exc]
    seen: set[int] = set()
    while queue:
        item = queue.pop(0)
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        if isinstance(item, ConnectionRefusedError):
            return "connection refused"
        if isinstance(item, ConnectionResetError):
            return "connection reset"
        if isinstance(item, http.client.RemoteDisconnected | http.client.IncompleteRead):
            return "connection dropped before the answer"
        queue += [*item.args, getattr(item, "reason", None), item.__cause__, item.__context__]
    return "unreachable"


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
             json: Any = None, key: tuple[str, str] | None = None) -> Any:
        """``method path`` (relative to the base URL): the JSON answer, or a bridge error.
        ``key`` is an idempotency-key header (name, value) to send with it."""
        url = f"{self.base_url}{path}"
        started = time.perf_counter()
        headers = dict([key]) if key else None
        try:
            response = self.session.request(method, url, params=params, json=json,
                                            headers=headers, timeout=self.timeout,
                                            allow_redirects=False)
        except requests.Timeout as exc:
            log.info("rest %s %s: timed out", method, path)
            raise TransientError(f"the CRM did not answer {method} {path} within "
                                 f"{self.timeout[1]:g} s") from exc
        except (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                requests.exceptions.InvalidSchema) as exc:
            raise ConfigError(f"connector.url: {self.base_url} is not a usable URL") from exc
        except requests.RequestException as exc:
            why = _why(exc)
            log.info("rest %s %s: %s", method, path, why)
            raise TransientError(f"the CRM at {self.base_url} cannot be reached: {why} "
                                 f"({method} {path})") from exc
        with response:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("rest %s %s -> %d (%.0f ms)", method, path, response.status_code, elapsed)
            try:
                return self._check(method, path, response, keyed=key is not None)
            except requests.RequestException as exc:  # the body broke off while being read
                raise TransientError(f"the CRM's answer to {method} {path} broke off: "
                                     f"{_why(exc)}") from exc

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
            if isinstance(data, dict):
                node: Any = data
                for part in self.error_path.split("."):
                    node = node.get(part) if isinstance(node, dict) else None
                text = node if isinstance(node, str) else ""
        text = " ".join(text.split())[:_REASON_CHARS]
        return f": {text}" if text else ""


def _summary(response: requests.Response) -> str:
    """What came back, without a word of it: a transient error is logged, and a failing
    CRM's error page can quote the case it was sent (a rejection keeps the CRM's reason:
    it goes to the store, not the log)."""
    kind = response.headers.get("Content-Type", "no content type").split(";", 1)[0].strip()
    return f" ({kind}, {len(response.content)} bytes)"


def pages(client: RestClient, method: str, path: str, params: dict[str, str],
          next_of: Any, next_param: str, attempts: int = 1, wait: float = 0.0
          ) -> Iterator[Any]:
    """Each page's body, following ``next_of(body)`` (a token, or None on the last page).

    A page that fails for a transient reason is asked for again, the same page, up to
    ``attempts`` times in all: reading a page is safe to repeat, and starting the whole
    feed again (as a caller's retry must) would re-read every page before it.
    """
    query = dict(params)
    while True:
        body = _page(client, method, path, query, attempts, wait)
        yield body
        token = next_of(body)
        if token in (None, ""):
            return
        if str(token) == query.get(next_param):
            raise TransientError(f"the CRM gave the same next-page token twice for {path}")
        query[next_param] = str(token)


def _page(client: RestClient, method: str, path: str, query: dict[str, str], attempts: int,
          wait: float) -> Any:
    """One page, asked again on a transient failure; the CRM's Retry-After is waited when
    it is short (``_PAGE_PATIENCE``), else the failure goes to the caller at once."""
    jitter = wait_random_exponential(multiplier=wait, max=max(wait, _PAGE_PATIENCE))

    def hinted(state: RetryCallState) -> float | None:
        error = state.outcome.exception() if state.outcome else None
        return error.retry_after if isinstance(error, TransientError) else None

    def pause(state: RetryCallState) -> float:
        after = hinted(state)
        return after if after is not None else float(jitter(state))

    def too_long(state: RetryCallState) -> bool:
        after = hinted(state)
        return state.attempt_number >= attempts or (after is not None and after > _PAGE_PATIENCE)

    retrying = Retrying(retry=retry_if_exception_type(TransientError), stop=too_long,
                        wait=pause, reraise=True)
    return retrying(client.call, method, path, params=query)
