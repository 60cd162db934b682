"""The daily digest to members' services: overdue by service, due this week, failed to send.

Sent by the first sync on a working day at or after ``reminders.digest_hour`` (local), to
``smtp.members_services``; once a day (dedupe key ``digest:<date>``). Nothing to report,
no digest: staff are not trained to ignore an empty mail. Long lists are cut short with a
count of the rest (``crm-bridge enquiry list --overdue`` has them all). The digest names
enquiries by reference, category, service and member: no constituent details, and no
descriptions, since it goes to a shared mailbox.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import Status
from crm_bridge.reminders.decision import Decision, Problems
from crm_bridge.reminders.facts import MAILABLE_STATUSES, select_facts
from crm_bridge.reminders.ledger import existing_keys, record
from crm_bridge.reminders.render import Renderer, TemplateProblem, message_id
from crm_bridge.reminders.schedule import service_key
from crm_bridge.store.tables import enquiries, notifications
from crm_bridge.workdays import WorkingCalendar

__all__ = ["decide_digest", "digest_context"]

PER_SERVICE = 25
PER_LIST = 50
FAILED_MESSAGES_SINCE = timedelta(days=7)


def decide_digest(engine: Engine, config: CouncilConfig, calendar: WorkingCalendar,
                  renderer: Renderer, now: datetime, problems: Problems,
                  dry_run: bool = False) -> list[Decision]:
    address = config.smtp.members_services
    local = now.astimezone(calendar.zone)
    today = local.date()
    if not address or local.hour < config.reminders.digest_hour:
        return []
    key = f"digest:{today.isoformat()}"
    with engine.begin() as conn:
        if existing_keys(conn, [key]):
            return []
        context = digest_context(conn, config, calendar, renderer, today, now)
        # Asked last: a bank holiday is looked up only when there is a digest to send.
        if context["empty"] or not calendar.is_working_day(today):
            return []
        try:
            rendered = renderer.render("digest", context)
        except TemplateProblem as exc:
            problems.add(f"{exc}; the daily digest waits until it is fixed")
            return []
        if not dry_run:
            record(conn, kind="digest", key=key, enquiry_id=None, recipients=[address],
                   subject=rendered.subject, now=now,
                   message=renderer.message(rendered, kind="digest", key=key, to=[address],
                                            now=now),
                   message_id=message_id(key, config.smtp.from_address))
    return [Decision("digest", None, (address,), rendered.subject)]


def _item(row: Any, config: CouncilConfig, renderer: Renderer) -> dict[str, Any]:
    category = config.category(row.category_id)
    member = config.member(row.member_id)
    return {
        "reference": row.reference,
        "category": category.label if category else row.category_id,
        "member": member.name if member else row.member_id,
        "target_date": row.target_date,
        "crm_ref": row.crm_ref,
        "link": renderer.link(row.reference),
    }


def digest_context(conn: Connection, config: CouncilConfig, calendar: WorkingCalendar,
                   renderer: Renderer, today: date, now: datetime) -> dict[str, Any]:
    e = enquiries.c
    # The week's end needs the bank holidays: they are looked up only when there is an open
    # enquiry to place in it, or a digest to show it in.
    horizon: date | None = None
    rows: Sequence[Any] = []
    if conn.execute(select(e.id).where(e.status.in_(MAILABLE_STATUSES)).limit(1)).first():
        horizon = calendar.add_working_days(today, 4)  # today and the next four: a week
        rows = conn.execute(
            select_facts().where(e.status.in_(MAILABLE_STATUSES), e.target_date <= horizon)
            .order_by(e.target_date, e.reference)
        ).all()
    overdue = [row for row in rows if row.target_date < today]
    escalated = _escalated(conn, overdue)
    by_service: dict[str, list[Any]] = defaultdict(list)
    for row in overdue:
        by_service[row.service_id].append(row)
    services = []
    for service_id, items in sorted(by_service.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        service = config.service(service_id)
        services.append({
            "name": service.name if service else service_id,
            "count": len(items),
            "enquiries": [{**_item(row, config, renderer),
                       "working_days_overdue": calendar.working_days_between(row.target_date,
                                                                             today),
                       "escalated": row.id in escalated} for row in items[:PER_SERVICE]],
            "more": max(0, len(items) - PER_SERVICE),
        })
    due = [row for row in rows if row.target_date >= today]
    refused = conn.execute(
        select_facts().where(e.status == Status.FAILED_TO_SEND.value).order_by(e.reference)
    ).all()
    n = notifications.c
    undelivered = conn.execute(
        select(n.kind, n.subject, n.recipients, n.last_error)
        .where(n.state == "failed", n.decided_at >= now - FAILED_MESSAGES_SINCE)
        .order_by(n.id)
    ).all()
    waiting = conn.execute(
        select(func.count(), func.min(n.decided_at))
        .where(n.state == "pending", n.attempts > 0)
    ).one()
    empty = not (overdue or due or refused or undelivered or waiting[0])
    if horizon is None and not empty:
        horizon = calendar.add_working_days(today, 4)
    context = {
        "empty": empty,
        "today": today,
        "horizon": horizon,
        "overdue_count": len(overdue),
        "services": services,
        "due_count": len(due),
        "due": [{**_item(row, config, renderer),
                 "service": _service_name(config, row.service_id)} for row in due[:PER_LIST]],
        "due_more": max(0, len(due) - PER_LIST),
        "refused_count": len(refused),
        "refused": [{**_item(row, config, renderer), "reason": row.failure_reason or ""}
                    for row in refused[:PER_LIST]],
        "undelivered": [{"kind": r.kind.replace("_", "-"), "subject": r.subject,
                         "recipients": r.recipients, "reason": r.last_error or ""}
                        for r in undelivered[:PER_LIST]],
        "waiting_count": int(waiting[0]),
        "waiting_since": waiting[1],
    }
    return context


def _service_name(config: CouncilConfig, service_id: str) -> str:
    service = config.service(service_id)
    return service.name if service else service_id


def _escalated(conn: Connection, overdue: list[Any]) -> set[str]:
    """Which overdue enquiries have had their escalation (for their current date) sent."""
    keys = {service_key("escalation", row.id, row.target_date): row.id for row in overdue}
    sent: set[str] = set()
    wanted = list(keys)
    n = notifications.c
    for start in range(0, len(wanted), 500):
        sent.update(conn.execute(
            select(n.dedupe_key).where(n.dedupe_key.in_(wanted[start:start + 500]),
                                       n.state == "sent")).scalars())
    return {keys[key] for key in sent}

