"""What the services do with each case: take it, answer it (on time or late), close it.

Most services answer most cases inside their target; some run late (housing
and planning more often than waste); a few recent cases sit unanswered past
their target, which is what a members' services officer chases. Times fall in
office hours on working days, after the evening sync that opened the case.
"""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.demo.plan import PlannedEnquiry
from crm_bridge.demo.texts import CATEGORY_TEXTS, GENERIC, OFFICERS
from crm_bridge.workdays import WorkingCalendar

__all__ = ["assign_fates"]

ON_TIME = {
    "roads": 0.8, "lighting": 0.85, "waste": 0.9, "housing-repairs": 0.7,
    "housing-repairs-hillfoots": 0.76, "environmental-health": 0.8, "planning": 0.66,
    "revenues": 0.82, "land-services": 0.82, "community-safety": 0.82, "education": 0.78,
}
"""Share of each service's answers given by the target date."""
DEFAULT_ON_TIME = 0.8
STUCK_SHARE = 0.03
"""Share of all enquiries left unanswered past their target, among the recent ones."""
STUCK_WINDOW = timedelta(days=60)
CLOSE_SHARE = 0.9
_LATE_APOLOGY = "Apologies for the delay in replying. "


def _at(calendar: WorkingCalendar, day: date, rng: random.Random, start: int, end: int
        ) -> datetime:
    minutes = rng.randrange(start, end, 5)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=calendar.zone)


def _stuck(rng: random.Random, plans: list[PlannedEnquiry], today: date) -> set[int]:
    """Keys of recent enquiries whose service never answers: overdue when the demo ends."""
    recent = [p.key for p in plans
              if today - STUCK_WINDOW <= p.target_date < today and p.duplicate_of is None]
    wanted = max(2, round(STUCK_SHARE * len(plans)))
    return set(rng.sample(recent, min(wanted, len(recent) // 2 or len(recent))))


def assign_fates(rng: random.Random, plans: list[PlannedEnquiry], config: CouncilConfig,
                 calendar: WorkingCalendar, today: date) -> None:
    """Fill in each plan's officer, take/respond/close times and response text.

    Times after the simulation's end are simply never reached, so recent cases
    stay open, as they would on a real Monday morning.
    """
    stuck = _stuck(rng, plans, today)
    for plan in plans:
        service = config.service(plan.service_id)
        days = service.response_days if service else 10
        plan.officer = rng.choice(OFFICERS.get(plan.service_id, ("Duty officer",)))
        received_on = plan.received_at.date()
        take = rng.randint(1, max(1, min(3, days // 3)))
        if rng.random() < 0.85:  # the rest are answered without being marked as taken
            plan.take_at = _at(calendar, calendar.add_working_days(received_on, take), rng,
                               8 * 60 + 40, 12 * 60)
        if plan.key in stuck:
            continue
        on_time = rng.random() < ON_TIME.get(plan.service_id, DEFAULT_ON_TIME)
        if on_time:
            answer = round(rng.triangular(take, days, take + 0.6 * (days - take)))
        else:
            answer = days + rng.randint(1, max(3, days // 2))
        answered_on = calendar.add_working_days(received_on, max(answer, take))
        plan.respond_at = _at(calendar, answered_on, rng, 12 * 60, 17 * 60 + 10)
        original = plan.duplicate_of
        if original is not None and original.response:
            plan.response = original.response
        else:
            text = CATEGORY_TEXTS.get(plan.category_id, GENERIC)
            reply = rng.choice(text.responses).format(street=plan.place.street)
            plan.response = reply if on_time else _LATE_APOLOGY + reply
        if rng.random() < CLOSE_SHARE:
            closed_on = calendar.add_working_days(answered_on, rng.randint(1, 8))
            plan.close_at = _at(calendar, closed_on, rng, 9 * 60, 17 * 60 + 10)
