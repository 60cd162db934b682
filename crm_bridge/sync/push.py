"""Push: send pending outbox rows to the CRM, each recorded in the store once it is done."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select

from connectors.base import Connector, Note
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import AuthError, PermanentError, TransientError
from crm_bridge.models import Status
from crm_bridge.store.enquiries import add_history, row_to_enquiry, set_fields
from crm_bridge.store.outbox import Claim, claims, mark_done, mark_failed, mark_retry
from crm_bridge.store.tables import enquiries
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy, call_with_retry

__all__ = ["push"]

log = logging.getLogger(__name__)

ACTOR = "sync"


def _backoff(attempts: int) -> timedelta:
    """How long a row that keeps failing waits before the next run tries it: 1 min → 1 h."""
    return timedelta(minutes=min(60, 2 ** min(attempts, 6)))


def push(engine: Engine, connector: Connector, config: CouncilConfig, policy: RetryPolicy,
         now: datetime, report: SyncReport, dry_run: bool = False) -> None:
    """Send every pending row; stop the run (AuthError) only when the CRM refuses our login."""
    for claim in claims(engine, now):
        with engine.connect() as conn:
            row = conn.execute(select(enquiries).where(enquiries.c.id == claim.enquiry_id)).first()
        if row is None:  # the enquiry was purged; nothing to send
            with claim.writer() as conn:
                mark_done(conn, claim, now)
            continue
        if dry_run:
            report.problems.append(f"would send {claim.kind} for {row.reference}")
            continue
        try:
            _send(engine, connector, config, policy, claim, row, now, report)
        except TransientError as exc:
            report.deferred += 1
            with claim.writer() as conn:
                mark_retry(conn, claim, str(exc), now + _backoff(claim.attempts))
            log.warning("push %s %s deferred: %s", claim.kind, row.reference, exc)
        except PermanentError as exc:
            report.failed += 1
            with claim.writer() as conn:
                mark_failed(conn, claim, str(exc), now)
                if claim.kind == "create_case":
                    set_fields(conn, claim.enquiry_id, now, status=Status.FAILED_TO_SEND.value,
                               failure_reason=str(exc))
                add_history(conn, claim.enquiry_id, now, "failed_to_send", ACTOR, str(exc),
                            Status.FAILED_TO_SEND if claim.kind == "create_case" else None)
            log.warning("push %s %s rejected by the CRM", claim.kind, row.reference)
        except AuthError:
            raise


def _send(engine: Engine, connector: Connector, config: CouncilConfig, policy: RetryPolicy,
          claim: Claim, row: Any, now: datetime, report: SyncReport) -> None:
    if claim.kind == "create_case":
        enquiry = row_to_enquiry(row)
        destination = config.service(enquiry.service_id)
        if destination is None:
            raise PermanentError(
                f"service '{enquiry.service_id}' is no longer in the config; "
                "restore it or reassign the enquiry"
            )
        case = call_with_retry(policy, lambda: connector.create_case(enquiry, destination))
        with claim.writer() as conn:
            status = Status.SENT.value if row.status in ("logged", "failed_to_send") else row.status
            set_fields(conn, claim.enquiry_id, now, crm_ref=case.id, status=status,
                       failure_reason=None)
            detail = (f"case {case.id} opened in the CRM" if case.created
                      else f"found case {case.id} already in the CRM")
            add_history(conn, claim.enquiry_id, now, "sent", ACTOR, detail, Status(status))
            mark_done(conn, claim, now)
        report.pushed += 1
        return
    if claim.kind == "add_note":
        if not row.crm_ref:
            report.deferred += 1  # the case is not open yet; the note waits for it
            return
        note = Note(text=str(claim.payload.get("text", "")),
                    author=str(claim.payload.get("author", ACTOR)),
                    kind=str(claim.payload.get("kind", "follow_up")))
        call_with_retry(policy, lambda: connector.add_note(row.crm_ref, note))
        with claim.writer() as conn:
            add_history(conn, claim.enquiry_id, now, "note_sent", ACTOR,
                        f"note added to case {row.crm_ref}")
            mark_done(conn, claim, now)
        report.notes += 1
        return
    raise PermanentError(f"unknown outbox kind '{claim.kind}'")
