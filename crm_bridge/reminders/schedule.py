"""Which messages a service is owed about one open enquiry on one day: pure, no store, no mail.

For an enquiry with target date T (the Nth working day after receipt, moved by any agreed
extension) and a service with ``escalation_days`` E:

    heads_up     from the warning date up to and including T, to the service's contact
    reminder     from the first working day after T up to and including the escalation
                 date, to the service's contact
    escalation   from the Eth working day after T (at least the first), to the escalation
                 contact (else the contact), copying the contact and members' services

"From … up to" rather than "on": a sync that did not run on the day (server down, a
holiday weekend) still sends the message on its next run, while it is still true. A
reminder that was never sent is not sent once the escalation is due: the escalation
says it all and copies the contact. A heads-up whose warning date is the day of receipt
(a response time shorter than the warning) is not sent: it would only say "new case".

Each message's dedupe key holds the enquiry id and T, so an extension (a new T) earns
the service fresh messages and makes pending ones for the old T stale.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from crm_bridge.models import ServiceDestination
from crm_bridge.workdays import WorkingCalendar

__all__ = [
    "SERVICE_KINDS",
    "Due",
    "Milestones",
    "due_messages",
    "milestones",
    "recipients",
    "service_key",
]

SERVICE_KINDS = ("heads_up", "reminder", "escalation")


def service_key(kind: str, enquiry_id: str, target_date: date) -> str:
    """The dedupe key of a service message: one per kind, enquiry and target date."""
    return f"{kind}:{enquiry_id}:{target_date.isoformat()}"


@dataclass(frozen=True)
class Milestones:
    """The days an enquiry's service messages fall due (each a working day)."""

    heads_up: date | None
    target: date
    reminder: date
    escalation: date


def milestones(calendar: WorkingCalendar, service: ServiceDestination, received_on: date,
               warning_date: date, target_date: date) -> Milestones:
    reminder = calendar.add_working_days(target_date, 1)
    escalation = calendar.add_working_days(target_date, max(1, service.escalation_days))
    heads_up = warning_date if warning_date > received_on else None
    return Milestones(heads_up, target_date, reminder, escalation)


@dataclass(frozen=True)
class Due:
    """One message due today: its kind, dedupe key and who it goes to."""

    kind: str
    key: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()


def recipients(kind: str, service: ServiceDestination,
               members_services: str | None) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(to, cc) for a service message, each address once."""
    if kind != "escalation":
        return (service.contact,), ()
    to = service.escalation_contact or service.contact
    return (to,), _unique([service.contact, members_services or ""], exclude=[to])


def due_messages(calendar: WorkingCalendar, service: ServiceDestination,
                 members_services: str | None, enquiry_id: str, received_on: date,
                 warning_date: date, target_date: date, today: date) -> list[Due]:
    """The service messages due on ``today`` for an enquiry still awaiting a response."""
    days = milestones(calendar, service, received_on, warning_date, target_date)
    kinds = []
    if days.heads_up is not None and days.heads_up <= today <= days.target:
        kinds.append("heads_up")
    if days.reminder <= today <= days.escalation:
        kinds.append("reminder")
    if today >= days.escalation:
        kinds.append("escalation")
    due = []
    for kind in kinds:
        to, cc = recipients(kind, service, members_services)
        due.append(Due(kind, service_key(kind, enquiry_id, target_date), to, cc))
    return due


def _unique(addresses: Iterable[str], exclude: Iterable[str] = ()) -> tuple[str, ...]:
    seen = {a.lower() for a in exclude}
    kept = []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            kept.append(address)
    return tuple(kept)
