"""Who may see and do what: one module, used by every page and API route.

Rules (the design card's guarantee):
- a **member** sees their own enquiries and, for their ward, their colleagues' enquiries
  whose constituent consented to sharing; they log and add notes only as themselves;
- **staff** (members' services) see every enquiry, log on behalf of any member, add notes
  and reassign (one enquiry or in bulk, e.g. to cover for a colleague on leave);
- an **admin** manages user accounts and sees no constituent's data.

Lists are narrowed in SQL by ``visible_branches`` and single enquiries checked by ``can_view``,
both from the same rule, so a page and its API can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, true

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import Enquiry
from crm_bridge.portal.accounts import UserRole
from crm_bridge.store.tables import enquiries

__all__ = [
    "Principal",
    "can_add_note",
    "can_log_for",
    "can_view",
    "loggable_members",
    "visible_branches",
    "visible_clause",
]


@dataclass(frozen=True)
class Principal:
    """The signed-in user, as every authorisation check sees them."""

    user_id: int
    username: str
    name: str
    role: UserRole
    member_id: str | None
    ward_id: str | None
    session_id: str

    @property
    def is_staff(self) -> bool:
        return self.role is UserRole.STAFF

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    @property
    def sees_enquiries(self) -> bool:
        return self.role is UserRole.STAFF or (
            self.role is UserRole.MEMBER and self.member_id is not None)


def can_view(who: Principal, member_id: str, ward_id: str | None, consent: bool) -> bool:
    """May ``who`` see an enquiry logged for ``member_id`` in ``ward_id``?"""
    if who.role is UserRole.STAFF:
        return True
    if who.role is not UserRole.MEMBER or who.member_id is None:
        return False
    if member_id == who.member_id:
        return True
    return consent and ward_id is not None and ward_id == who.ward_id


def visible_branches(who: Principal) -> list[ColumnElement[bool]]:
    """``can_view`` as WHERE clauses on the enquiries table, one per reason to see a row
    (own; shared in the ward), disjoint, to be queried separately: an OR between them makes
    SQLite gather and sort every visible row instead of walking one index in order."""
    c = enquiries.c
    if who.role is UserRole.STAFF:
        return [true()]
    if who.role is not UserRole.MEMBER or who.member_id is None:
        return []
    own: ColumnElement[bool] = c.member_id == who.member_id
    if who.ward_id is None:
        return [own]
    return [own, and_(c.ward_id == who.ward_id, c.consent_to_share.is_(True),
                      c.member_id != who.member_id)]


def visible_clause(who: Principal) -> ColumnElement[bool]:
    """``can_view`` as one WHERE clause (for simple checks; lists use ``visible_branches``)."""
    branches = visible_branches(who)
    return or_(*branches) if branches else false()


def can_log_for(who: Principal, member_id: str) -> bool:
    return who.role is UserRole.STAFF or (
        who.role is UserRole.MEMBER and who.member_id == member_id)


def can_add_note(who: Principal, enquiry: Enquiry) -> bool:
    """Follow-ups go to the CRM in the member's name: their own enquiries, or staff."""
    return who.role is UserRole.STAFF or (
        who.role is UserRole.MEMBER and who.member_id == enquiry.member_id)


def loggable_members(who: Principal, config: CouncilConfig) -> list[tuple[str, str]]:
    """(id, name) of the members ``who`` may log an enquiry for."""
    return [(m.id, m.name) for m in config.members if can_log_for(who, m.id)]
