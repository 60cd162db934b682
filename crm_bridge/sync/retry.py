"""Retrying CRM calls that failed for a reason that may pass: bounded, with jittered backoff.

Only TransientError is retried; a server's Retry-After is honoured (capped by
the run's time budget). PermanentError and AuthError pass straight through.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception_type,
    stop_after_attempt,
    stop_after_delay,
    wait_exponential_jitter,
)

from crm_bridge.errors import TransientError

__all__ = ["RetryPolicy", "call_with_retry"]

T = TypeVar("T")


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    attempts: int = Field(default=3, ge=1, le=10)
    initial_wait: float = Field(default=0.5, ge=0, le=60)
    max_wait: float = Field(default=10, ge=0, le=300)
    max_total: float = Field(default=60, gt=0, le=3600)


def _jittered_backoff(policy: RetryPolicy) -> wait_exponential_jitter:
    """tenacity 9.2 renamed ``initial`` to ``multiplier`` and warns on the old name (an
    error under the test suite's warning filter); older releases know only ``initial``."""
    try:
        return wait_exponential_jitter(multiplier=policy.initial_wait, max=policy.max_wait)
    except TypeError:  # tenacity before the rename
        return wait_exponential_jitter(initial=policy.initial_wait, max=policy.max_wait)


def call_with_retry(policy: RetryPolicy, call: Callable[[], T]) -> T:
    backoff = _jittered_backoff(policy)

    def wait(state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        hinted = getattr(error, "retry_after", None)
        if isinstance(hinted, int | float) and hinted >= 0:
            return float(min(hinted, policy.max_wait))
        return float(backoff(state))

    retrying: Retrying = Retrying(
        retry=retry_if_exception_type(TransientError),
        stop=stop_after_attempt(policy.attempts) | stop_after_delay(policy.max_total),
        wait=wait,
        reraise=True,
    )
    result: Any = retrying(call)
    return result  # type: ignore[no-any-return]
