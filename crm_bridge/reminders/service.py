"""Decide the heads-ups, reminders and escalations due today, and record them in one go.

One transaction reads the open enquiries whose warning date has come, works out what
each service is owed today (``schedule``), leaves out what was recorded before, renders
the rest and records them as pending. Sending is a separate half (``send``), so the
decision is durable before any mail leaves.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import ServiceDestination
from crm_bridge.reminders.decision import Decision, Problems
from crm_bridge.reminders.facts import MAILABLE_STATUSES, enquiry_facts, select_facts
from crm_bridge.reminders.ledger import existing_keys, record
from crm_bridge.reminders.render import Renderer, TemplateProblem, message_id
from crm_bridge.reminders.schedule import Due, due_messages, milestones
from crm_bridge.store.tables import enquiries
from crm_bridge.workdays import WorkingCalendar

__all__ = ["decide_service_messages", "service_context"]

log = logging.getLogger(__name__)


def decide_service_messages(engine: Engine, config: CouncilConfig, calendar: WorkingCalendar,
                            renderer: Renderer, now: datetime, problems: Problems,
                            dry_run: bool = False) -> list[Decision]:
    today = calendar.local_date(now)
    members_services = config.smtp.members_services
    decided: list[Decision] = []
    with engine.begin() as conn:
        rows = conn.execute(
            select_facts().where(enquiries.c.status.in_(MAILABLE_STATUSES),
                                 enquiries.c.warning_date <= today)
        ).all()
        owed: list[tuple[Any, ServiceDestination, Due]] = []
        for row in rows:
            service = config.service(row.service_id)
            if service is None:
                problems.add(f"service '{row.service_id}' is no longer in the config: "
                             "its enquiries get no reminders")
                continue
            owed += [(row, service, due) for due in due_messages(
                calendar, service, members_services, row.id,
                calendar.local_date(row.received_at), row.warning_date, row.target_date, today)]
        recorded = existing_keys(conn, [due.key for _, _, due in owed])
        for row, service, due in owed:
            if due.key in recorded:
                continue
            made = _decide(conn, config, calendar, renderer, row, service, due, today, now,
                           problems, dry_run)
            if made is not None:
                decided.append(made)
    if decided and not dry_run:
        log.info("reminders: decided %d service messages", len(decided))
    return decided


def _decide(conn: Connection, config: CouncilConfig, calendar: WorkingCalendar,
            renderer: Renderer, row: Any, service: ServiceDestination, due: Due, today: date,
            now: datetime, problems: Problems, dry_run: bool) -> Decision | None:
    context = service_context(config, calendar, renderer, row, service, due, today)
    try:
        rendered = renderer.render(due.kind, context)
    except TemplateProblem as exc:
        problems.add(f"{exc}; {due.kind.replace('_', '-')} messages wait until it is fixed")
        return None
    recipients = due.to + due.cc
    decision = Decision(due.kind, row.reference, recipients, rendered.subject)
    if dry_run:
        return decision
    message = renderer.message(rendered, kind=due.kind, key=due.key, to=due.to, cc=due.cc,
                               now=now, reference=row.reference)
    row_id = record(conn, kind=due.kind, key=due.key, enquiry_id=row.id, recipients=recipients,
                    subject=rendered.subject, message=message,
                    message_id=message_id(due.key, config.smtp.from_address), now=now)
    return decision if row_id is not None else None


def service_context(config: CouncilConfig, calendar: WorkingCalendar, renderer: Renderer,
                    row: Any, service: ServiceDestination, due: Due,
                    today: date) -> dict[str, Any]:
    days = milestones(calendar, service, calendar.local_date(row.received_at), row.warning_date,
                      row.target_date)
    return {
        "kind": due.kind,
        "enquiry": enquiry_facts(row, config, calendar, renderer.link(row.reference)),
        "today": today,
        "working_days_left": max(0, calendar.working_days_between(today, row.target_date)),
        "working_days_overdue": max(0, calendar.working_days_between(row.target_date, today)),
        "escalation_date": days.escalation,
        "contact": service.contact,
        "escalation_contact": service.escalation_contact or service.contact,
        "to": due.to,
        "cc": due.cc,
    }

