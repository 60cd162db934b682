"""Which e-mail a service gets on which day, for the service settings a council can choose:
no escalation contact, escalation after 0 or 1 days, a warning as long as the deadline.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from crm_bridge.models import ServiceDestination
from crm_bridge.reminders.schedule import due_messages
from crm_bridge.workdays import WorkingCalendar

CALENDAR = WorkingCalendar("Europe/London", "GB-SCT")
MEMBERS_SERVICES = "members.services@council.example.gov.uk"
RECEIVED = date(2026, 11, 2)  # a Monday


def service(**changes: object) -> ServiceDestination:
    values: dict[str, object] = {
        "id": "roads", "name": "Roads", "crm_target": "Roads", "response_days": 10,
        "warning_days": 3, "escalation_days": 5, "contact": "roads@council.example.gov.uk",
        "escalation_contact": "head.of.roads@council.example.gov.uk", **changes}
    return ServiceDestination.model_validate(values)


def timeline(svc: ServiceDestination, days: int = 30,
             members_services: str | None = MEMBERS_SERVICES) -> dict[date, list[str]]:
    """Each day's messages (kind → recipients), for a sync run every day from receipt."""
    target = CALENDAR.add_working_days(RECEIVED, svc.response_days)
    warning_days = 2 if svc.warning_days is None else svc.warning_days  # the calendar's
    warning = max(CALENDAR.subtract_working_days(target, warning_days), RECEIVED)
    sent: set[str] = set()
    seen: dict[date, list[str]] = {}
    for offset in range(days):
        today = RECEIVED + timedelta(days=offset)
        for due in due_messages(CALENDAR, svc, members_services, "e1", RECEIVED, warning,
                                target, today):
            if due.key not in sent:  # what the store's dedupe key does
                sent.add(due.key)
                cc = f" cc {', '.join(due.cc)}" if due.cc else ""
                seen.setdefault(today, []).append(f"{due.kind} to {', '.join(due.to)}{cc}")
    return seen


def test_the_usual_service() -> None:
    assert timeline(service()) == {
        date(2026, 11, 11): ["heads_up to roads@council.example.gov.uk"],
        date(2026, 11, 17): ["reminder to roads@council.example.gov.uk"],
        date(2026, 11, 23): ["escalation to head.of.roads@council.example.gov.uk cc "
                             "roads@council.example.gov.uk, " + MEMBERS_SERVICES],
    }


def test_no_escalation_contact_escalates_to_the_contact_copying_members_services() -> None:
    days = timeline(service(escalation_contact=None))
    assert days[date(2026, 11, 23)] == [
        f"escalation to roads@council.example.gov.uk cc {MEMBERS_SERVICES}"]
    days = timeline(service(escalation_contact=None), members_services=None)
    assert days[date(2026, 11, 23)] == ["escalation to roads@council.example.gov.uk"]


@pytest.mark.parametrize("escalation_days", [0, 1])
def test_escalating_at_once_sends_the_reminder_and_the_escalation_together(
    escalation_days: int
) -> None:
    days = timeline(service(escalation_days=escalation_days))
    assert days[date(2026, 11, 17)] == [
        "reminder to roads@council.example.gov.uk",
        "escalation to head.of.roads@council.example.gov.uk cc "
        f"roads@council.example.gov.uk, {MEMBERS_SERVICES}",
    ]


def test_a_heads_up_due_on_the_day_of_receipt_is_not_sent() -> None:
    # One working day to respond, and the calendar's default heads-up two days before it.
    days = timeline(service(response_days=1, warning_days=None), days=10)
    assert [kind for messages in days.values() for kind in messages] == [
        "reminder to roads@council.example.gov.uk",
        "escalation to head.of.roads@council.example.gov.uk cc roads@council.example.gov.uk, "
        + MEMBERS_SERVICES,
    ]


def test_the_same_person_is_never_copied_twice() -> None:
    same = "roads@council.example.gov.uk"
    days = timeline(service(escalation_contact=same), members_services=same.upper())
    assert days[date(2026, 11, 23)] == [f"escalation to {same}"]
