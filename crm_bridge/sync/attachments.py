"""Photos to the CRM: each one sent to its enquiry's case once, through the outbox.

Storing a photo queues an ``add_attachment`` outbox row in the same transaction (see
``crm_bridge.portal.photos.store_photo``), so a photo stored before or after its case was
opened goes the same way: push takes the row once the enquiry has its CRM case, like a
note. The connector is given the same ``key`` on every try of one photo, so a retry after a
reply that never came puts no second copy on the case; ``sent_at`` (and the CRM's answer in
``crm_ref``) is written in the transaction that marks the row done.

A CRM connector without the ``SendsAttachments`` capability cannot carry files: the row is
settled at once (done, ``sent_at`` left empty), the enquiry's history says the photo stayed
in the bridge, and that sync run says how many photos it kept back. Each photo is reported
once, in the run that met it, not again on every run; `connector check` says it for the
connector as a whole.

Faults are push's: a transient one leaves the row for a later run, a permanent one fails
the row with the CRM's words in the enquiry's history and the outbox, and push goes on.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, select, update
from sqlalchemy.exc import SQLAlchemyError

from connectors.base import Connector, Finding, OutgoingAttachment, SendsAttachments
from crm_bridge.models import Status
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.outbox import Claim, enqueue, mark_done
from crm_bridge.store.tables import attachments, outbox
from crm_bridge.sync.report import SyncReport
from crm_bridge.sync.retry import RetryPolicy, call_with_retry

__all__ = ["KIND", "attachment_findings", "attachment_key", "queue_attachment",
           "send_attachment"]

log = logging.getLogger(__name__)

KIND = "add_attachment"
ACTOR = "sync"


def attachment_key(enquiry_id: str, attachment_id: int) -> str:
    """The same for every try of one stored photo, and for no other photo."""
    return f"photo-{enquiry_id}-{attachment_id}"


def queue_attachment(conn: Connection, enquiry_id: str, attachment_id: int,
                     now: datetime) -> None:
    """The outbox row that sends a stored photo to the CRM case (in the caller's transaction)."""
    enqueue(conn, enquiry_id, KIND, {"attachment_id": attachment_id}, now)


def send_attachment(connector: Connector, policy: RetryPolicy, claim: Claim, row: Any,
                    now: datetime, report: SyncReport) -> None:
    """Push one ``add_attachment`` row; raises the connector's errors for push to handle."""
    if not row.crm_ref:
        # No case yet: the photo waits for it, as a note does. One waiting on an enquiry the
        # CRM refused is no new failure (that was reported once).
        if row.status != Status.FAILED_TO_SEND.value:
            report.deferred += 1
        return
    attachment_id = int(claim.payload.get("attachment_id", 0))
    with claim.writer() as conn:
        photo = conn.execute(select(attachments).where(
            attachments.c.id == attachment_id, attachments.c.enquiry_id == claim.enquiry_id,
            attachments.c.sent_at.is_(None))).first()
        if photo is None:  # purged, or sent already
            mark_done(conn, claim, now)
        elif not isinstance(connector, SendsAttachments):
            add_history(conn, claim.enquiry_id, now, "photo_kept", ACTOR,
                        f"photo {photo.filename} kept in the bridge: the CRM connector "
                        f"'{connector.name}' cannot carry files")
            mark_done(conn, claim, now)
    if photo is None:
        return
    if not isinstance(connector, SendsAttachments):
        _kept(report, connector.name)
        return
    outgoing = OutgoingAttachment(
        filename=photo.filename, content_type=photo.content_type, data=bytes(photo.data),
        sha256=photo.sha256, key=attachment_key(claim.enquiry_id, attachment_id))
    answer = call_with_retry(policy, lambda: connector.add_attachment(row.crm_ref, outgoing))
    with claim.writer() as conn:
        conn.execute(update(attachments)
                     .where(attachments.c.id == attachment_id, attachments.c.sent_at.is_(None))
                     .values(sent_at=now, crm_ref=(str(answer)[:500] if answer else None)))
        add_history(conn, claim.enquiry_id, now, "photo_sent", ACTOR,
                    f"photo {photo.filename} added to case {row.crm_ref}")
        mark_done(conn, claim, now)
    report.photos += 1
    log.info("push add_attachment to case %s", row.crm_ref)


def _kept(report: SyncReport, connector_name: str) -> None:
    """Count a photo kept back, in the one line the run prints about them."""
    def line(kept: int) -> str:
        return (f"{kept} photo(s) kept in the bridge: the CRM connector '{connector_name}' "
                "cannot carry files, so officers do not see them on the case")
    if line(report.photos_kept) in report.problems:
        report.problems.remove(line(report.photos_kept))
    report.photos_kept += 1
    report.problems.append(line(report.photos_kept))


def attachment_findings(engine: Engine, connector: Connector) -> list[Finding]:
    """`connector check`'s line on photos: whether the CRM takes them, and what waits."""
    waiting = _outbox_counts(engine)
    if isinstance(connector, SendsAttachments):
        detail = "the CRM takes photos: each goes to its case on the sync after the case opens"
        if waiting.get("pending"):
            detail += f"; {waiting['pending']} waiting for their case or a retry"
        if waiting.get("failed"):
            detail += (f"; {waiting['failed']} refused by the CRM (`crm-bridge enquiry show` "
                       "gives its words; `crm-bridge enquiry retry` sends one again)")
        return [Finding("photos", True, detail)]
    with_history = "each enquiry's history says so"
    return [Finding("photos", True,
                    f"the '{connector.name}' connector cannot carry files: photos stay in the "
                    f"bridge (the portal shows them; {with_history}) and officers do not see "
                    "them on the case")]


def _outbox_counts(engine: Engine) -> dict[str, int]:
    """``add_attachment`` outbox rows by state; empty when there is no store yet (`connector
    check` needs none)."""
    try:
        with engine.connect() as conn:
            return {str(state): int(count) for state, count in conn.execute(
                select(outbox.c.state, func.count()).where(outbox.c.kind == KIND)
                .group_by(outbox.c.state))}
    except SQLAlchemyError:
        return {}
