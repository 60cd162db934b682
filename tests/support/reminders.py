"""Helpers for the reminders tests: a council sending through the test SMTP server, and a
``Simulation`` that runs it day by day (actions, then `sync` at 09:00, then what arrived).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from support.smtp import MailServer, Received, point_config_at

from crm_bridge.app import Bridge
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.models import Enquiry
from crm_bridge.store.engine import make_engine
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.migrate import upgrade
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.sync.runner import run_sync

__all__ = [
    "DRAFT",
    "HEAD_OF_ROADS",
    "LIGHTING",
    "LONDON",
    "MEMBERS_SERVICES",
    "NOW",
    "NO_WAIT",
    "PORTAL",
    "ROADS",
    "WASTE",
    "Mail",
    "Simulation",
    "at",
    "open_council",
    "working_days",
]


def open_council(config_file: Path, store_url: str, server: MailServer, timeout: float = 2,
                 edits: Mapping[str, str] | None = None) -> Bridge:
    """The example council on ``store_url`` (upgraded), sending through ``server``."""
    point_config_at(config_file, server, timeout=timeout, edits=edits)
    engine = make_engine(store_url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()
    return Bridge.open(config_file)


from support.constants import DRAFT_DEFAULTS  # noqa: E402
from support.constants import NOW as _NOW  # noqa: E402

LONDON = ZoneInfo("Europe/London")
NOW = _NOW
DRAFT: dict[str, Any] = DRAFT_DEFAULTS
NO_WAIT = RetryPolicy(attempts=2, initial_wait=0, max_wait=0)
PORTAL = "https://members.clacks.example.gov.uk"
MEMBERS_SERVICES = "members.services@clacks.example.gov.uk"
ROADS = "roads@clacks.example.gov.uk"
HEAD_OF_ROADS = "head.of.roads@clacks.example.gov.uk"
LIGHTING = "street.lighting@clacks.example.gov.uk"
WASTE = "waste@clacks.example.gov.uk"


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LONDON)


@dataclass(frozen=True)
class Mail:
    """An e-mail as a person would describe it: the day, what, to whom, about what."""

    day: date
    kind: str
    to: tuple[str, ...]
    cc: tuple[str, ...]
    reference: str


class Simulation:
    """Runs the council day by day; each day's actions happen before its 09:00 sync."""

    def __init__(self, bridge: Bridge, mail: MailServer) -> None:
        self.bridge = bridge
        self.mail = mail
        self.enquiries: dict[str, Enquiry] = {}
        self.received: dict[date, list[Received]] = {}
        self.reports: dict[date, SyncReport] = {}

    def log(self, name: str, when: datetime, **changes: Any) -> None:
        draft = draft_from({**DRAFT, **changes, "received_at": when})
        self.enquiries[name] = log_enquiry(self.bridge.engine, self.bridge.config,
                                           self.bridge.router, draft, now=when)

    def ref(self, name: str) -> str:
        return self.enquiries[name].reference

    def stored(self, name: str) -> Enquiry:
        with self.bridge.engine.connect() as conn:
            found = get_enquiry(conn, self.ref(name))
        assert found is not None
        return found

    def respond(self, name: str, when: datetime, text: str) -> None:
        case = self.stored(name).crm_ref
        assert case, f"{name} has no CRM case yet"
        self.bridge.connector().desk().set_status(  # type: ignore[attr-defined]
            case, "resolved", "officer", response=text, at=when)

    def sync(self, when: datetime) -> SyncReport:
        return run_sync(self.bridge.engine, self.bridge.connector(), self.bridge.mapping(),
                        self.bridge.config, now=when, policy=NO_WAIT,
                        base_dir=self.bridge.loaded.base_dir)

    def run(self, first: date, last: date,
            actions: dict[date, list[Callable[[], None]]]) -> None:
        day = first
        while day <= last:
            for action in actions.get(day, []):
                action()
            self.reports[day] = self.sync(at(day, 9))
            self.received[day] = self.mail.take()
            day += timedelta(days=1)

    def mails(self, include_digest: bool = False) -> list[Mail]:
        return [Mail(day, m.kind, tuple(m.to), tuple(m.cc), m.reference)
                for day, got in self.received.items() for m in got
                if include_digest or m.kind != "digest"]

    def digest_days(self) -> list[date]:
        days = []
        for day, got in self.received.items():
            digests = [m for m in got if m.kind == "digest"]
            assert len(digests) <= 1, f"two digests on {day}"
            assert all(m.to == [MEMBERS_SERVICES] for m in digests)
            days += [day] * len(digests)
        return days

    def one(self, day: date, kind: str, name: str | None = None) -> Received:
        found = [m for m in self.received[day] if m.kind == kind
                 and (name is None or m.reference == self.ref(name))]
        assert len(found) == 1, (day, kind, [(m.kind, m.reference) for m in self.received[day]])
        return found[0]


def working_days(sim: Simulation, first: date, last: date) -> list[date]:
    calendar = sim.bridge.router.calendar
    return [first + timedelta(days=n) for n in range((last - first).days + 1)
            if calendar.is_working_day(first + timedelta(days=n))]
