"""Error codes the CRM answered that its mapping does not place, as the store remembers them.

Push records an ``UnplacedCodeError`` in the outbox row's ``last_error`` (waiting or held),
worded ``… (ErrorCode N, not placed …``; `connector check` lists them for the admin, who
places each in the mapping, then retries what was held.
"""

from __future__ import annotations

import re

from sqlalchemy import Engine, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from crm_bridge.store.tables import outbox

__all__ = ["unplaced_in_store"]

_CODE = re.compile(r'"([^"]*)" \(ErrorCode (-?\d+), not placed')


def unplaced_in_store(engine: Engine) -> dict[str, tuple[str, int]]:
    """Code → (the CRM's words, how many outbox rows wait or are held on it); empty when
    the store is not there yet."""
    found: dict[str, tuple[str, int]] = {}
    try:
        if not inspect(engine).has_table(outbox.name):
            return found
        with engine.connect() as conn:
            rows = conn.execute(select(outbox.c.last_error).where(
                outbox.c.state.in_(("pending", "failed")),
                outbox.c.last_error.contains("not placed"))).scalars().all()
    except SQLAlchemyError:
        return found
    for text in rows:
        match = _CODE.search(text or "")
        if match:
            words, code = match.groups()
            found[code] = (words, found.get(code, ("", 0))[1] + 1)
    return found
