"""One enquiry's story, start to finish, picked from the store and told like `enquiry show`."""

from __future__ import annotations

from sqlalchemy import select

from crm_bridge.app import Bridge
from crm_bridge.describe import enquiry_lines
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
    return enquiry_lines(enquiry, bridge.config, bridge.router.calendar.zone,
                         history_by_status=True)
