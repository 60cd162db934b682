"""One enquiry's story, start to finish, picked from the store and told like `enquiry show`."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select

from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry, Status
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.tables import enquiries

__all__ = ["LIFECYCLE", "example_lifecycle", "tell"]

LIFECYCLE = (Status.LOGGED, Status.SENT, Status.IN_PROGRESS, Status.RESPONDED, Status.CLOSED)
"""The steps an enquiry worked in the CRM goes through; the example shows all of them."""


def _whole(enquiry: Enquiry) -> bool:
    seen = {event.status for event in enquiry.history}
    return all(step in seen for step in LIFECYCLE)


def example_lifecycle(bridge: Bridge, search: int = 200) -> Enquiry | None:
    """The most recent closed enquiry, answered on time, that went through every step."""
    c = enquiries.c
    query = (select(c.reference).where(c.status == Status.CLOSED.value)
             .order_by(c.received_at.desc(), c.reference.desc()).limit(search))
    with bridge.engine.connect() as conn:
        for reference in conn.execute(query).scalars().all():
            found = get_enquiry(conn, reference)
            if found is None or found.responded_at is None or not _whole(found):
                continue
            if bridge.router.calendar.local_date(found.responded_at) <= found.target_date:
                return found
    return None


def tell(bridge: Bridge, enquiry: Enquiry) -> list[str]:
    """The enquiry as `enquiry show` prints it, with each history line's status spelt out."""
    zone = bridge.router.calendar.zone

    def local(value: datetime) -> datetime:
        return value.astimezone(zone)

    config = bridge.config
    member = config.member(enquiry.member_id)
    service = config.service(enquiry.service_id)
    person = enquiry.constituent
    lines = [
        f"{enquiry.reference}  [{enquiry.status.value}]",
        f"member:       {member.name if member else enquiry.member_id}",
        f"ward:         {enquiry.ward_id or '-'}",
        f"category:     {enquiry.category_id} → {service.name if service else enquiry.service_id}",
        f"received:     {local(enquiry.received_at):%a %d %b %Y %H:%M} "
        f"({enquiry.channel.value}, logged by {enquiry.logged_by})",
        f"target date:  {enquiry.target_date:%a %d %b %Y}",
        f"CRM case:     {enquiry.crm_ref or '-'}",
        f"constituent:  {person.name}" + (f", {person.postcode}" if person.postcode else ""),
        f"location:     {enquiry.location or '-'}",
        "",
        enquiry.description,
    ]
    if enquiry.response:
        lines += ["", "response:", enquiry.response]
    lines += ["", "history:"]
    width = max((len(h.actor) for h in enquiry.history), default=0)
    lines += [
        f"  {local(h.at):%Y-%m-%d %H:%M}  {(h.status.value if h.status else h.event):<12} "
        f"{h.actor:<{width}}  {h.detail}"
        for h in enquiry.history
    ]
    return lines
