"""Retrying CRM calls that failed for a reason that may pass: bounded, with jittered backoff.

Only TransientError is retried, at most ``attempts`` times and for at most ``max_total``
seconds. A server's Retry-After is honoured: waited when it is no longer than ``max_wait``;
longer, and the call is not retried in this run at all (waiting would hold the run up,
retrying sooner would ignore the CRM's request), so the caller leaves the work for a later
run no sooner than the CRM asked (``requeue_delay``). PermanentError and AuthError pass
straight through.

The same policy says how long an outbox row that still failed waits for a later run
(``requeue_after``, doubling per attempt up to ``requeue_max``) and after how many rows in a
row left for later the push step stops for this run (``stop_after``): a CRM that is down
should cost a cron run seconds, not ``rows × attempts × waits``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_any,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from crm_bridge.errors import TransientError
from crm_bridge.sync.deadline import Deadline

__all__ = ["RetryPolicy", "call_with_retry", "requeue_delay", "retrying"]

T = TypeVar("T")


class RetryPolicy(BaseModel):
    """``sync.retry`` in the config: how hard one run tries, and when a later run tries again."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=3, ge=1, le=10, description="tries of one CRM call per run")
    initial_wait: float = Field(default=0.5, ge=0, le=60,
                                description="seconds before the first retry; doubles each time")
    max_wait: float = Field(default=10, ge=0, le=300,
                            description="longest wait between tries, Retry-After included")
    max_total: float = Field(default=60, gt=0, le=3600,
                             description="seconds one CRM call may take, retries included")
    requeue_after: float = Field(default=60, ge=0, le=86_400,
                                 description="seconds before a later run tries a failed row "
                                 "again; doubles with each failed run")
    requeue_max: float = Field(default=3600, ge=0, le=7 * 86_400,
                               description="longest a failed row waits for its next try")
    stop_after: int = Field(default=5, ge=1, le=10_000,
                            description="rows in a row left for later before push stops "
                            "for this run (the CRM is down)")


def _jittered_backoff(policy: RetryPolicy) -> wait_exponential_jitter:
    """tenacity 9.2 renamed ``initial`` to ``multiplier`` and warns on the old name (an
    error under the test suite's warning filter); older releases know only ``initial``."""
    try:
        return wait_exponential_jitter(multiplier=policy.initial_wait, max=policy.max_wait)
    except TypeError:  # tenacity before the rename
        return wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait)


def _hint(state: RetryCallState) -> float | None:
    """The Retry-After (seconds) the failed attempt carried, if any."""
    error = state.outcome.exception() if state.outcome else None
    hinted = getattr(error, "retry_after", None)
    if isinstance(hinted, int | float) and math.isfinite(hinted) and hinted >= 0:
        return float(hinted)
    return None


class _AskedToWaitTooLong(stop_base):
    """Stop when the CRM's Retry-After is longer than the policy lets one call wait."""

    def __init__(self, limit: float) -> None:
        self.limit = limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        hinted = _hint(retry_state)
        return hinted is not None and hinted > self.limit


class _PastDeadline(stop_base):
    """Stop retrying once the run's deadline has passed: the next run tries again."""

    def __init__(self, deadline: Deadline) -> None:
        self.deadline = deadline

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self.deadline.passed()


class _TookTooLong(stop_base):
    """Stop once ``max_total`` seconds have passed since the first try began."""

    def __init__(self, started: float, limit: float) -> None:
        self.started, self.limit = started, limit

    def __call__(self, retry_state: RetryCallState) -> bool:
        return time.monotonic() - self.started >= self.limit


def retrying(policy: RetryPolicy, deadline: Deadline | None = None,
             started: float | None = None) -> Retrying:
    """A tenacity ``Retrying`` for ``policy``: for calls, and for pull's resumable reads.
    No retry starts once ``deadline`` has passed; ``max_total`` counts from ``started``
    (``time.monotonic()``; now when not given)."""
    backoff = _jittered_backoff(policy)
    stops: list[stop_base] = [stop_after_attempt(policy.attempts),
                              _TookTooLong(time.monotonic() if started is None else started,
                                           policy.max_total),
                              _AskedToWaitTooLong(policy.max_wait)]
    if deadline is not None:
        stops.append(_PastDeadline(deadline))

    def wait(state: RetryCallState) -> float:
        hinted = _hint(state)
        return hinted if hinted is not None else float(backoff(state))

    return Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_any(*stops),
        wait=wait,
        reraise=True,
    )


def call_with_retry(policy: RetryPolicy, call: Callable[[], T],
                    deadline: Deadline | None = None) -> T:
    """``call()``, retried on TransientError as ``policy`` (and ``deadline``) allows; its last
    error re-raised.

    The first try is made directly: most calls succeed, and a push makes one per enquiry.
    Only after a TransientError is tenacity asked, and it is handed that first failure as
    its own first attempt (so the count, the wait and ``max_total`` are as if it had made
    it)."""
    started = time.monotonic()
    try:
        return call()
    except TransientError as error:
        failed: list[TransientError] = [error]

    def again() -> T:
        if failed:
            raise failed.pop()
        return call()

    result: Any = retrying(policy, deadline, started)(again)
    return result  # type: ignore[no-any-return]


def requeue_delay(policy: RetryPolicy, attempts: int, retry_after: float | None = None
                  ) -> timedelta:
    """How long a row that failed ``attempts + 1`` runs waits: ``requeue_after`` doubled per
    earlier failure, at most ``requeue_max``, and never less than the CRM's Retry-After."""
    seconds = min(policy.requeue_max, policy.requeue_after * 2 ** min(attempts, 20))
    if retry_after is not None:
        seconds = max(seconds, retry_after)
    return timedelta(seconds=seconds)
