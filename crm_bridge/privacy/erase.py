"""`crm-bridge sar erase`: the right to erasure, for one constituent's enquiries.

Removes exactly what a purge removes (``scrub``), whatever the retention period, with the
reason recorded in the enquiry's history and the audit log, and the same files (.eml
copies in ``smtp.folder``, photos published in the connector's ``media_folder``). An
enquiry still open (the service owes a response) is erased only when asked
(``include_open``): it is then closed, so nothing chases the service about it. The CRM's
case is anonymised where the connector can, otherwise listed for the CRM's
administrators.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, Engine, func, or_, select, update

from connectors.base import Connector
from crm_bridge.config.loader import LoadedConfig
from crm_bridge.errors import InputError
from crm_bridge.models import OPEN_STATUSES, Status
from crm_bridge.privacy.crmcases import CrmCase, CrmOutcome, action_cases
from crm_bridge.privacy.mailfolder import files_naming
from crm_bridge.privacy.mediafolder import media_folder, published_files
from crm_bridge.privacy.scrub import Scrubbed, compact, count_scrub, scrub, secure
from crm_bridge.privacy.subject import Match, Subject, find_enquiries
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.tables import enquiries, enquiry_history

__all__ = ["EraseReport", "erase", "narrow"]

_OPEN = {s.value for s in OPEN_STATUSES}


@dataclass
class EraseReport:
    dry_run: bool
    references: list[str] = field(default_factory=list)
    left_open: list[str] = field(default_factory=list)  # open, and --include-open not given
    closed: list[str] = field(default_factory=list)  # open, closed by the erasure
    scrubbed: Scrubbed = field(default_factory=Scrubbed)
    mail_files: int = 0
    media_files: int = 0  # photos the connector published for the CRM
    crm: CrmOutcome = field(default_factory=CrmOutcome)
    mentioned_in: list[str] = field(default_factory=list)  # others' enquiries naming them

    def as_dict(self) -> dict[str, object]:
        return {"dry_run": self.dry_run, "erased": self.references,
                "left_open": self.left_open, "closed": self.closed,
                "mentioned_in": self.mentioned_in,
                **{k: v for k, v in self.scrubbed.as_dict().items() if k != "enquiries"},
                "mail_files": self.mail_files, "media_files": self.media_files,
                "crm": self.crm.as_dict()}


def narrow(matches: list[Match], only: list[str]) -> list[Match]:
    """The matches named by ``only`` (all when empty); a reference not among them is refused."""
    if not only:
        return matches
    by_ref = {m.reference: m for m in matches}
    wanted = [r.strip().upper() for r in only]
    for ref in wanted:
        if ref not in by_ref:
            raise InputError("--only", f"{ref} is not one of this person's enquiries "
                             f"(found: {', '.join(by_ref) or 'none'})")
    return [by_ref[r] for r in dict.fromkeys(wanted)]


def erase(engine: Engine, loaded: LoadedConfig, connector: Callable[[], Connector],
          subject: Subject, only: list[str], include_open: bool, reason: str, actor: str,
          now: datetime, dry_run: bool = False) -> EraseReport:
    from crm_bridge.access.audit import record_command  # imported on use

    if not reason.strip():
        raise InputError("--reason", "say why the data is erased (it is recorded)")
    report = EraseReport(dry_run=dry_run)
    c = enquiries.c
    with engine.connect() as conn:
        matches = narrow(find_enquiries(conn, subject), only)
        rows = conn.execute(select(c.id, c.reference, c.status, c.crm_ref)
                            .where(c.id.in_([m.id for m in matches]))
                            .order_by(c.reference)).all()
        chosen = [r for r in rows if include_open or r.status not in _OPEN]
        report.left_open = [r.reference for r in rows if r not in chosen]
        report.references = [r.reference for r in chosen]
        report.closed = [r.reference for r in chosen if r.status in _OPEN]
        report.mentioned_in = _mentions(conn, [r.id for r in chosen])
        media = media_folder(loaded)
        published = published_files(conn, media, [r.id for r in chosen]) if media else []
        report.media_files = len(published)
        if dry_run:
            report.scrubbed = count_scrub(conn, [r.id for r in chosen])
        conn.rollback()
    cases = [CrmCase(r.reference, r.crm_ref) for r in chosen if r.crm_ref]
    folder = (loaded.resolve(loaded.config.smtp.folder)
              if loaded.config.smtp.transport == "folder" else None)
    refs = set(report.references)
    files = files_naming(folder, lambda found: set(found) & refs) if folder else []
    report.mail_files = len(files)
    if dry_run:
        report.crm.to_action = [(case, "would be anonymised if the connector can, else listed")
                                for case in cases]
        return report
    if chosen:
        with engine.begin() as conn:
            secure(conn)
            ids = [r.id for r in chosen]
            report.scrubbed = scrub(conn, ids, now)
            closing = [r.id for r in chosen if r.status in _OPEN]
            if closing:
                conn.execute(update(enquiries).where(c.id.in_(closing)).values(
                    status=Status.CLOSED.value, closed_at=now, overdue=False, updated_at=now))
            for r in chosen:
                add_history(conn, r.id, now, "erased", actor,
                            f"personal data erased on request; reason: {reason}",
                            Status.CLOSED if r.id in closing else None)
                record_command(conn, now, actor, "sar_erase", r.id, f"erased; reason: {reason}")
        for path in [*files, *published]:
            path.unlink(missing_ok=True)
        compact(engine)
    report.crm = action_cases(cases, True, connector,
                              "erased in the bridge: erase or anonymise this case in the CRM")
    return report


def _mentions(conn: Connection, ids: list[str]) -> list[str]:
    """Other enquiries whose text names the person (their name, e-mail or phone as held on
    the enquiries being erased): erasure does not edit other people's records, so these are
    listed for staff to review."""
    if not ids:
        return []
    c, h = enquiries.c, enquiry_history.c
    terms: set[str] = set()
    for row in conn.execute(select(c.constituent_name, c.constituent_email, c.constituent_phone)
                            .where(c.id.in_(ids))):
        terms.update(str(v).strip().lower() for v in row if v and len(str(v).strip()) >= 4)
    found: set[str] = set()
    for term in sorted(terms):
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        texts = or_(*(func.lower(col).like(like, escape="\\")
                      for col in (c.description, c.location, c.response)))
        found.update(conn.execute(select(c.reference).where(texts, c.id.not_in(ids))).scalars())
        found.update(conn.execute(
            select(c.reference).join(enquiry_history, h.enquiry_id == c.id)
            .where(func.lower(h.detail).like(like, escape="\\"), c.id.not_in(ids))).scalars())
    return sorted(found)
