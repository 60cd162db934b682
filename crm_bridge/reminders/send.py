"""Send the pending messages, each marked sent in the store as soon as the server takes it.

The order is decide+record (an earlier transaction) → send → mark sent. A crash after
the server accepted a message and before it was marked sent leaves it pending, and the
next run sends it again: at least once, never lost. The copy is byte for byte the same
message with the same Message-ID (``render.message_id``), so mail systems that
de-duplicate by Message-ID drop it, and a person sees two identical mails at worst. The
window is the few milliseconds between the server's 250 and the commit that follows.

Just before sending a heads-up, reminder or escalation, the enquiry is read again: one
that got its response, or a new date, since the message was decided is not chased; the
message is cancelled with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, select

from crm_bridge.reminders.facts import MAILABLE_STATUSES
from crm_bridge.reminders.ledger import (
    Pending,
    backoff,
    cancel,
    mark_failed,
    mark_retry,
    mark_sent,
    message,
    pending,
)
from crm_bridge.reminders.schedule import SERVICE_KINDS, service_key
from crm_bridge.reminders.smtp import (
    Mailer,
    MailRejected,
    MailSetupError,
    MailUnavailable,
    Refused,
)
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.tables import enquiries, notifications

__all__ = ["SendResult", "send_pending"]

log = logging.getLogger(__name__)

ACTOR = "sync"

_HISTORY = {
    "heads_up": ("heads_up_sent", "heads-up e-mailed to {to}"),
    "reminder": ("reminder_sent", "reminder e-mailed to {to}"),
    "escalation": ("escalated", "escalation e-mailed to {to}"),
    "response": ("member_told", "the member was e-mailed the response"),
}


@dataclass
class SendResult:
    sent: int = 0
    failed: int = 0
    cancelled: int = 0
    waiting: int = 0
    stopped: str | None = None


def send_pending(engine: Engine, mailer: Mailer, sender: str, now: datetime,
                 limit: int, keep_going: Callable[[], bool] | None = None) -> SendResult:
    """Send up to ``limit`` due messages; stop at the first sign the server is out of reach,
    or between messages once ``keep_going()`` says so (the sync run's deadline)."""
    result = SendResult()
    for row in pending(engine, now, limit):
        if keep_going is not None and not keep_going():
            break
        with engine.connect() as conn:
            stale = _stale(conn, row)
            body = None if stale else message(conn, row)
        if stale:
            with engine.begin() as conn:
                cancel(conn, row.id, stale)
            result.cancelled += 1
            log.info("mail %s %d cancelled: %s", row.kind, row.id, stale)
            continue
        if not body or not row.recipients:  # never recorded so; refuse to send a blank
            with engine.begin() as conn:
                mark_failed(conn, row, "nothing to send: the stored message or recipients are "
                            "missing")
            result.failed += 1
            continue
        try:
            refused = mailer.send(sender, row.recipients, body.encode("ascii"))
        except MailRejected as exc:
            with engine.begin() as conn:
                mark_failed(conn, row, str(exc))
            result.failed += 1
            log.warning("mail %s %d refused for good: %s", row.kind, row.id, exc)
            continue
        except MailSetupError as exc:
            # Nothing will go until the config is fixed: try again on the very next run.
            with engine.begin() as conn:
                mark_retry(conn, row, str(exc), now)
            result.stopped = str(exc)
            break
        except MailUnavailable as exc:
            with engine.begin() as conn:
                mark_retry(conn, row, str(exc), now + backoff(row.attempts))
            log.warning("mail %s %d deferred: %s", row.kind, row.id, exc)
            if exc.stop_run:
                result.stopped = str(exc)
                break
            continue
        with engine.begin() as conn:
            mark_sent(conn, row, now, _partly_refused(refused))
            if row.enquiry_id and row.kind in _HISTORY:
                event, detail = _HISTORY[row.kind]
                add_history(conn, row.enquiry_id, now, event, ACTOR,
                            detail.format(to=", ".join(row.recipients)))
        result.sent += 1
        log.info("mail %s %d sent to %d recipients", row.kind, row.id, len(row.recipients))
    with engine.connect() as conn:
        result.waiting = int(conn.execute(
            select(func.count()).where(notifications.c.state == "pending")).scalar_one())
    return result


def _stale(conn: Connection, row: Pending) -> str | None:
    """Why a service message is no longer true, or None to send it."""
    if row.kind not in SERVICE_KINDS or row.enquiry_id is None:
        return None
    found = conn.execute(
        select(enquiries.c.status, enquiries.c.target_date)
        .where(enquiries.c.id == row.enquiry_id)
    ).first()
    if found is None:
        return "the enquiry no longer exists"
    if found.status not in MAILABLE_STATUSES:
        return f"the enquiry is {found.status.replace('_', ' ')} now"
    if service_key(row.kind, row.enquiry_id, found.target_date) != row.dedupe_key:
        return f"the response date moved to {found.target_date.isoformat()}"
    return None


def _partly_refused(refused: Refused) -> str | None:
    if not refused:
        return None
    return "not delivered to " + "; ".join(
        f"{address} ({code} {text.decode('utf-8', 'replace').strip()})"
        for address, (code, text) in refused.items())
