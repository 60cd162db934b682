"""The demo's results, read back from the state store (not from the plan).

Counting what the store holds is the point: the figures are what `enquiry
list` and the reports would show, so a user can check every one of them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import func, select

from crm_bridge.app import Bridge
from crm_bridge.models import OPEN_STATUSES, Status
from crm_bridge.store.tables import enquiries, notifications

__all__ = ["Figures", "ServiceFigures", "count"]


@dataclass
class ServiceFigures:
    service: str
    name: str
    enquiries: int = 0
    answered: int = 0
    on_time: int = 0
    working_days: int = 0  # total, for the average

    @property
    def on_time_percent(self) -> int | None:
        return round(100 * self.on_time / self.answered) if self.answered else None

    @property
    def average_days(self) -> float | None:
        return round(self.working_days / self.answered, 1) if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "name": self.name, "enquiries": self.enquiries,
                "answered": self.answered, "on_time": self.on_time,
                "on_time_percent": self.on_time_percent,
                "average_working_days_to_respond": self.average_days}


@dataclass
class Figures:
    logged: int = 0
    sent: int = 0
    answered: int = 0
    answered_on_time: int = 0
    answered_late: int = 0
    closed: int = 0
    awaiting_close: int = 0  # answered, not yet closed
    still_open: int = 0  # still waiting for the service's answer
    overdue: int = 0
    failed_to_send: int = 0
    emails: dict[str, int] = field(default_factory=dict)  # sent e-mails by kind
    by_service: list[ServiceFigures] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["by_service"] = [s.as_dict() for s in self.by_service]
        return data


def count(bridge: Bridge) -> Figures:
    """Totals and per-service figures for every enquiry in the store."""
    calendar = bridge.router.calendar
    c = enquiries.c
    figures = Figures()
    services: dict[str, ServiceFigures] = defaultdict(lambda: ServiceFigures("", ""))
    query = select(c.service_id, c.received_at, c.target_date, c.responded_at, c.status,
                   c.overdue, c.crm_ref)
    with bridge.engine.connect() as conn:
        rows = conn.execute(query).all()
        n = notifications.c
        figures.emails = {
            kind: number for kind, number in conn.execute(
                select(n.kind, func.count()).where(n.state == "sent").group_by(n.kind)
                .order_by(n.kind))
        }
    for row in rows:
        status = Status(row.status)
        service = services[row.service_id]
        service.enquiries += 1
        figures.logged += 1
        figures.sent += row.crm_ref is not None
        figures.closed += status is Status.CLOSED
        figures.awaiting_close += status is Status.RESPONDED
        figures.still_open += status in OPEN_STATUSES
        figures.overdue += bool(row.overdue)
        figures.failed_to_send += status is Status.FAILED_TO_SEND
        if row.responded_at is None:
            continue
        received_on = calendar.local_date(row.received_at)
        answered_on = calendar.local_date(row.responded_at)
        on_time = answered_on <= row.target_date
        figures.answered += 1
        figures.answered_on_time += on_time
        figures.answered_late += not on_time
        service.answered += 1
        service.on_time += on_time
        service.working_days += calendar.working_days_between(received_on, answered_on)
    for service_id, service in services.items():
        destination = bridge.config.service(service_id)
        service.service, service.name = service_id, destination.name if destination else service_id
    figures.by_service = sorted(services.values(), key=lambda s: (-s.enquiries, s.service))
    return figures
