"""Linking two enquiries as the same issue, and undoing it: the one path the portal, the
JSON API and the CLI (`enquiry link` / `enquiry unlink`) all take.

A link is a record, not a flag: who linked the pair, when and why; unlinking keeps the row
and adds who undid it, when and why. Both enquiries' histories and the audit log say so.

Who may: the access policy (``access.policy.can_link``): a user links only enquiries they
may see, and at least one must be their own work (a member's own, or staff acting for its
member), so members' services staff link across the members they work for.

What the CRM hears (through the outbox, on the next sync; ``crm_bridge.sync.links``):

- for two different services: a ``duplicate_link`` note on each case (one not sent yet
  waits for its case); each service works its own case, and unlinking notes each case too;
- linked before one of them is sent: nothing now; the sync adds the later one to the
  earlier one's case as a ``duplicate_link`` note instead of opening a case for it (it is
  then *folded* into that case: ``enquiries.folded_into``);
- both sent already, each to its own case: a ``duplicate_link`` note on each case;
- unlinked, both with their own cases: a ``duplicate_unlink`` note on each case;
- unlinked, one folded into the other's case: a ``duplicate_unlink`` note on that case, and
  the folded enquiry goes back to ``logged``, without the shared case's response (its
  history keeps it), with a new ``create_case`` row, so the next sync opens its own case
  (unless it is still linked to another enquiry on that case).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, or_, select, update

from crm_bridge.access.audit import PORTAL, record
from crm_bridge.access.policy import Principal, can_link, can_view
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.models import Status
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import enquiries, enquiry_links

__all__ = ["MAX_REASON", "Actor", "LinkDone", "NotYours", "active_partners", "link", "unlink"]

MAX_REASON = 500
LINK_NOTE = "duplicate_link"
UNLINK_NOTE = "duplicate_unlink"


@dataclass(frozen=True)
class LinkDone:
    """What linking or unlinking did: ``changed`` False when there was nothing to do
    (already linked); ``crm`` says, in words, what the CRM will be told."""

    reference: str
    other: str
    changed: bool
    crm: str


class NotYours(InputError):
    """The policy refuses the pair: the user sees both but neither is their own work."""


@dataclass(frozen=True)
class Actor:
    """Who is acting: ``principal`` None is the CLI's operator (no policy limit)."""

    username: str
    name: str
    principal: Principal | None
    via: str = PORTAL


_COLUMNS = (enquiries.c.id, enquiries.c.reference, enquiries.c.member_id, enquiries.c.ward_id,
            enquiries.c.consent_to_share, enquiries.c.crm_ref, enquiries.c.status,
            enquiries.c.folded_into, enquiries.c.purged_at, enquiries.c.service_id)


def _row(conn: Connection, who: Actor, key: str, field: str) -> Any:
    """An enquiry by reference or id, as ``who`` may see it (one they may not see is as
    one that does not exist)."""
    key = key.strip()
    c = enquiries.c
    row = conn.execute(select(*_COLUMNS).where(
        or_(c.reference == key.upper(), c.id == key.lower()))).first()
    if row is not None and who.principal is not None and not can_view(
            who.principal, row.member_id, row.ward_id, row.consent_to_share):
        row = None
    if row is None:
        raise NotFoundError(f"{field}: no enquiry '{key}': check the reference "
                            "(like ENQ-2026-000123)")
    return row


def _reason(reason: str | None, required: bool, field: str = "reason") -> str | None:
    text = (reason or "").strip()
    if required and not text:
        raise InputError(field, "Say why the enquiries are no longer the same issue")
    if len(text) > MAX_REASON:
        raise InputError(field, f"The reason must be {MAX_REASON} characters or fewer")
    return text or None


def _pair(conn: Connection, who: Actor, reference: str, other: str) -> tuple[Any, Any]:
    a = _row(conn, who, reference, "reference")
    b = _row(conn, who, other, "other")
    if a.id == b.id:
        raise InputError("other", "An enquiry cannot be linked to itself: give the other "
                         "enquiry's reference")
    if who.principal is not None and not can_link(
            who.principal, (a.member_id, a.ward_id, a.consent_to_share),
            (b.member_id, b.ward_id, b.consent_to_share)):
        raise NotYours("other", f"You may link {a.reference} and {b.reference} only if one "
                         "of them is your own enquiry (or, for staff, a member's you work for)")
    return a, b


def _link_row(conn: Connection, a: str, b: str) -> Any:
    x = enquiry_links.c
    return conn.execute(select(x.enquiry_id, x.unlinked_at).where(
        x.enquiry_id == a, x.linked_id == b)).first()


def _is_active(conn: Connection, a: str, b: str) -> bool:
    found = _link_row(conn, a, b)
    return found is not None and found.unlinked_at is None


def _record_both(conn: Connection, who: Actor, now: datetime, event: str, a: Any, b: Any,
                 reason: str | None) -> None:
    for one, two in ((a, b), (b, a)):
        detail = two.reference + (f": {reason}" if reason else "")
        add_history(conn, one.id, now, event, who.username, detail)
        record(conn, now, who.username, event, one.id, two.reference, via=who.via)


def link(conn: Connection, who: Actor, reference: str, other: str, reason: str | None,
         now: datetime) -> LinkDone:
    """Link two enquiries as the same issue, in ``conn``'s transaction."""
    text = _reason(reason, required=False)
    a, b = _pair(conn, who, reference, other)
    if _is_active(conn, a.id, b.id):
        return LinkDone(a.reference, b.reference, False, "already linked")
    x = enquiry_links.c
    values = {"kind": "duplicate", "linked_by": who.username, "linked_at": now,
              "reason": text, "unlinked_by": None, "unlinked_at": None, "unlink_reason": None}
    for one, two in ((a.id, b.id), (b.id, a.id)):
        if _link_row(conn, one, two) is None:
            conn.execute(enquiry_links.insert().values(enquiry_id=one, linked_id=two, **values))
        else:
            conn.execute(update(enquiry_links).where(x.enquiry_id == one, x.linked_id == two)
                         .values(**values))
    _record_both(conn, who, now, "linked", a, b, text)
    return LinkDone(a.reference, b.reference, True, _crm_on_link(conn, who, a, b, now))


def _sent(row: Any) -> bool:
    return row.crm_ref is not None


def _notes(conn: Connection, who: Actor, a: Any, b: Any, now: datetime, kind: str,
           words: str) -> None:
    """A note of ``kind`` for each enquiry's case about the other (one not sent yet waits
    for its case in the outbox, as any note does)."""
    for one, two in ((a, b), (b, a)):
        case = f" (CRM case {two.crm_ref})" if two.crm_ref else ""
        enqueue(conn, one.id, "add_note", {"text": f"{words} {two.reference}{case}.",
                                           "author": who.name, "kind": kind}, now)


def _crm_on_link(conn: Connection, who: Actor, a: Any, b: Any, now: datetime) -> str:
    if a.service_id != b.service_id:  # two services: each works its own case
        _notes(conn, who, a, b, now, LINK_NOTE, "Same issue as")
        return ("different services: each keeps its own CRM case, and the next sync notes "
                "the other on each")
    if _sent(a) and _sent(b):
        if a.crm_ref == b.crm_ref:
            return f"already on one CRM case ({a.crm_ref})"
        _notes(conn, who, a, b, now, LINK_NOTE, "Same issue as")
        return "the next sync adds a note about the other to each CRM case"
    if _sent(a) or _sent(b):
        first, second = (a, b) if _sent(a) else (b, a)
        return (f"the next sync adds {second.reference} to the CRM case of "
                f"{first.reference} ({first.crm_ref}) instead of opening another")
    return "the next sync opens one CRM case for the first sent and adds the other to it"


def unlink(conn: Connection, who: Actor, reference: str, other: str, reason: str | None,
           now: datetime) -> LinkDone:
    """Undo a link, recording who, when and why, in ``conn``'s transaction."""
    text = _reason(reason, required=True)
    a, b = _pair(conn, who, reference, other)
    if not _is_active(conn, a.id, b.id):
        raise InputError("other", f"{a.reference} is not linked to {b.reference}")
    x = enquiry_links.c
    conn.execute(update(enquiry_links).where(or_(
        and_(x.enquiry_id == a.id, x.linked_id == b.id),
        and_(x.enquiry_id == b.id, x.linked_id == a.id)))
        .values(unlinked_by=who.username, unlinked_at=now, unlink_reason=text))
    _record_both(conn, who, now, "unlinked", a, b, text)
    return LinkDone(a.reference, b.reference, True, _crm_on_unlink(conn, who, a, b, now))


def _crm_on_unlink(conn: Connection, who: Actor, a: Any, b: Any, now: datetime) -> str:
    if a.service_id != b.service_id or (_sent(a) and _sent(b) and a.crm_ref != b.crm_ref):
        _notes(conn, who, a, b, now, UNLINK_NOTE, "No longer the same issue as")
        return "the next sync adds a note that they are no longer linked to each CRM case"
    if not (_sent(a) and _sent(b)):
        return "nothing to tell the CRM: they were not on one case"
    leaving = [row for row in (a, b) if row.folded_into is not None
               and not _still_on_case(conn, row)]
    stays = b if leaving and leaving[0] is a else a
    for row in leaving[:1]:
        enqueue(conn, stays.id, "add_note",
                {"text": f"{row.reference} is no longer linked to this case: it gets a case "
                         "of its own.", "author": who.name, "kind": UNLINK_NOTE}, now)
        # Not the same issue: the shared case's answer was not to this one (its history
        # keeps it); it waits for its own case's, as a new enquiry does.
        set_fields(conn, row.id, now, crm_ref=None, folded_into=None,
                   status=Status.LOGGED.value, response=None, responded_at=None,
                   response_arrived_at=None, closed_at=None, overdue=False)
        enqueue(conn, row.id, "create_case", {}, now)
        add_history(conn, row.id, now, "unfolded", who.username,
                    f"left CRM case {row.crm_ref}: the next sync opens a case of its own",
                    Status.LOGGED)
        return (f"the next sync notes on CRM case {row.crm_ref} that {row.reference} left "
                "it, and opens a case of its own for it")
    return f"both stay on CRM case {a.crm_ref}: each is still linked to another on it"


def _still_on_case(conn: Connection, row: Any) -> bool:
    """Whether a folded enquiry is still linked to another enquiry on its case."""
    x, c = enquiry_links.c, enquiries.c
    found = conn.execute(select(c.id).select_from(
        enquiry_links.join(enquiries, enquiries.c.id == x.linked_id))
        .where(x.enquiry_id == row.id, x.unlinked_at.is_(None), c.crm_ref == row.crm_ref)
        .limit(1)).first()
    return found is not None


def active_partners(conn: Connection, enquiry_id: str) -> list[str]:
    """The ids of the enquiries linked (and not unlinked) to ``enquiry_id``."""
    x = enquiry_links.c
    return list(conn.execute(select(x.linked_id).where(
        x.enquiry_id == enquiry_id, x.unlinked_at.is_(None)).order_by(x.linked_id)).scalars())
