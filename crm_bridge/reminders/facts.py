"""What a message may say about an enquiry: the facts templates get, and nothing more.

Services are told what they need to act: the reference, category, description and
location, the dates, the CRM case and which member raised it, with a link to the portal.
The constituent's name, address, postcode, e-mail, phone and UPRN are never read here,
so no template (shipped or the council's own) can put them in an e-mail; the service
finds whatever contact details the council's mapping shares in the CRM case itself.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, select

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import OPEN_STATUSES, Status
from crm_bridge.store.tables import enquiries
from crm_bridge.workdays import WorkingCalendar

__all__ = ["MAILABLE_STATUSES", "enquiry_facts", "select_facts"]

MAILABLE_STATUSES = tuple(s.value for s in OPEN_STATUSES if s is not Status.FAILED_TO_SEND)
"""Open enquiries a service is chased about. One the CRM refused (failed_to_send) never
reached the service: members' services hear of it in the digest instead."""

_e = enquiries.c
_FACT_COLUMNS = (
    _e.id, _e.reference, _e.member_id, _e.ward_id, _e.category_id, _e.service_id,
    _e.description, _e.location, _e.received_at, _e.target_date, _e.warning_date, _e.crm_ref,
    _e.extension_days, _e.status, _e.response, _e.responded_at, _e.failure_reason,
)


def select_facts() -> Select[Any]:
    """SELECT of the columns ``enquiry_facts`` reads: no constituent column among them."""
    return select(*_FACT_COLUMNS)


def enquiry_facts(row: Any, config: CouncilConfig, calendar: WorkingCalendar,
                  link: str) -> dict[str, Any]:
    category = config.category(row.category_id)
    service = config.service(row.service_id)
    member = config.member(row.member_id)
    ward = config.ward(row.ward_id) if row.ward_id else None
    return {
        "reference": row.reference,
        "category": category.label if category else row.category_id,
        "service": service.name if service else row.service_id,
        "member": member.name if member else row.member_id,
        "ward": ward.name if ward else None,
        "received_on": calendar.local_date(row.received_at),
        "warning_date": row.warning_date,
        "target_date": row.target_date,
        "extension_days": row.extension_days or 0,
        "crm_ref": row.crm_ref,
        "description": row.description,
        "location": row.location,
        "status": row.status.replace("_", " "),
        "link": link,
    }
