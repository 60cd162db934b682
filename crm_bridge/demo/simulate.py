"""Play the plan through the real bridge, day by day, on a simulated clock.

Nothing here shortcuts the product: members log through ``log_enquiry``,
the evening sync is ``run_sync``, and service officers work cases at the
embedded CRM's desk, so the store ends up exactly as 18 months of use would
leave it. Only the clock is simulated (``now=`` and ``at=``).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Protocol, cast

from sqlalchemy import Engine, select

from connectors.base import BaseMapping, Connector, HasOfficerDesk
from crm_bridge.app import Bridge
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.demo.bulk import bulk_build
from crm_bridge.demo.links import DemoLink, link_if_found
from crm_bridge.demo.plan import PlannedEnquiry
from crm_bridge.errors import ConfigError, CrmBridgeError
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.store.tables import enquiries
from crm_bridge.sync.runner import run_sync

__all__ = ["SYNC_TIME", "simulate"]

SYNC_TIME = time(17, 30)
"""When the council's cron runs the sync each day, local time."""

_LOG, _TAKE, _RESPOND, _CLOSE, _LINK = range(5)


class _Case(Protocol):
    case_ref: str


class _Desk(Protocol):
    """The part of the embedded CRM's officer desk the simulated officers use."""

    engine: Engine

    def find(self, external_ref: str) -> _Case | None: ...

    def set_status(self, case_ref: str, status: str, actor: str, response: str | None = None,
                   at: datetime | None = None) -> Any: ...


@dataclass(frozen=True, order=True)
class _Action:
    at: datetime
    kind: int
    key: int


def _desk(bridge: Bridge) -> _Desk:
    connector = bridge.connector()
    if not isinstance(connector, HasOfficerDesk):
        raise ConfigError(f"the demo needs the 'local' connector (it has an officer desk), not "
                          f"'{bridge.config.connector.type}'")
    return cast(_Desk, connector.desk())


def _schedule(plans: list[PlannedEnquiry], last_day: date,
              links: Sequence[DemoLink] = ()) -> dict[date, list[_Action]]:
    """Every action on or before ``last_day``, by day; later ones have not happened yet. A
    link's action carries its position in ``links``."""
    by_day: dict[date, list[_Action]] = defaultdict(list)
    for number, planned in enumerate(links):
        if planned.at.date() <= last_day:
            by_day[planned.at.date()].append(_Action(planned.at, _LINK, number))
    for plan in plans:
        for kind, at in ((_LOG, plan.logged_at), (_TAKE, plan.take_at),
                         (_RESPOND, plan.respond_at), (_CLOSE, plan.close_at)):
            if at is not None and at.date() <= last_day:
                by_day[at.date()].append(_Action(at, kind, plan.key))
    return by_day


def _draft(plan: PlannedEnquiry) -> dict[str, object]:
    person = plan.person
    return {
        "member_id": plan.member_id,
        "category_id": plan.category_id,
        "description": plan.description,
        "constituent": {"name": person.name, "address": person.address,
                        "postcode": person.postcode, "email": person.email,
                        "phone": person.phone},
        "consent_to_share": plan.consent,
        "channel": plan.channel.value,
        "location": plan.location,
        "ward_id": plan.ward_id,
        "received_at": plan.received_at,
        "logged_by": plan.logged_by,
    }


def simulate(bridge: Bridge, plans: list[PlannedEnquiry], first_day: date, last_day: date,
             now: datetime, links: Sequence[DemoLink] = ()) -> int:
    """Run ``first_day`` .. ``last_day`` with a sync each evening, then one at ``now``.

    Returns how many sync runs there were. A sync that fails stops the demo:
    with the embedded CRM nothing should ever fail.
    """
    desk = _desk(bridge)
    actions = _schedule(plans, last_day, links)
    with bulk_build([bridge.engine, desk.engine]):
        return _run_days(bridge, desk, plans, actions, first_day, last_day, now, links)


def _run_days(bridge: Bridge, desk: _Desk, plans: list[PlannedEnquiry],
              actions: dict[date, list[_Action]], first_day: date, last_day: date,
              now: datetime, links: Sequence[DemoLink]) -> int:
    connector, mapping, config = bridge.connector(), bridge.mapping(), bridge.config
    zone = bridge.router.calendar.zone
    enquiry_ids: dict[int, str] = {}
    case_refs: dict[int, str] = {}

    def case_of(key: int) -> str:
        """The enquiry's CRM case: its own, or the one it was added to as a linked duplicate."""
        if key not in case_refs:
            with bridge.engine.connect() as conn:
                ref = conn.execute(select(enquiries.c.crm_ref).where(
                    enquiries.c.id == enquiry_ids[key])).scalar_one_or_none()
            if ref is None:
                raise CrmBridgeError(f"demo: enquiry {enquiry_ids[key]} has no case yet")
            case_refs[key] = ref
        return case_refs[key]

    absorbed: set[int] = set()  # duplicates linked before they were sent
    runs = 0
    day = first_day
    while day <= last_day:
        for action in sorted(actions.get(day, ())):
            if action.kind == _LINK:
                planned = links[action.key]
                if link_if_found(bridge, enquiry_ids[planned.first],
                                 enquiry_ids[planned.second], action.at):
                    absorbed.add(planned.second)
                continue
            plan = plans[action.key]
            if action.kind != _LOG and plan.key in absorbed:
                continue  # on its earlier report's case: the service works that one case
            if action.kind == _LOG:
                logged = log_enquiry(bridge.engine, config, bridge.router,
                                     draft_from(_draft(plan)), now=action.at)
                enquiry_ids[plan.key] = str(logged.id)
            elif action.kind == _TAKE:
                desk.set_status(case_of(plan.key), "open", plan.officer, at=action.at)
            elif action.kind == _RESPOND:
                desk.set_status(case_of(plan.key), "resolved", plan.officer,
                                response=plan.response, at=action.at)
            else:
                desk.set_status(case_of(plan.key), "closed", plan.officer, at=action.at)
        _sync(bridge, connector, mapping, config, datetime.combine(day, SYNC_TIME, zone))
        runs += 1
        day += timedelta(days=1)
    _sync(bridge, connector, mapping, config, now)
    return runs + 1


def _sync(bridge: Bridge, connector: Connector, mapping: BaseMapping, config: CouncilConfig,
          at: datetime) -> None:
    report = run_sync(bridge.engine, connector, mapping, config, now=at,
                      base_dir=bridge.loaded.base_dir)
    if not report.ok:
        problems = "; ".join(report.problems) or report.summary()
        raise CrmBridgeError(f"demo: the sync at {at:%Y-%m-%d %H:%M} did not finish: {problems}")
