"""A read asked again within the connector: a GET is safe to repeat, and asking again at
once costs one call, where leaving the failure to sync costs the whole read again from the
cursor (a CRM failing some share of its calls would then rarely finish a read).

Only transient failures are retried, ``attempts`` times in all, waiting with jittered
doubling from ``wait`` seconds; a failure whose Retry-After is longer than ``PATIENCE``
goes to the caller at once, as does one the connector says not to repeat (``again``), such
as a call RT did not answer in time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception, wait_random_exponential

from crm_bridge.errors import TransientError

__all__ = ["PATIENCE", "read_again"]

T = TypeVar("T")
PATIENCE = 10.0  # seconds: the longest wait before a read is asked for again


def _always(_error: TransientError) -> bool:
    return True


def read_again(read: Callable[[], T], attempts: int, wait: float,
               again: Callable[[TransientError], bool] = _always) -> T:
    """``read()``, asked again on a transient failure, ``attempts`` times in all."""
    if attempts <= 1:
        return read()
    jitter = wait_random_exponential(multiplier=wait, max=max(wait, PATIENCE))

    def hinted(state: RetryCallState) -> float | None:
        error = state.outcome.exception() if state.outcome else None
        return error.retry_after if isinstance(error, TransientError) else None

    def pause(state: RetryCallState) -> float:
        after = hinted(state)
        return after if after is not None else float(jitter(state))

    def too_long(state: RetryCallState) -> bool:
        after = hinted(state)
        return state.attempt_number >= attempts or (after is not None and after > PATIENCE)

    retrying = Retrying(
        retry=retry_if_exception(lambda e: isinstance(e, TransientError) and again(e)),
        stop=too_long, wait=pause, reraise=True)
    return retrying(read)
