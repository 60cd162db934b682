"""The wire client for Request Tracker's REST 2.0 API: HTTP, validated JSON, translated errors.

It knows RT's URLs and JSON and nothing of enquiries (``connectors/rt_mapping.py``
maps those). Every answer RT gives is validated by the pydantic models below
before anything reads it, so a surprise in RT's JSON is caught at this boundary
with RT's path in the message, not three calls later as a KeyError.

RT's and ``requests``' errors become the bridge's in one place, ``RtClient.call``
(HTTP answers judged by its ``_check``):

    requests.ConnectionError, Timeout  → TransientError   RT down, restarting or slow
                                                           (after a timeout, RT is left
                                                           alone for ``pause_after_timeout``)
    HTTP 5xx, 429                      → TransientError   Retry-After (seconds or a date)
                                                           → TransientError.retry_after
    HTTP 401, 403                      → AuthError        login refused, or the bridge's
                                                           RT account lacks a right (RT's words)
    HTTP 400, 404, 409, 422, other 4xx → PermanentError   with RT's own "message"
                                                           (404: its NotFound)
    2xx whose body is not the JSON expected → TransientError

A garbled success body is treated as transient on purpose: it comes from a proxy's
error page, a worker killed mid-answer or an RT upgrade half done, never from the
enquiry's data, so failing the enquiry (PermanentError) would be wrong, and a
retry is safe because creation looks the ticket up by the enquiry's id first.
"""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, TypeVar
from urllib.parse import quote

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from requests.auth import AuthBase

from connectors.read_retry import read_again
from connectors.retry_after import retry_after_seconds
from connectors.rt_answers import (
    AttachmentInfo,
    AttachmentRow,
    Created,
    CustomFieldInfo,
    Info,
    QueueInfo,
    Ref,
    Ticket,
    TicketRow,
    Txn,
    _Page,
    _Problem,
)
from crm_bridge.errors import AuthError, PermanentError, TransientError

__all__ = [
    "AttachmentInfo",
    "AttachmentRow",
    "CustomFieldInfo",
    "NotFound",
    "QueueInfo",
    "Ref",
    "RtClient",
    "Ticket",
    "TicketRow",
    "TokenAuth",
    "Txn",
    "retry_after_seconds",
]

log = logging.getLogger(__name__)

M = TypeVar("M", bound=BaseModel)

PER_PAGE = 100  # RT's maximum page size


class NotFound(PermanentError):
    """RT answered 404: the ticket, queue or field asked for does not exist (for RT's API,
    as the bridge's account sees it)."""


# -- authentication -----------------------------------------------------------------------------


class TokenAuth(AuthBase):
    """RT's auth tokens: ``Authorization: token <value>``; the value never reaches a log."""

    def __init__(self, token: str) -> None:
        self._header = f"token {token}"

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = self._header
        return request

    def __repr__(self) -> str:
        return "TokenAuth(****)"


# -- the client ---------------------------------------------------------------------------------


class _NoAnswer(TransientError):
    """RT took the call and did not answer in time (or did so moments ago): not asked again
    in this call, as that would wait as long again."""


class RtClient:
    """One ``requests.Session`` to one RT; every call has a timeout and one INFO log line.

    The log line names the method, the path (never the query string, which can hold
    search values) and the outcome, and nothing a constituent wrote.
    """

    def __init__(self, base_url: str, auth: AuthBase | tuple[str, str], *,
                 timeout: tuple[float, float] = (10.0, 30.0), pool_size: int = 10,
                 verify: bool | str = True, pause_after_timeout: float = 300.0,
                 read_attempts: int = 3, read_retry_wait: float = 0.5) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = f"{self.base_url}/REST/2.0"
        self.timeout = timeout
        # An RT that took a connection and then did not answer in time is not called again
        # for this long: each later call fails at once, so a hanging RT costs a sync one
        # timeout, not one per call and retry (monotonic clock: immune to clock changes).
        self.pause_after_timeout = pause_after_timeout
        self._silent_since: float | None = None
        # A GET that failed for a passing reason is asked again at once (read_retry), except
        # one RT did not answer in time: that one waited long enough.
        self.read_attempts = read_attempts
        self.read_retry_wait = read_retry_wait
        self.session = requests.Session()
        self.session.auth = auth
        self.session.verify = verify
        self.session.headers.update({"Accept": "application/json",
                                     "User-Agent": "crm-bridge rt connector"})
        # No urllib3 retries: sync decides what to retry, from the error type alone.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=max(1, pool_size), max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

    def close(self) -> None:
        self.session.close()

    # -- the one place RT's answers are judged ----------------------------------------------
    def call(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
             json: Any = None) -> Any:
        """``method path`` under /REST/2.0; the parsed JSON body, or a bridge error. A GET
        is asked again on a transient failure (``read_attempts`` in all); anything else is
        left to sync, which knows whether repeating it is safe."""
        if method != "GET":
            return self._call_once(method, path, params=params, json=json)
        return read_again(lambda: self._call_once(method, path, params=params, json=json),
                          self.read_attempts, self.read_retry_wait,
                          again=lambda error: not isinstance(error, _NoAnswer))

    def _call_once(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                   json: Any = None) -> Any:
        url = path if path.startswith("http") else f"{self.api}/{path.lstrip('/')}"
        shown = url[len(self.api):] if url.startswith(self.api) else url
        shown = shown.split("?", 1)[0]
        self._refuse_while_silent(method, shown)
        started = time.perf_counter()
        try:
            response = self.session.request(method, url, params=params, json=json,
                                            timeout=self.timeout)
        except requests.Timeout as exc:
            log.info("RT %s %s: timed out", method, shown)
            self._silent_since = time.monotonic()
            limit = (self.timeout[0] if isinstance(exc, requests.ConnectTimeout)
                     else self.timeout[1])
            raise _NoAnswer(
                f"RT at {self.base_url} did not answer {method} {shown} within {limit:g} s",
                retry_after=self.pause_after_timeout or None) from exc
        except requests.RequestException as exc:
            log.info("RT %s %s: unreachable", method, shown)
            raise TransientError(f"RT at {self.base_url} cannot be reached "
                                 f"({type(exc).__name__}): is it running?") from exc
        with response:
            elapsed = (time.perf_counter() - started) * 1000
            log.info("RT %s %s -> %d (%.0f ms)", method, shown, response.status_code, elapsed)
            return self._check(method, shown, response)

    def _refuse_while_silent(self, method: str, shown: str) -> None:
        if self._silent_since is None:
            return
        left = self.pause_after_timeout - (time.monotonic() - self._silent_since)
        if left <= 0:
            self._silent_since = None
            return
        log.info("RT %s %s: not called, RT did not answer a call just before", method, shown)
        raise _NoAnswer(f"RT at {self.base_url} did not answer a call moments ago; not "
                             f"calling it again ({method} {shown}) for {left:.0f} s",
                             retry_after=left)

    def _check(self, method: str, shown: str, response: requests.Response) -> Any:
        status = response.status_code
        what = f"RT refused {method} {shown} (HTTP {status})"
        if status == 429 or status >= 500:
            after = retry_after_seconds(response.headers.get("Retry-After"))
            raise TransientError(f"RT is busy or failing: {method} {shown} answered HTTP "
                                 f"{status}{_summary(response)}", retry_after=after)
        if status in (401, 403):
            hint = ("the token or password was not accepted" if status == 401
                    else "the bridge's RT account lacks a right")
            raise AuthError(f"{what}: {hint}{_reason(response)}")
        if status == 404:
            raise NotFound(f"{what}{_reason(response)}")
        if status >= 400:
            raise PermanentError(f"{what}{_reason(response)}")
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise TransientError(f"RT answered {method} {shown} with a body that is not "
                                 "JSON; retrying later") from None

    def model(self, method: str, path: str, model: type[M], *,
              params: Mapping[str, Any] | None = None, json: Any = None) -> M:
        return _validate(model, self.call(method, path, params=params, json=json), path)

    def pages(self, method: str, path: str, model: type[M], *,
              params: Mapping[str, Any] | None = None, json: Any = None) -> Iterator[M]:
        """Every item of a paged collection, page after page (RT's maximum page size)."""
        for page in self.page_lists(method, path, model, params=params, json=json):
            yield from page

    def page_lists(self, method: str, path: str, model: type[M], *,
                   params: Mapping[str, Any] | None = None, json: Any = None,
                   per_page: int | None = None) -> Iterator[list[M]]:
        """A paged collection one page at a time, so a caller can mark its progress."""
        size = per_page or PER_PAGE
        query = dict(params or {})
        query["per_page"] = size
        page_no = 1
        while True:
            query["page"] = page_no
            page = _validate(_Page, self.call(method, path, params=query, json=json), path)
            yield [_validate(model, item, path) for item in page.items]
            if len(page.items) < size or (page.pages is not None and page_no >= page.pages):
                return
            page_no += 1

    # -- RT's resources -----------------------------------------------------------------------
    def info(self) -> Info:
        return self.model("GET", "rt", Info)

    def search_tickets(self, query: str, fields: str, order_by: str = "id") -> Iterator[TicketRow]:
        return self.pages("GET", "tickets", TicketRow,
                          params={"query": query, "fields": fields, "orderby": order_by})

    def search_pages(self, query: str, fields: str) -> Iterator[list[TicketRow]]:
        """Matching tickets a page at a time, in ticket id order (which never changes, so a
        ticket updated while the pages are read cannot shift another one out of sight)."""
        return self.page_lists("GET", "tickets", TicketRow,
                               params={"query": query, "fields": fields, "orderby": "id"})

    def newest_ticket(self, query: str) -> TicketRow | None:
        """The matching ticket with the highest id, in one small call."""
        for page in self.page_lists("GET", "tickets", TicketRow, per_page=1,
                                    params={"query": query, "fields": "LastUpdated,Status",
                                            "orderby": "id", "order": "DESC"}):
            return page[0] if page else None
        return None

    def ticket(self, ticket_id: str) -> Ticket:
        return self.model("GET", f"ticket/{ticket_id}", Ticket)

    def create_ticket(self, payload: dict[str, Any]) -> str:
        return self.model("POST", "ticket", Created, json=payload).id

    def comment(self, ticket_id: str, text: str, *, subject: str | None = None,
                files: Sequence[tuple[str, str, bytes]] = ()) -> None:
        """A comment (staff only), with ``files`` as (name, content type, bytes)."""
        body: dict[str, Any] = {"Content": text, "ContentType": "text/plain"}
        if subject:
            body["Subject"] = subject
        if files:
            body["Attachments"] = [
                {"FileName": name, "FileType": kind or "application/octet-stream",
                 "FileContent": base64.b64encode(data).decode("ascii")}
                for name, kind, data in files]
        self.call("POST", f"ticket/{ticket_id}/comment", json=body)

    def ticket_attachments(self, ticket_id: str) -> list[AttachmentRow]:
        """Every part of every message on the ticket, without their contents."""
        return list(self.pages("GET", f"ticket/{ticket_id}/attachments", AttachmentRow,
                               params={"fields": "Subject,Filename,ContentType,TransactionId"}))

    def history(self, ticket_id: str) -> Iterator[Txn]:
        return self.pages("GET", f"ticket/{ticket_id}/history", Txn,
                          params={"fields": "Type,Created,Creator,Field,OldValue,NewValue"})

    def transaction_attachments(self, txn_id: str) -> list[AttachmentRow]:
        return list(self.pages("GET", f"transaction/{txn_id}/attachments", AttachmentRow,
                               params={"fields": "Filename,ContentType"}))

    def attachment(self, attachment_id: str) -> AttachmentInfo:
        return self.model("GET", f"attachment/{attachment_id}", AttachmentInfo)

    def queue(self, name: str) -> QueueInfo | None:
        """The queue called ``name``; None when RT has none (RT answers 404)."""
        try:
            return self.model("GET", f"queue/{quote(name, safe='')}", QueueInfo)
        except NotFound:
            return None

    def create_queue(self, name: str, description: str) -> str:
        return self.model("POST", "queue", Created,
                          json={"Name": name, "Description": description}).id

    def custom_fields_named(self, name: str) -> list[CustomFieldInfo]:
        return list(self.pages("POST", "customfields", CustomFieldInfo,
                               params={"fields": "Name,Type,LookupType,Disabled"},
                               json=[{"field": "Name", "value": name}]))

    def create_custom_field(self, name: str, cf_type: str, description: str) -> str:
        """A single-value ticket custom field applied to every queue.

        RT 5.0's REST 2.0 can apply a new custom field to one queue or to all, but not
        to a list of queues, and cannot apply an existing one anywhere; "all" keeps one
        field per bridge value, which TicketSQL needs (duplicate names confuse it).
        """
        return self.model("POST", "customfield", Created, json={
            "Name": name, "Type": cf_type, "MaxValues": 1, "Description": description,
            "LookupType": "RT::Queue-RT::Ticket", "Queue": 0,
        }).id


def _validate(model: type[M], data: Any, path: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        where = ".".join(str(part) for part in first["loc"]) or "the body"
        raise TransientError(f"RT answered {path} with JSON the bridge does not understand "
                             f"({where}: {first['msg']})") from None


def _summary(response: requests.Response) -> str:
    """What came back, without a word of it: a transient error is logged, and a failing
    RT's page can quote the ticket (a rejection keeps RT's reason: stored, not logged)."""
    kind = response.headers.get("Content-Type", "no content type").split(";", 1)[0].strip()
    return f" ({kind}, {len(response.content)} bytes)"


def _reason(response: requests.Response) -> str:
    """RT's own explanation: the JSON body's "message", else the start of the text."""
    try:
        problem = _Problem.model_validate(response.json())
        text = problem.message
    except ValueError:  # not JSON, or JSON that is not an object with a message
        text = response.text
    text = " ".join(text.split())[:300]
    return f": {text}" if text else ""
