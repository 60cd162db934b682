"""`crm-bridge purge`: remove personal data the retention policy no longer allows to be kept.

From every place the bridge keeps it (``scrub``): enquiries closed longer ago than their
period; the audit log's who and detail after ``retention.audit_months``; expired portal
sessions; .eml files in ``smtp.folder`` naming a purged enquiry; photos the connector
published in its ``media_folder`` for a purged enquiry. The CRM's copies are
anonymised where the connector can and ``retention.crm`` says so, otherwise listed.
Cron-safe: one purge at a time (the store's lock ``purge``), each batch of enquiries in one
transaction, and running it again finds nothing more to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine, delete, func, select, update

from connectors.base import Connector
from crm_bridge.config.loader import LoadedConfig
from crm_bridge.privacy.crmcases import CrmCase, CrmOutcome, action_cases
from crm_bridge.privacy.mailfolder import files_naming
from crm_bridge.privacy.mediafolder import media_folder, published_files
from crm_bridge.privacy.retention import Expired, expired, months_before
from crm_bridge.privacy.scrub import Scrubbed, chunks, compact, count_scrub, scrub, secure
from crm_bridge.store.enquiries import add_history_rows, history_row
from crm_bridge.store.locks import held
from crm_bridge.store.tables import audit_log, enquiries, portal_sessions

__all__ = ["AUDIT_REMOVED", "PurgeReport", "purge"]

AUDIT_REMOVED = "(removed)"
"""The audit log's actor once its period is over (the column is NOT NULL)."""


@dataclass
class PurgeReport:
    dry_run: bool
    references: list[str] = field(default_factory=list)
    scrubbed: Scrubbed = field(default_factory=Scrubbed)
    audit_rows: int = 0
    sessions: int = 0
    mail_files: list[str] = field(default_factory=list)
    media_files: list[str] = field(default_factory=list)  # photos published for the CRM
    crm_mode: str = "list"
    crm: CrmOutcome = field(default_factory=CrmOutcome)

    def as_dict(self) -> dict[str, object]:
        return {
            "dry_run": self.dry_run,
            "enquiries": len(self.references),
            "references": self.references,
            **{k: v for k, v in self.scrubbed.as_dict().items() if k != "enquiries"},
            "audit_rows": self.audit_rows,
            "sessions": self.sessions,
            "mail_files": len(self.mail_files),
            "media_files": len(self.media_files),
            "crm": {"mode": self.crm_mode, **self.crm.as_dict()},
        }


def purge(engine: Engine, loaded: LoadedConfig, connector: Callable[[], Connector],
          now: datetime, actor: str, dry_run: bool = False) -> PurgeReport:
    """Purge what has expired at ``now``; with ``dry_run`` count it and change nothing."""
    config = loaded.config
    retention = config.retention
    report = PurgeReport(dry_run=dry_run, crm_mode=retention.crm)
    with held(engine, "purge", now):
        with engine.connect() as conn:
            due = expired(conn, retention, now)
            report.references = [e.reference for e in due]
            media = media_folder(loaded)
            published = published_files(conn, media, [e.id for e in due]) if media else []
            report.media_files = [str(path) for path in published]
            audit_before = months_before(now, retention.audit_months)
            a = audit_log.c
            old_audit = (a.at < audit_before, a.actor != AUDIT_REMOVED)
            if dry_run:
                report.scrubbed = count_scrub(conn, [e.id for e in due])
                report.audit_rows = int(conn.execute(
                    select(func.count()).select_from(audit_log).where(*old_audit)).scalar_one())
                report.sessions = int(conn.execute(
                    select(func.count()).select_from(portal_sessions)
                    .where(portal_sessions.c.expires_at < now)).scalar_one())
            conn.rollback()
        if not dry_run:
            report.scrubbed = _scrub_expired(engine, due, now, actor)
            for path in published:
                path.unlink(missing_ok=True)
            with engine.begin() as conn:
                secure(conn)
                report.audit_rows = conn.execute(
                    update(audit_log).where(*old_audit)
                    .values(actor=AUDIT_REMOVED, detail="", via=None,
                            target_user=None)).rowcount
                report.sessions = conn.execute(
                    delete(portal_sessions).where(portal_sessions.c.expires_at < now)).rowcount
        if config.smtp.transport == "folder":
            folder = loaded.resolve(config.smtp.folder)
            refs = {e.reference for e in due}
            files = files_naming(folder, lambda found: _purged_among(engine, found, refs))
            report.mail_files = [str(path) for path in files]
            if not dry_run:
                for path in files:
                    path.unlink(missing_ok=True)
        cases = [CrmCase(e.reference, e.crm_ref) for e in due if e.crm_ref]
        if dry_run:
            report.crm.to_action = [(case, "would be " + ("anonymised if the connector can"
                                                          if retention.crm == "anonymise"
                                                          else "listed")) for case in cases]
        else:
            report.crm = action_cases(
                cases, retention.crm == "anonymise", connector,
                "purged in the bridge: apply the CRM's own retention to this case")
            if due or report.audit_rows:
                compact(engine)
    return report


def _scrub_expired(engine: Engine, due: list[Expired], now: datetime, actor: str) -> Scrubbed:
    from crm_bridge.access.audit import record_command  # imported on use

    total = Scrubbed()
    by_id = {e.id: e for e in due}
    for chunk in chunks(list(by_id)):
        with engine.begin() as conn:
            secure(conn)
            total.add(scrub(conn, chunk, now))
            add_history_rows(conn, [
                history_row(i, now, "purged", actor,
                            f"personal data removed: {by_id[i].months} months after closure")
                for i in chunk])
            for enquiry_id in chunk:
                record_command(conn, now, actor, "purged", enquiry_id,
                       f"retention: {by_id[enquiry_id].months} months after closure")
    return total


def _purged_among(engine: Engine, found: Iterable[str], due: set[str]) -> set[str]:
    """The references in ``found`` that are purged already, or due to be in this run."""
    wanted = sorted(set(found))
    gone = set(wanted) & due
    with engine.connect() as conn:
        for chunk in chunks(wanted):
            gone.update(conn.execute(select(enquiries.c.reference).where(
                enquiries.c.reference.in_(chunk), enquiries.c.purged_at.is_not(None))).scalars())
    return gone
