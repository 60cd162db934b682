"""What the portal changes, shared by its pages and its JSON API so both follow one path:
log an enquiry (through ``intake.log_enquiry``: stored with its outbox row before anyone
sees the reference), add a follow-up note, link and unlink duplicates (``crm_bridge.links``),
reassign.

Notes and links go to the CRM by the outbox on the next sync; nothing here waits for it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, select, update

from crm_bridge.app import Bridge
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.links import Actor, LinkDone, link, unlink
from crm_bridge.models import OPEN_STATUSES, Enquiry, Role
from crm_bridge.portal.audit import record
from crm_bridge.portal.db import Store
from crm_bridge.portal.photos import Photo, store_photo
from crm_bridge.portal.policy import Principal, can_log_for
from crm_bridge.privacy.members import departed
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import enquiries

__all__ = ["add_note", "link_enquiries", "log_from_portal", "reassign", "unlink_enquiries"]


def log_from_portal(store: Store, bridge: Bridge, who: Principal, draft: EnquiryDraft,
                    photo: Photo | None, now: datetime) -> Enquiry:
    with store.serialised():
        logged = log_enquiry(bridge.engine, bridge.config, bridge.router, draft, now)
    with store.write() as conn:
        if photo is not None:
            store_photo(conn, str(logged.id), photo, who.username, now)
            add_history(conn, str(logged.id), now, "photo_added", who.username, photo.filename)
        record(conn, now, who.username, "logged", str(logged.id))
    return logged


def add_note(store: Store, who: Principal, enquiry: Enquiry, text: str,
             now: datetime) -> None:
    text = text.strip()
    if not text:
        raise InputError("note", "Enter the note")
    if len(text) > 5000:
        raise InputError("note", "The note must be 5000 characters or fewer")
    with store.write() as conn:
        enqueue(conn, str(enquiry.id), "add_note",
                {"text": text, "author": who.name, "kind": "follow_up"}, now)
        add_history(conn, str(enquiry.id), now, "note", who.username, text[:500])
        record(conn, now, who.username, "added_note", str(enquiry.id))


def _actor(who: Principal) -> Actor:
    return Actor(username=who.username, name=who.name, principal=who)


def link_enquiries(store: Store, who: Principal, enquiry: Enquiry, others: list[str],
                   now: datetime, reason: str | None = None) -> list[str]:
    """Link ``enquiry`` to each of ``others`` (ids or references) that the policy lets
    ``who`` link it to (``crm_bridge.links``); returns the references newly linked."""
    linked: list[str] = []
    with store.write() as conn:
        for other in others[:20]:
            try:
                done = link(conn, _actor(who), str(enquiry.id), other, reason, now)
            except NotFoundError:
                continue  # gone, or not theirs to see: as the page showed it, not an error
            if done.changed:
                linked.append(done.other)
    return linked


def unlink_enquiries(store: Store, who: Principal, enquiry: Enquiry, other: str,
                     reason: str, now: datetime) -> LinkDone:
    """Undo the link between ``enquiry`` and ``other``, recording who, when and why."""
    with store.write() as conn:
        return unlink(conn, _actor(who), str(enquiry.id), other, reason, now)


def reassign(store: Store, bridge: Bridge, who: Principal, from_member: str, to_member: str,
             references: list[str] | None, now: datetime) -> int:
    """Move open enquiries (all of ``from_member``'s, or just ``references``) to ``to_member``.

    Staff move casework only among the members their staff group works for (each member
    is its controller); a councillor only takes enquiries from their own ward, as when
    logging; the CRM is told
    by a note on the next sync.
    """
    config = bridge.config
    target = config.member(to_member)
    if target is None or not can_log_for(who, to_member):
        raise InputError("to_member", "Select the member to move the enquiries to")
    if config.member(from_member) is None or not can_log_for(who, from_member):
        raise InputError("from_member", "Select the member whose enquiries to move")
    if from_member == to_member:
        raise InputError("to_member", "Select a different member")
    target_ward = config.ward_of(to_member)
    with store.read() as conn:
        if to_member in departed(conn):
            raise InputError("to_member", f"{target.name} has left office: choose another "
                             "member")
    c = enquiries.c
    where = and_(c.member_id == from_member, c.status.in_([s.value for s in OPEN_STATUSES]))
    if references:
        where = and_(where, c.reference.in_([r.upper() for r in references]))
    moved = 0
    with store.write() as conn:
        rows = conn.execute(select(c.id, c.reference, c.ward_id).where(where)).all()
        for row in rows:
            if target.role is Role.COUNCILLOR and (target_ward is None
                                                   or row.ward_id != target_ward.id):
                raise InputError("to_member", f"{target.name} is not a councillor for the ward "
                                 f"of {row.reference}: choose one of its ward's members")
        for row in rows:
            conn.execute(update(enquiries).where(c.id == row.id)
                         .values(member_id=to_member, updated_at=now))
            add_history(conn, row.id, now, "reassigned", who.username,
                        f"from {from_member} to {to_member}")
            enqueue(conn, row.id, "add_note",
                    {"text": f"Now handled by {target.name}", "author": who.name,
                     "kind": "follow_up"}, now)
            record(conn, now, who.username, "reassigned", row.id,
                   f"{from_member} -> {to_member}")
            moved += 1
    return moved
