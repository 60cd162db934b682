"""Tell members when a response arrives: at once, or in one digest a day, as each chose.

Responses are found through the enquiry history's ``response`` events that pull writes,
read after a cursor (``reminders:responses`` in ``sync_cursors``) that moves in the same
transaction as the notices it produced, so each response is noticed once. A store that
has never had the cursor (the first run after an upgrade) looks back seven days only,
rather than mailing members about every response ever received.

``notify: immediately`` records a pending notice; ``daily`` records it as held, and the
first sync after ``reminders.digest_hour`` gathers a member's held notices into one
digest (recorded in the same transaction that marks them digested); ``never`` or a member
with no e-mail address records nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, update

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import Member
from crm_bridge.reminders.decision import Decision, Problems
from crm_bridge.reminders.facts import enquiry_facts, select_facts
from crm_bridge.reminders.ledger import cancel, record
from crm_bridge.reminders.render import Renderer, TemplateProblem, message_id
from crm_bridge.store.cursors import get_cursor, set_cursor
from crm_bridge.store.tables import enquiries, enquiry_history, notifications
from crm_bridge.workdays import WorkingCalendar

__all__ = ["CURSOR", "decide_member_digests", "decide_response_notices"]

CURSOR = "reminders:responses"
FIRST_LOOK_BACK = timedelta(days=7)


def _wants_mail(member: Member | None) -> bool:
    return member is not None and member.notify != "never" and bool(member.email)


def decide_response_notices(engine: Engine, config: CouncilConfig, calendar: WorkingCalendar,
                            renderer: Renderer, now: datetime, problems: Problems,
                            dry_run: bool = False) -> list[Decision]:
    h = enquiry_history.c
    decided: list[Decision] = []
    with engine.begin() as conn:
        cursor = get_cursor(conn, CURSOR)
        query = (
            select_facts()
            .add_columns(h.id.label("history_id"), h.at.label("response_at"),
                         h.detail.label("response_text"))
            .select_from(enquiries.join(enquiry_history, h.enquiry_id == enquiries.c.id))
            .where(h.event == "response")
        )
        query = (query.where(h.id > int(cursor)) if cursor is not None
                 else query.where(h.at >= now - FIRST_LOOK_BACK))
        done: int | None = None
        for row in conn.execute(query.order_by(h.id)).all():
            member = config.member(row.member_id)
            if _wants_mail(member):
                assert member is not None and member.email
                key = f"response:{row.id}:{row.history_id}"
                context = {
                    "enquiry": enquiry_facts(row, config, calendar, renderer.link(row.reference)),
                    "member": member.name,
                    "response": row.response_text,
                    "responded_at": row.response_at,
                    "on_time": calendar.local_date(row.response_at) <= row.target_date,
                }
                try:
                    rendered = renderer.render("response", context)
                except TemplateProblem as exc:
                    # Stop here: the cursor stays before this response, so once the template
                    # is fixed the notice is decided, not skipped.
                    problems.add(f"{exc}; response notices wait until it is fixed")
                    break
                daily = member.notify == "daily"
                if not dry_run:
                    message = None if daily else renderer.message(
                        rendered, kind="response", key=key, to=[member.email], now=now,
                        reference=row.reference)
                    record(conn, kind="response", key=key, enquiry_id=row.id,
                           recipients=[member.email], subject=rendered.subject, message=message,
                           message_id=None if daily else message_id(key,
                                                                   config.smtp.from_address),
                           now=now, state="held" if daily else "pending")
                if not daily:
                    decided.append(Decision("response", row.reference, (member.email,),
                                            rendered.subject))
            done = row.history_id
        if done is not None and not dry_run:
            set_cursor(conn, CURSOR, str(done), now)
    return decided


def decide_member_digests(engine: Engine, config: CouncilConfig, calendar: WorkingCalendar,
                          renderer: Renderer, now: datetime, problems: Problems,
                          dry_run: bool = False) -> list[Decision]:
    local = now.astimezone(calendar.zone)
    if local.hour < config.reminders.digest_hour:
        return []
    today = local.date()
    n = notifications.c
    decided: list[Decision] = []
    with engine.begin() as conn:
        rows = conn.execute(
            select_facts().add_columns(n.id.label("notice_id"))
            .select_from(notifications.join(enquiries, enquiries.c.id == n.enquiry_id))
            .where(n.state == "held", n.kind == "response")
            .order_by(n.id)
        ).all()
        by_member: dict[str, list[Any]] = {}
        for row in rows:
            by_member.setdefault(row.member_id, []).append(row)
        for member_id, held in by_member.items():
            member = config.member(member_id)
            if not _wants_mail(member):
                if not dry_run:
                    for row in held:
                        cancel(conn, row.notice_id, "the member no longer wants e-mail")
                continue
            assert member is not None and member.email
            key = f"member_digest:{member_id}:{today.isoformat()}"
            context = {
                "member": member.name,
                "today": today,
                "items": [{**enquiry_facts(row, config, calendar, renderer.link(row.reference)),
                           "response": row.response, "responded_at": row.responded_at,
                           "on_time": row.responded_at is not None
                           and calendar.local_date(row.responded_at) <= row.target_date}
                          for row in held],
            }
            try:
                rendered = renderer.render("member_digest", context)
            except TemplateProblem as exc:
                problems.add(f"{exc}; members' daily digests wait until it is fixed")
                return decided
            if dry_run:
                decided.append(Decision("member_digest", None, (member.email,), rendered.subject))
                continue
            digest_id = record(
                conn, kind="member_digest", key=key, enquiry_id=None, recipients=[member.email],
                subject=rendered.subject, now=now,
                message=renderer.message(rendered, kind="member_digest", key=key,
                                         to=[member.email], now=now),
                message_id=message_id(key, config.smtp.from_address))
            if digest_id is None:
                continue  # today's digest has gone already: these wait for tomorrow's
            conn.execute(update(notifications)
                         .where(n.id.in_([row.notice_id for row in held]))
                         .values(state="digested", digest_id=digest_id))
            decided.append(Decision("member_digest", None, (member.email,), rendered.subject))
    return decided
