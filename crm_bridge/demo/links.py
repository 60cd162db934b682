"""Members' services link the demo's duplicates, as they would: on the day the second
enquiry is logged, before the evening sync sends it, they run the duplicate check on it
(``crm_bridge.duplicates.find_duplicates``, as a members' services account sees it) and link
it to the earlier report the check lists, so the pair makes one CRM case. The check is not
told which report is the earlier one: a planted duplicate it fails to list is left unlinked
(and the demo's figures say so), with a case of its own, worked by its own officer.

A duplicate linked is not worked by an officer of its own: the service works the one case,
and the sync passes its answers to both enquiries.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from crm_bridge.access.audit import record_reads
from crm_bridge.app import Bridge
from crm_bridge.demo.plan import PlannedEnquiry
from crm_bridge.duplicates import facts_of, find_duplicates
from crm_bridge.errors import CrmBridgeError
from crm_bridge.links import Actor, link
from crm_bridge.portal.policy import UserRole, principal_for
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.tables import enquiries, enquiry_links

__all__ = ["DemoLink", "LinkFigures", "count_links", "link_if_found", "plan_links"]


@dataclass(frozen=True)
class DemoLink:
    at: datetime
    first: int  # plan keys: the earlier report
    second: int  # the duplicate, linked to it if the check finds it


def plan_links(plans: list[PlannedEnquiry], last_day: date) -> list[DemoLink]:
    """When members' services check each duplicate: a minute after the later of the two is
    logged, before that evening's sync sends it."""
    planned: list[DemoLink] = []
    for plan in plans:
        original = plan.duplicate_of
        if original is None:
            continue
        at = max(plan.logged_at, original.logged_at) + timedelta(minutes=1)
        if at.date() <= last_day:
            planned.append(DemoLink(at, original.key, plan.key))
    return planned


def _staff(bridge: Bridge) -> Actor:
    principal = principal_for(bridge.config, user_id=0, username="members.services",
                              name="Members' Services", role=UserRole.STAFF, member_id=None,
                              staff_group=None, session_id="demo")
    return Actor(username="members.services", name="Members' Services", principal=principal)


def link_if_found(bridge: Bridge, first_id: str, second_id: str, at: datetime) -> bool:
    """Run the duplicate check on the second enquiry as members' services; if it lists the
    first, link the two (the access policy applies) and say so."""
    staff = _staff(bridge)
    with bridge.engine.begin() as conn:
        second = get_enquiry(conn, second_id)
        if second is None:
            raise CrmBridgeError(f"demo: enquiry {second_id} is not in the store")
        found = find_duplicates(conn, staff.principal, facts_of(second),
                                bridge.config.duplicates, exclude=second_id,
                                relative_to_now=False)
        record_reads(conn, at, staff.username, "duplicate_check", found.ids(),
                     "demo: checked before sending")
        if first_id not in found.ids():
            return False
        link(conn, staff, second_id, first_id, "Same issue raised with a ward colleague", at)
    return True


@dataclass(frozen=True)
class LinkFigures:
    checked: int  # planted duplicates members' services checked (those logged in time)
    pairs: int  # linked pairs in the store: the checked duplicates the check found
    one_case: int  # of them, pairs on one CRM case
    cases: int  # CRM cases the linked enquiries are on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def count_links(bridge: Bridge, checked: int) -> LinkFigures:
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
    return LinkFigures(checked=checked, pairs=len(rows),
                       one_case=sum(1 for r in rows if r.crm_ref and r.crm_ref == r.other_ref),
                       cases=int(cases))
