"""Linked enquiries in the sync: one CRM case for the same issue, and its answers for all.

Push (``Folding``): before opening a case for an enquiry that is linked (``crm_bridge.links``)
to one already on a CRM case, it adds the enquiry to that case as a ``duplicate_link`` note
instead, and records the case's reference on it (``crm_ref``), ``folded_into`` the enquiry
that case belongs to, and ``sent``. The note carries what the service needs to know it is
the same issue raised again: the reference, the member it was raised with, when, the
response date, the description and location. No constituent's details: the bridge, not the
service, answers the second constituent (below). A partner whose case is closed, or whose
personal data was purged, takes no more enquiries, nor does one for another service (each
service works its own case; ``crm_bridge.links`` notes the other on each): the enquiry gets a
case of its own.

Pull (``fan_out``): every change the CRM reports on a case reaches every enquiry on it, the
one it was opened for and each folded into it, as if reported on each: its status, the
response (each member is notified of the response on their own enquiry, as for any
response) and a history row with the CRM's event id, so reading it twice applies it once.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from connectors.base import CaseUpdate, Connector, Note
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.links import LINK_NOTE
from crm_bridge.models import Status
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.outbox import Claim, mark_done
from crm_bridge.store.tables import enquiries, enquiry_links
from crm_bridge.sync.retry import RetryPolicy, call_with_retry

__all__ = ["Folding", "fan_out", "fold_note"]

ACTOR = "sync"
_CHUNK = 500
_UNSENT = (Status.LOGGED.value, Status.FAILED_TO_SEND.value)


def _chunks(values: Sequence[str]) -> Iterable[list[str]]:
    for start in range(0, len(values), _CHUNK):
        yield list(values[start:start + _CHUNK])


def fold_note(row: Any, config: CouncilConfig, primary_reference: str) -> Note:
    """The note that adds ``row``'s enquiry to the case of ``primary_reference``."""
    member = config.member(row.member_id)
    name = member.name if member else row.member_id
    lines = [f"The same issue as {primary_reference}, raised again with {name} "
             f"({row.reference}, received {row.received_at:%d %b %Y}). The bridge passes "
             "this case's response to both.",
             f"Response due by: {row.target_date.isoformat()}", "", row.description]
    if row.location:
        lines.append(f"Location: {row.location}")
    return Note(text="\n".join(lines), author=name, kind=LINK_NOTE, key=f"fold-{row.id}")


class Folding:
    """Push's side: folding an enquiry that has links (push reads which have, with the
    enquiry) into a linked enquiry's case."""

    def __init__(self, engine: Engine, connector: Connector, config: CouncilConfig,
                 policy: RetryPolicy, now: datetime) -> None:
        self.engine, self.connector, self.config = engine, connector, config
        self.policy, self.now = policy, now

    def target(self, enquiry_id: str, service_id: str) -> Any:
        """The linked enquiry for the same service already on an open CRM case (the
        earliest sent), or None."""
        x, c = enquiry_links.c, enquiries.c
        with self.engine.connect() as conn:
            return conn.execute(
                select(c.id, c.reference, c.crm_ref, c.folded_into)
                .select_from(enquiry_links.join(enquiries, c.id == x.linked_id))
                .where(x.enquiry_id == enquiry_id, x.unlinked_at.is_(None),
                       c.crm_ref.is_not(None), c.status != Status.CLOSED.value,
                       c.purged_at.is_(None), c.service_id == service_id)
                .order_by(c.received_at, c.reference).limit(1)).first()

    def fold(self, claim: Claim, row: Any) -> bool:
        """Add ``row``'s enquiry to a linked enquiry's case; False when there is none."""
        target = self.target(claim.enquiry_id, row.service_id)
        if target is None:
            return False
        note = fold_note(row, self.config, target.reference)
        call_with_retry(self.policy, lambda: self.connector.add_note(target.crm_ref, note))
        status = Status.SENT if row.status in _UNSENT else Status(row.status)
        with claim.writer() as conn:
            set_fields(conn, row.id, self.now, crm_ref=target.crm_ref,
                       folded_into=target.folded_into or target.id, failure_reason=None,
                       status=status.value)
            add_history(conn, row.id, self.now, "sent", ACTOR,
                        f"added to CRM case {target.crm_ref} of {target.reference} as a "
                        "linked enquiry", status)
            add_history(conn, target.id, self.now, "linked_added", ACTOR,
                        f"{row.reference} added to CRM case {target.crm_ref} as a note")
            mark_done(conn, claim, self.now)
        return True


def fan_out(conn: Connection, mine: list[tuple[Any, CaseUpdate]]
            ) -> list[tuple[Any, CaseUpdate]]:
    """``mine`` (enquiry row, CRM change) with each change also paired with every other
    enquiry on its case when folding put more than one there."""
    refs = sorted({u.case_ref for _, u in mine})
    if not refs:
        return mine
    c = enquiries.c
    by_case: dict[str, list[Any]] = {}
    folded: set[str] = set()
    for chunk in _chunks(refs):
        query = (select(c.id, c.crm_ref, c.status, c.response, c.purged_at, c.folded_into)
                 .where(c.crm_ref.in_(chunk)).order_by(c.id))
        if conn.dialect.name == "postgresql":
            query = query.with_for_update(key_share=True)
        for row in conn.execute(query):
            by_case.setdefault(row.crm_ref, []).append(row)
            if row.folded_into is not None:
                folded.add(row.id)
    if not folded:
        return mine
    out = list(mine)
    for row, update in mine:
        on_case = by_case.get(update.case_ref, [])
        if len(on_case) < 2 or not (folded & {r.id for r in on_case}):
            continue
        out += [(other, update) for other in on_case if other.id != row.id]
    return out
