"""Who may see and do what: one module decides every read of an enquiry, for the portal's
pages and JSON API, the CLI (``--as``), search, possible duplicates and the dashboard.

Each elected member is a separate controller of their casework (the ICO's guidance for
elected representatives), so visibility follows who controls it:

- a **member** sees their own enquiries; a councillor also sees their ward colleagues'
  enquiries filed in that ward whose constituent agreed to share; any member also sees the
  consented enquiries of a member whose ``access.sharing`` arrangement names them. An MP's,
  MSP's or MEP's casework is shared with no one else unless such an arrangement exists;
- **staff** (members' services) see, log and reassign the casework of the members their
  staff group works for (``access.staff_groups``: by default every councillor, no MP, MSP
  or MEP unless listed), acting for those members; they log and add notes in their name;
- an **admin** manages user accounts and sees no constituent's data.

The config is read once, when a principal is made (``principal_for``): the principal then
carries the member ids it may see, so lists are narrowed in SQL by ``visible_branches`` and
single enquiries checked by ``can_view`` from the same sets, and a page, its API and the
CLI can never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, false, or_

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import Enquiry, Member, Role
from crm_bridge.store.tables import enquiries

__all__ = [
    "Principal",
    "UserRole",
    "audience_words",
    "can_add_note",
    "can_link",
    "can_log_for",
    "can_view",
    "consent_question",
    "loggable_members",
    "own_clause",
    "principal_for",
    "shared_branches",
    "shared_with",
    "sharing_audience",
    "staff_scope",
    "visible_branches",
    "visible_clause",
]


class UserRole(StrEnum):
    """What a portal user may do; checked on every request."""

    MEMBER = "member"  # an elected member: own casework and what is shared with them
    STAFF = "staff"  # members' services: the casework of their staff group's members
    ADMIN = "admin"  # user accounts only: no constituents' data


@dataclass(frozen=True)
class Principal:
    """The signed-in user, as every authorisation check sees them.

    ``scope`` (staff) is the members whose casework they work on; ``ward_sharers`` are the
    councillors whose consented enquiries in ``ward_id`` this member sees; ``direct_sharers``
    the members whose consented enquiries they see wherever filed (sharing arrangements).
    """

    user_id: int
    username: str
    name: str
    role: UserRole
    member_id: str | None
    ward_id: str | None
    session_id: str
    staff_group: str | None = None
    scope: frozenset[str] = field(default_factory=frozenset)
    ward_sharers: frozenset[str] = field(default_factory=frozenset)
    direct_sharers: frozenset[str] = field(default_factory=frozenset)

    @property
    def is_staff(self) -> bool:
        return self.role is UserRole.STAFF

    @property
    def is_admin(self) -> bool:
        return self.role is UserRole.ADMIN

    @property
    def sees_enquiries(self) -> bool:
        return (self.role is UserRole.STAFF and bool(self.scope)) or (
            self.role is UserRole.MEMBER and self.member_id is not None)


def staff_scope(config: CouncilConfig, group_id: str | None) -> frozenset[str]:
    """The members whose casework a staff group works on. No group (accounts made before
    staff groups existed): every councillor, the default group's reach. A group the config
    no longer has: nobody."""
    if group_id is None:
        return frozenset(m.id for m in config.members if m.role is Role.COUNCILLOR)
    group = config.access.staff_group(group_id)
    if group is None:
        return frozenset()
    chosen = {m.id for m in config.members if group.councillors and m.role is Role.COUNCILLOR}
    return frozenset(chosen | (set(group.members) & {m.id for m in config.members}))


def _ward_colleagues(config: CouncilConfig, member_id: str) -> list[str]:
    member = config.member(member_id)
    ward = config.ward_of(member_id)
    if member is None or member.role is not Role.COUNCILLOR or ward is None:
        return []
    return [m for m in ward.members if m != member_id]


def sharing_audience(config: CouncilConfig, member_id: str) -> list[Member]:
    """The members who see ``member_id``'s enquiries when the constituent agrees to share:
    a councillor's ward colleagues, and whoever a sharing arrangement names."""
    ids = list(_ward_colleagues(config, member_id))
    for arrangement in config.access.sharing:
        if arrangement.member == member_id:
            ids += [m for m in arrangement.shared_with if m not in ids]
    return [m for m in (config.member(i) for i in ids) if m is not None]


def shared_with(config: CouncilConfig, member_id: str, consent: bool) -> str:
    """Who an enquiry is shared with, in words: "ward colleagues" for a councillor's
    consented enquiry, the names an arrangement gives, or "not shared"."""
    audience = sharing_audience(config, member_id) if consent else []
    if not audience:
        return "not shared"
    colleagues = set(_ward_colleagues(config, member_id))
    others = [m.name for m in audience if m.id not in colleagues]
    words = ["ward colleagues"] if colleagues else []
    return "shared with " + " and ".join(words + ([_names(others)] if others else []))


def consent_question(config: CouncilConfig, member_id: str) -> str | None:
    """The sharing question, naming exactly who would see the enquiry; None when the
    member's casework is shared with no one (then it is not asked, and not shared)."""
    audience = audience_words(config, member_id)
    return f"Share with {audience}?" if audience else None


def audience_words(config: CouncilConfig, member_id: str) -> str | None:
    """Who sees the member's consented enquiries, in words: "the other councillors for
    Clackmannanshire North (Iain Tennant, …)", and any arrangement's members; None: no one."""
    audience = sharing_audience(config, member_id)
    if not audience:
        return None
    colleagues = set(_ward_colleagues(config, member_id))
    ward = config.ward_of(member_id)
    in_ward = [m.name for m in audience if m.id in colleagues]
    others = [m.name for m in audience if m.id not in colleagues]
    parts = []
    if in_ward and ward is not None:
        parts.append(f"the other councillors for {ward.name} ({_names(in_ward)})")
    if others:
        parts.append(_names(others))
    return " and with ".join(parts)


def _names(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def principal_for(config: CouncilConfig, *, user_id: int, username: str, name: str,
                  role: UserRole, member_id: str | None, staff_group: str | None,
                  session_id: str) -> Principal:
    """A principal with what the config lets it see worked out once."""
    if role is not UserRole.MEMBER or (member_id is not None and config.member(member_id)
                                       is None):
        member_id = None  # not a member account, or the member has left the config
    ward = config.ward_of(member_id) if member_id else None
    direct: set[str] = set()
    ward_sharers: set[str] = set()
    if member_id is not None:
        direct = {a.member for a in config.access.sharing if member_id in a.shared_with}
        direct.discard(member_id)
        ward_sharers = set(_ward_colleagues(config, member_id)) - direct
    scope = staff_scope(config, staff_group) if role is UserRole.STAFF else frozenset()
    return Principal(user_id=user_id, username=username, name=name, role=role,
                     member_id=member_id, ward_id=ward.id if ward else None,
                     session_id=session_id,
                     staff_group=staff_group if role is UserRole.STAFF else None,
                     scope=scope, ward_sharers=frozenset(ward_sharers),
                     direct_sharers=frozenset(direct))


def can_view(who: Principal, member_id: str, ward_id: str | None, consent: bool) -> bool:
    """May ``who`` see an enquiry logged for ``member_id`` in ``ward_id``?"""
    if who.role is UserRole.STAFF:
        return member_id in who.scope
    if who.role is not UserRole.MEMBER or who.member_id is None:
        return False
    if member_id == who.member_id:
        return True
    if not consent:
        return False
    if member_id in who.direct_sharers:
        return True
    return member_id in who.ward_sharers and ward_id is not None and ward_id == who.ward_id


_FEW_MEMBERS = 3  # a staff scope this small is queried one member (one index range) at a time


def own_clause(who: Principal) -> ColumnElement[bool] | None:
    """The enquiries that are the principal's own work: a member's own, or (staff) those of
    the members they work for. None: no such enquiries."""
    c = enquiries.c
    if who.role is UserRole.STAFF:
        return c.member_id.in_(sorted(who.scope)) if who.scope else None
    if who.role is UserRole.MEMBER and who.member_id is not None:
        return c.member_id == who.member_id
    return None


def shared_branches(who: Principal) -> list[ColumnElement[bool]]:
    """Enquiries others share with a member, as disjoint WHERE clauses: the ward's consented
    ones from ward colleagues, and the consented ones of members with an arrangement."""
    if who.role is not UserRole.MEMBER or who.member_id is None:
        return []
    c = enquiries.c
    branches: list[ColumnElement[bool]] = []
    if who.ward_id is not None and who.ward_sharers:
        branches.append(and_(c.ward_id == who.ward_id, c.consent_to_share.is_(True),
                             c.member_id.in_(sorted(who.ward_sharers))))
    if who.direct_sharers:
        branches.append(and_(c.member_id.in_(sorted(who.direct_sharers)),
                             c.consent_to_share.is_(True)))
    return branches


def visible_branches(who: Principal) -> list[ColumnElement[bool]]:
    """``can_view`` as WHERE clauses on the enquiries table, one per reason to see a row
    (own; shared in the ward; shared by arrangement), disjoint, to be queried separately: an
    OR between them makes SQLite gather and sort every visible row instead of walking one
    index in order.

    Staff of a few members get one branch per member. For many, the member test is written
    on ``member_id || ''`` so that no index serves it: SQLite then walks the newest-first
    index and tests each row, instead of reading every row of those members through the
    member index and sorting them (a search over 100,000 enquiries: ~7 ms against ~300 ms).
    """
    if who.role is UserRole.STAFF:
        members = sorted(who.scope)
        c = enquiries.c
        if len(members) <= _FEW_MEMBERS:
            return [c.member_id == m for m in members]
        return [c.member_id.concat("").in_(members)]
    own = own_clause(who)
    return ([own] if own is not None else []) + shared_branches(who)


def visible_clause(who: Principal) -> ColumnElement[bool]:
    """``can_view`` as one WHERE clause (for simple checks; lists use ``visible_branches``)."""
    branches = visible_branches(who)
    return or_(*branches) if branches else false()


def can_log_for(who: Principal, member_id: str) -> bool:
    """Members log as themselves; staff for the members their group works for."""
    if who.role is UserRole.STAFF:
        return member_id in who.scope
    return who.role is UserRole.MEMBER and who.member_id == member_id


def can_add_note(who: Principal, enquiry: Enquiry) -> bool:
    """Follow-ups go to the CRM in the member's name: their own enquiries, or staff acting
    for that member."""
    return can_log_for(who, enquiry.member_id)


def can_link(who: Principal, one: tuple[str, str | None, bool],
             other: tuple[str, str | None, bool]) -> bool:
    """May ``who`` link two enquiries, each given as (member_id, ward_id, consent)? Only
    enquiries they may see, and at least one their own work (a member's own, or staff
    acting for its member): a link sends a note to the CRM in that member's name. Staff
    thereby link across the members they work for."""
    if not (can_view(who, *one) and can_view(who, *other)):
        return False
    return can_log_for(who, one[0]) or can_log_for(who, other[0])


def loggable_members(who: Principal, config: CouncilConfig) -> list[tuple[str, str]]:
    """(id, name) of the members ``who`` may log an enquiry for."""
    return [(m.id, m.name) for m in config.members if can_log_for(who, m.id)]
