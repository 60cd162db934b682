"""One enquiry as a list shows it (the portal's lists, search, the duplicate check's
matches): the same few fields wherever a list is drawn, with no personal data beyond the
constituent's name. Kept in the store package so the CLI can list without the portal."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from crm_bridge.models import OPEN_STATUSES, Status

__all__ = ["Row", "row_of"]

_OPEN = [s.value for s in OPEN_STATUSES]


@dataclass(frozen=True)
class Row:
    """One enquiry as a list shows it."""

    id: str
    reference: str
    member_id: str
    ward_id: str | None
    category_id: str
    service_id: str
    status: Status
    target_date: date
    overdue: bool
    received_at: datetime
    constituent_name: str
    location: str | None
    consent_to_share: bool

    def is_overdue(self, today: date) -> bool:
        return self.status.value in _OPEN and (self.overdue or self.target_date < today)

    def as_json(self, today: date) -> dict[str, Any]:
        return {
            "reference": self.reference, "member_id": self.member_id, "ward_id": self.ward_id,
            "category_id": self.category_id, "service_id": self.service_id,
            "status": self.status.value, "target_date": self.target_date.isoformat(),
            "overdue": self.is_overdue(today), "received_at": self.received_at.isoformat(),
            "constituent_name": self.constituent_name, "location": self.location,
            "shared": self.consent_to_share,
        }


def row_of(r: Any) -> Row:
    """The Row of a result row holding the enquiries table's columns."""
    return Row(r.id, r.reference, r.member_id, r.ward_id, r.category_id, r.service_id,
               Status(r.status), r.target_date, bool(r.overdue), r.received_at,
               r.constituent_name, r.location, bool(r.consent_to_share))
