"""Who gets in touch, when, about what: the demo's enquiries, planned before anything runs.

Planning everything first from one ``random.Random(seed)`` keeps the demo
deterministic: the same seed, dates and config give the same enquiries in the
same order. Volume follows a council's week and year: busiest on Mondays,
Saturday surgeries, quiet at Christmas and in the summer recess; the mix
follows the seasons (gritting in winter, grass and wasps in summer).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from crm_bridge.access.policy import sharing_audience
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.demo.places import Person, Place, make_person, pick_place
from crm_bridge.demo.texts import CATEGORY_TEXTS, GENERIC, SHARED_PROBLEMS, month_weight
from crm_bridge.models import Channel, Member, Role
from crm_bridge.routing import Router
from crm_bridge.workdays import WorkingCalendar

__all__ = ["PlannedEnquiry", "plan_enquiries"]

DUPLICATE_SHARE = 0.05
"""Share of enquiries that repeat an issue already raised with a ward colleague."""
CONSENT_SHARE = 0.7
_MONTH_VOLUME = {1: 1.15, 2: 1.1, 3: 1.05, 7: 0.8, 8: 0.75, 12: 0.8}
_WEEKDAY_VOLUME = (1.5, 1.0, 1.0, 1.0, 0.85, 0.35, 0.08)  # Monday .. Sunday
_CHANNELS = (Channel.EMAIL, Channel.PHONE, Channel.IN_PERSON, Channel.LETTER, Channel.SURGERY)
_CHANNEL_WEIGHTS = (45, 25, 10, 8, 12)
_DUPLICATE_LEADS = ("A neighbour has raised this too: ", "Also reported to me: ",
                    "Second resident in touch about this: ")


@dataclass
class PlannedEnquiry:
    """One enquiry as it will be logged, and (filled in by ``fates``) what the service does."""

    key: int
    received_at: datetime  # council-local, timezone-aware
    logged_at: datetime
    member_id: str
    logged_by: str
    ward_id: str | None
    category_id: str
    channel: Channel
    consent: bool
    place: Place
    person: Person
    description: str
    location: str
    service_id: str
    target_date: date
    duplicate_of: PlannedEnquiry | None = None
    officer: str = ""
    take_at: datetime | None = None
    respond_at: datetime | None = None
    response: str | None = None
    close_at: datetime | None = None


def _day_weight(calendar: WorkingCalendar, day: date) -> float:
    weight = _WEEKDAY_VOLUME[day.weekday()] * _MONTH_VOLUME.get(day.month, 1.0)
    if day.weekday() < 5 and not calendar.is_working_day(day):
        weight = 0.1  # a bank holiday or closure day: only the odd e-mail
    if (day.month, day.day) >= (12, 24) or (day.month, day.day) <= (1, 3):
        weight *= 0.3
    return weight


def _clock(day: date, calendar: WorkingCalendar, rng: random.Random) -> datetime:
    """When an enquiry reaches a member: office hours, a Saturday surgery or a Sunday e-mail.

    Always before 17:00, so the evening sync sends it the same day.
    """
    if day.weekday() == 5:
        start, end = 10 * 60, 12 * 60 + 30
    elif day.weekday() == 6 or not calendar.is_working_day(day):
        start, end = 14 * 60, 16 * 60 + 55
    else:
        start, end = 8 * 60 + 30, 16 * 60 + 55
    minutes = rng.randrange(start, end, 5)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=calendar.zone)


def _pick_member(rng: random.Random, members: list[Member], activity: list[float]) -> Member:
    return rng.choices(members, weights=activity, k=1)[0]


def _pick_category(rng: random.Random, config: CouncilConfig, month: int) -> str:
    ids = [c.id for c in config.categories]
    weights = [month_weight(CATEGORY_TEXTS.get(i, GENERIC), month) for i in ids]
    return rng.choices(ids, weights=weights, k=1)[0]


def _location(where: str, place: Place) -> str:
    if where == "home":
        return f"{place.number} {place.street}, {place.town.name}"
    if where == "landmark":
        return f"{place.landmark}, {place.town.name}"
    return f"{place.street}, {place.town.name}"


def _fill(template: str, place: Place) -> str:
    return template.format(n=place.number, street=place.street, cross=place.cross_street,
                           landmark=place.landmark, town=place.town.name)


def _logged_by(rng: random.Random, member: Member) -> str:
    if member.role is Role.COUNCILLOR and rng.random() < 0.7:
        return member.name
    return "Members' Services"


def _new(rng: random.Random, config: CouncilConfig, router: Router, received_at: datetime,
         member: Member) -> PlannedEnquiry:
    own_ward = config.ward_of(member.id)
    category_id = _pick_category(rng, config, received_at.month)
    text = CATEGORY_TEXTS.get(category_id, GENERIC)
    place = pick_place(rng, own_ward.id if own_ward else None)
    # An MP's or MSP's enquiry is filed under the ward where the problem is.
    ward_id = own_ward.id if own_ward else place.town.ward_id
    channel = (Channel.SURGERY if received_at.weekday() == 5 and rng.random() < 0.85
               else rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS, k=1)[0])
    route = router.route(category_id, ward_id, received_at)
    latest = datetime.combine(received_at.date(), time(17, 10), tzinfo=received_at.tzinfo)
    return PlannedEnquiry(
        key=0,
        received_at=received_at,
        logged_at=min(received_at + timedelta(minutes=rng.randint(2, 45)), latest),
        member_id=member.id,
        logged_by=_logged_by(rng, member),
        ward_id=ward_id,
        category_id=category_id,
        channel=channel,
        # Asked only when someone would see it: an MP's or MSP's casework is theirs alone
        # unless the config names a sharing arrangement.
        consent=rng.random() < CONSENT_SHARE and bool(sharing_audience(config, member.id)),
        place=place,
        person=make_person(rng, place, at_the_place=text.where == "home"),
        description=_fill(rng.choice(text.descriptions), place),
        location=_location(text.where, place),
        service_id=route.service.id,
        target_date=route.target_date,
    )


def _duplicate(rng: random.Random, config: CouncilConfig, router: Router,
               original: PlannedEnquiry, colleague: Member, last_day: date) -> PlannedEnquiry:
    """The same problem, raised by a neighbour with another councillor of the same ward."""
    calendar = router.calendar
    day = calendar.add_working_days(original.received_at.date(), rng.randint(0, 2))
    if day > last_day:
        day = original.received_at.date()
    received_at = _clock(day, calendar, rng)
    if received_at <= original.received_at:
        latest = datetime.combine(day, time(16, 55), tzinfo=calendar.zone)
        received_at = min(original.received_at + timedelta(minutes=rng.randint(20, 120)), latest)
    route = router.route(original.category_id, original.ward_id, received_at)
    return PlannedEnquiry(
        key=0,
        received_at=received_at,
        logged_at=received_at + timedelta(minutes=rng.randint(2, 15)),
        member_id=colleague.id,
        logged_by=_logged_by(rng, colleague),
        ward_id=original.ward_id,
        category_id=original.category_id,
        channel=rng.choices(_CHANNELS, weights=_CHANNEL_WEIGHTS, k=1)[0],
        consent=rng.random() < CONSENT_SHARE,
        place=original.place,
        person=make_person(rng, original.place, at_the_place=False),
        description=rng.choice(_DUPLICATE_LEADS) + original.description,
        location=original.location,
        service_id=route.service.id,
        target_date=route.target_date,
        duplicate_of=original,
    )


def _colleague(rng: random.Random, config: CouncilConfig, original: PlannedEnquiry
               ) -> Member | None:
    ward = config.ward(original.ward_id) if original.ward_id else None
    if ward is None:
        return None
    others = [m for m in ward.members if m != original.member_id]
    return config.member(rng.choice(others)) if others else None


def plan_enquiries(rng: random.Random, config: CouncilConfig, router: Router,
                   first_day: date, last_day: date, count: int) -> list[PlannedEnquiry]:
    """``count`` enquiries received between ``first_day`` and ``last_day``, oldest first."""
    calendar = router.calendar
    days = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    weights = [_day_weight(calendar, day) for day in days]
    members = list(config.members)
    # Some members are busier than others; an MP or MSP covers every ward, so passes on
    # more council matters than any one councillor.
    activity = [rng.uniform(0.6, 1.4) * (1.0 if m.role is Role.COUNCILLOR else 1.6)
                for m in members]
    repeats = round(count * DUPLICATE_SHARE) if count >= 20 else 0
    originals = [
        _new(rng, config, router, _clock(days[i], calendar, rng),
             _pick_member(rng, members, activity))
        for i in sorted(rng.choices(range(len(days)), weights=weights, k=count - repeats))
    ]
    shared = [p for p in originals
              if p.category_id in SHARED_PROBLEMS and config.member(p.member_id) is not None
              and config.ward_of(p.member_id) is not None]
    extra: list[PlannedEnquiry] = []
    for original in rng.sample(shared, min(repeats, len(shared))):
        colleague = _colleague(rng, config, original)
        if colleague is not None:
            extra.append(_duplicate(rng, config, router, original, colleague, last_day))
    while len(originals) + len(extra) < count:  # too few shared problems: make up the number
        day = rng.choices(days, weights=weights, k=1)[0]
        extra.append(_new(rng, config, router, _clock(day, calendar, rng),
                          _pick_member(rng, members, activity)))
    # Stable sort: originals keep their drawn order when two arrive at the same minute.
    planned = sorted(originals + extra, key=lambda p: p.received_at)
    for key, item in enumerate(planned):
        item.key = key
    return planned
