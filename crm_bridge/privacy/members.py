"""`crm-bridge member retire`: a member leaves office (stood down, lost a seat, died).

Each elected member is a data controller in their own right for their casework, so their
open enquiries may pass only to someone the constituent's data may lawfully go to:

* the same office: a councillor's to a councillor, an MP's to an MP (the successor), an
  MSP's to an MSP, an MEP's to an MEP; never across (an MP's casework is not the council's);
* for a councillor, a member for the ward the enquiry was logged in (``ward_id`` as stored);
* with the constituent's agreement: a councillor's enquiry whose constituent agreed to share
  with the ward's members may go to a ward colleague; any other goes only when staff record
  that the constituent has now agreed (``consented``), which its history then says.

Enquiries that may not pass stay with the departed member, listed with why, for staff to ask
the constituent and run the command again. Enquiries no longer open are archived (marked,
not changed). The member can no longer be chosen for new enquiries (``intake`` checks
``member_departures``), and their portal accounts are disabled and signed out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, select, update

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.models import OPEN_STATUSES, Member, Role
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import enquiries, member_departures, portal_sessions, users
from crm_bridge.suggest import unknown

__all__ = ["RetireReport", "departed", "departure", "retire"]

_OPEN = [s.value for s in OPEN_STATUSES]


def departed(conn: Connection) -> set[str]:
    """The ids of members who have left office."""
    return set(conn.execute(select(member_departures.c.member_id)).scalars())


def departure(conn: Connection, member_id: str) -> datetime | None:
    """When ``member_id`` left office, or None."""
    left: datetime | None = conn.execute(select(member_departures.c.left_at).where(
        member_departures.c.member_id == member_id)).scalar_one_or_none()
    return left


@dataclass
class RetireReport:
    member: str
    handover_to: str
    dry_run: bool
    left_at: datetime | None = None
    handed_over: list[str] = field(default_factory=list)
    held: list[tuple[str, str]] = field(default_factory=list)
    archived: int = 0
    accounts_disabled: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"member": self.member, "handover_to": self.handover_to,
                "dry_run": self.dry_run, "left_at": self.left_at,
                "handed_over": self.handed_over,
                "held": [{"reference": r, "why": why} for r, why in self.held],
                "archived": self.archived, "accounts_disabled": self.accounts_disabled}


def _member(config: CouncilConfig, member_id: str, flag: str) -> Member:
    member = config.member(member_id)
    if member is None:
        raise InputError(flag, unknown("member", member_id, [m.id for m in config.members]))
    return member


def _check_successor(leaving: Member, successor: Member, gone: set[str]) -> None:
    if successor.id == leaving.id:
        raise InputError("--handover-to", "name another member: the one leaving cannot take "
                         "over their own enquiries")
    if successor.id in gone:
        raise InputError("--handover-to", f"{successor.name} has left office too")
    if successor.role is not leaving.role:
        raise InputError(
            "--handover-to",
            f"{successor.name} is {_office(successor.role)} and {leaving.name} "
            f"{_office(leaving.role)}: enquiries pass only within the same office (another "
            "office is another data controller); name a member of the same office")


def _office(role: Role) -> str:
    return "a councillor" if role is Role.COUNCILLOR else f"an {role.value.upper()}"


def retire(engine: Engine, config: CouncilConfig, member_id: str, handover_to: str,
           consented: Sequence[str], reason: str, actor: str, now: datetime,
           dry_run: bool = False) -> RetireReport:
    """Record that ``member_id`` left office and hand over what may be handed over."""
    from crm_bridge.access.audit import record_command  # imported on use

    leaving = _member(config, member_id, "MEMBER")
    successor = _member(config, handover_to, "--handover-to")
    if not reason.strip():
        raise InputError("--reason", "say why the member left office (it is recorded)")
    report = RetireReport(member=leaving.id, handover_to=successor.id, dry_run=dry_run)
    successor_ward = config.ward_of(successor.id)
    agreed = {r.strip().upper() for r in consented}
    c = enquiries.c
    with engine.begin() as conn:
        gone = departed(conn)
        _check_successor(leaving, successor, gone)
        report.left_at = departure(conn, leaving.id) or now
        open_rows = conn.execute(
            select(c.id, c.reference, c.ward_id, c.consent_to_share)
            .where(c.member_id == leaving.id, c.status.in_(_OPEN)).order_by(c.reference)).all()
        unknown_refs = agreed - {r.reference for r in open_rows}
        if unknown_refs:
            raise InputError("--consented", f"{sorted(unknown_refs)[0]} is not an open "
                             f"enquiry of {leaving.name}'s")
        passing: list[tuple[str, str, bool]] = []
        for row in open_rows:
            why = _why_not(leaving, successor, successor_ward.id if successor_ward else None,
                           row.ward_id, row.consent_to_share, row.reference in agreed)
            if why:
                report.held.append((row.reference, why))
            else:
                passing.append((row.id, row.reference, row.reference in agreed))
        report.handed_over = [ref for _, ref, _ in passing]
        to_archive = list(conn.execute(select(c.id).where(
            c.member_id == leaving.id, c.status.not_in(_OPEN),
            c.archived_at.is_(None))).scalars())
        report.archived = len(to_archive)
        report.accounts_disabled = list(conn.execute(select(users.c.username).where(
            users.c.member_id == leaving.id, users.c.active.is_(True))).scalars())
        if dry_run:
            conn.rollback()
            return report
        if leaving.id not in gone:
            conn.execute(member_departures.insert().values(
                member_id=leaving.id, left_at=now, handover_to=successor.id,
                recorded_by=actor, reason=reason))
            record_command(conn, now, actor, "member_retired", None,
                   f"{leaving.id} left office ({reason}); handover to {successor.id}")
        for enquiry_id, _ref, with_consent in passing:
            conn.execute(update(enquiries).where(c.id == enquiry_id).values(
                member_id=successor.id, updated_at=now))
            how = ("; the constituent agreed (recorded by staff)" if with_consent
                   else "; within the constituent's consent to share with the ward")
            add_history(conn, enquiry_id, now, "handed_over", actor,
                        f"from {leaving.name} (left office) to {successor.name}{how}")
            enqueue(conn, enquiry_id, "add_note",
                    {"text": f"Now handled by {successor.name}", "author": actor,
                     "kind": "follow_up"}, now)
            record_command(conn, now, actor, "handed_over", enquiry_id,
                   f"{leaving.id} -> {successor.id}")
        for enquiry_id in to_archive:
            conn.execute(update(enquiries).where(c.id == enquiry_id).values(
                archived_at=now, updated_at=now))
            add_history(conn, enquiry_id, now, "archived", actor,
                        f"{leaving.name} left office")
        if report.accounts_disabled:
            ids = select(users.c.id).where(users.c.member_id == leaving.id)
            conn.execute(update(users).where(users.c.member_id == leaving.id)
                         .values(active=False))
            conn.execute(delete(portal_sessions).where(portal_sessions.c.user_id.in_(ids)))
    return report


def _why_not(leaving: Member, successor: Member, successor_ward: str | None,
             ward_id: str | None, shared: bool, agreed: bool) -> str | None:
    """Why an open enquiry may not pass to ``successor``; None when it may."""
    if leaving.role is Role.COUNCILLOR and ward_id != successor_ward:
        return (f"logged in ward '{ward_id}', and {successor.name} sits for "
                f"'{successor_ward}': hand it to a member for that ward")
    if agreed:
        return None
    if leaving.role is Role.COUNCILLOR and shared:
        return None
    return (f"the constituent has not agreed to share it with {successor.name}: ask them, "
            "then run this again with --consented REF")
