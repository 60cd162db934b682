"""Members' services link the demo's duplicates, as they would: mostly on the day the second
enquiry is logged, before the evening sync sends it, so the pair makes one CRM case; now
and then only days later, after both were sent, so each case gets a note about the other.

Which is which follows the plan's own keys (every ``AFTER_EVERY``-th duplicate is linked
late), not the random generator, so adding links leaves the rest of the demo as it was.
A duplicate linked early is not worked by an officer of its own: the service works the one
case, and the sync passes its answers to both enquiries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select

from crm_bridge.app import Bridge
from crm_bridge.demo.plan import PlannedEnquiry
from crm_bridge.links import Actor, link
from crm_bridge.portal.policy import UserRole, principal_for
from crm_bridge.store.tables import enquiries, enquiry_links

__all__ = ["AFTER_EVERY", "DemoLink", "LinkFigures", "count_links", "link_pair",
           "plan_links"]

AFTER_EVERY = 5
"""One duplicate in this many is linked only after both enquiries were sent."""
_LATE_LINK_TIME = time(10, 0)  # the next morning, after the evening sync sent both


@dataclass(frozen=True)
class DemoLink:
    at: datetime
    first: int  # plan keys
    second: int
    before_sent: bool


def plan_links(plans: list[PlannedEnquiry], last_day: date) -> list[DemoLink]:
    """When each duplicate is linked to the enquiry it repeats; a duplicate linked before it
    is sent loses its own officer's work (the one case is worked once)."""
    planned: list[DemoLink] = []
    for plan in plans:
        original = plan.duplicate_of
        if original is None:
            continue
        later = max(plan.logged_at, original.logged_at)
        if plan.key % AFTER_EVERY == 0:
            at = datetime.combine(later.date() + timedelta(days=1), _LATE_LINK_TIME,
                                  tzinfo=later.tzinfo)
            before = False
        else:
            at, before = later + timedelta(minutes=1), True
        if at.date() > last_day:
            continue
        if before:
            plan.take_at = plan.respond_at = plan.close_at = None
        planned.append(DemoLink(at, original.key, plan.key, before))
    return planned


def _staff(bridge: Bridge) -> Actor:
    principal = principal_for(bridge.config, user_id=0, username="members.services",
                              name="Members' Services", role=UserRole.STAFF, member_id=None,
                              staff_group=None, session_id="demo")
    return Actor(username="members.services", name="Members' Services", principal=principal)


def link_pair(bridge: Bridge, first_id: str, second_id: str, at: datetime) -> None:
    """Link two logged enquiries as members' services do (the access policy applies)."""
    with bridge.engine.begin() as conn:
        link(conn, _staff(bridge), second_id, first_id,
             "Same issue raised with a ward colleague", at)


@dataclass(frozen=True)
class LinkFigures:
    pairs: int  # linked pairs in the store
    one_case: int  # of them, pairs on one CRM case
    cases: int  # CRM cases the linked enquiries are on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_links(bridge: Bridge) -> LinkFigures:
    """Linked pairs, and the CRM cases they made, read back from the store."""
    x, c = enquiry_links.c, enquiries.c
    other = enquiries.alias("other")
    with bridge.engine.connect() as conn:
        rows = conn.execute(
            select(c.crm_ref, other.c.crm_ref.label("other_ref"))
            .select_from(enquiry_links.join(enquiries, c.id == x.enquiry_id)
                         .join(other, other.c.id == x.linked_id))
            .where(x.unlinked_at.is_(None), x.enquiry_id < x.linked_id)).all()
        ids = select(x.enquiry_id).where(x.unlinked_at.is_(None))
        cases = conn.execute(select(func.count(func.distinct(c.crm_ref)))
                             .where(c.id.in_(ids), c.crm_ref.is_not(None))).scalar_one()
    return LinkFigures(pairs=len(rows),
                       one_case=sum(1 for r in rows if r.crm_ref and r.crm_ref == r.other_ref),
                       cases=int(cases))
