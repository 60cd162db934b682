"""`crm-bridge demo`: a council's last months, simulated through the real bridge.

``run_demo`` makes a demo folder (like `crm-bridge init`), plans a season of
enquiries and what the services do with them from one seeded random
generator, plays that plan day by day through intake, the evening sync and
the embedded CRM's officer desk on a simulated clock, then counts the results
from the store. The simulation ends with yesterday evening's sync and one
more sync now, so the store is exactly what a user would find this morning.

Modules: ``workspace`` (the folder), ``places`` and ``texts`` (what enquiries
say), ``plan`` (who asks what, when), ``fates`` (what services do),
``simulate`` (the day-by-day run), ``figures`` (counting the result), ``story``
(one enquiry start to finish), ``accounts`` (portal sign-ins), ``bulk`` (the stores'
settings while the demo fills them), ``links`` (members' services running the duplicate
check on each repeated problem and linking what it finds before the second enquiry is sent,
so each pair makes one CRM case). Last, it writes
the Scrutiny Committee's report for the last complete half-year into ``reports/``
(crm_bridge.reports.scrutiny).
"""

from __future__ import annotations

import calendar as months_calendar
import random
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from crm_bridge.app import Bridge
from crm_bridge.demo.accounts import DemoAccount, add_accounts
from crm_bridge.demo.fates import assign_fates
from crm_bridge.demo.figures import Figures, count
from crm_bridge.demo.links import LinkFigures, count_links, plan_links
from crm_bridge.demo.plan import plan_enquiries
from crm_bridge.demo.simulate import simulate
from crm_bridge.demo.story import example_lifecycle, tell
from crm_bridge.demo.workspace import MARKER, prepare
from crm_bridge.models import Enquiry
from crm_bridge.reports.period import last_complete_half
from crm_bridge.reports.scrutiny import ScrutinyResult, build_scrutiny

__all__ = ["MARKER", "DemoResult", "run_demo"]


@dataclass
class DemoResult:
    config_path: Path
    council: str
    seed: int
    months: int
    first_day: date
    last_day: date
    repeats: int  # enquiries that raised an issue already raised with a ward colleague
    links: LinkFigures  # those members' services linked, and the CRM cases they made
    syncs: int
    figures: Figures
    example: Enquiry | None
    example_lines: list[str]  # the example told like `enquiry show`
    accounts: tuple[DemoAccount, ...]  # portal sign-ins, made in the demo's store
    scrutiny: ScrutinyResult  # the last complete half-year's report to the Scrutiny Committee
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        """The figures for `--json`; everything but ``seconds`` depends only on seed and date."""
        return {
            "config": str(self.config_path),
            "council": self.council,
            "seed": self.seed,
            "months": self.months,
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
            "raised_with_a_second_ward_member": self.repeats,
            "linked": self.links.as_dict(),
            "sync_runs": self.syncs,
            **self.figures.as_dict(),
            "example": _example(self.example) if self.example else None,
            "accounts": [account.as_dict() for account in self.accounts],
            "scrutiny_report": self._scrutiny(),
            "seconds": round(self.seconds, 2),
        }

    def _scrutiny(self) -> dict[str, Any]:
        """Where the scrutiny report is, inside the demo folder (so reruns compare equal)."""
        folder = self.config_path.parent
        return {"period": self.scrutiny.period.label,
                "html": _relative(self.scrutiny.html, folder),
                "pdf": _relative(self.scrutiny.pdf, folder)}


def _relative(path: Path | None, folder: Path) -> str | None:
    return None if path is None else path.relative_to(folder).as_posix()


def _example(enquiry: Enquiry) -> dict[str, Any]:
    """One enquiry's lifecycle, without its random id, so reruns compare equal."""
    data = enquiry.model_dump(mode="json", exclude={"id", "constituent", "consent"})
    return data | {"constituent": enquiry.constituent.name}


def months_before(day: date, months: int) -> date:
    """The same day of the month ``months`` months earlier (the month's last day if shorter)."""
    year, month0 = divmod(day.year * 12 + day.month - 1 - months, 12)
    last = months_calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def run_demo(directory: Path, enquiries: int = 600, months: int = 18, seed: int = 2026,
             now: datetime | None = None) -> DemoResult:
    """Build the demo council in ``directory`` and simulate ``months`` months up to ``now``."""
    started = time.perf_counter()
    config_path = prepare(directory)
    bridge = Bridge.open(config_path)
    try:
        now = now or datetime.now(UTC)
        calendar = bridge.router.calendar
        today = calendar.local_date(now)
        first_day, last_day = months_before(today, months), today - timedelta(days=1)
        rng = random.Random(seed)  # noqa: S311 - a repeatable simulation, not a secret
        plans = plan_enquiries(rng, bridge.config, bridge.router, first_day, last_day,
                               enquiries)
        assign_fates(rng, plans, bridge.config, calendar, today)
        links = plan_links(plans, last_day)
        syncs = simulate(bridge, plans, first_day, last_day, now, links)
        example = example_lifecycle(bridge)
        accounts = add_accounts(bridge, now)
        scrutiny = build_scrutiny(bridge.engine, bridge.config, last_complete_half(today),
                                  config_path.parent / "reports", now)
        return DemoResult(
            config_path=config_path,
            council=bridge.config.council.name,
            seed=seed,
            months=months,
            first_day=first_day,
            last_day=last_day,
            repeats=sum(1 for p in plans if p.duplicate_of is not None),
            links=count_links(bridge, checked=len(links)),
            syncs=syncs,
            figures=count(bridge),
            example=example,
            example_lines=tell(bridge, example) if example else [],
            accounts=accounts,
            scrutiny=scrutiny,
            seconds=time.perf_counter() - started,
        )
    finally:
        bridge.close()
