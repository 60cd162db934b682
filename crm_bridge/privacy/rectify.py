"""`crm-bridge sar correct`: the right to rectification of a constituent's details.

Changes the named fields on the chosen enquiries, records in each one's history and the
audit log which fields changed and why (never the old values: they are the inaccurate
data), and lists the CRM cases to correct too (the bridge never rewrites a CRM's case).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, select, update

from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.models import Constituent
from crm_bridge.personkeys import keys_of
from crm_bridge.places import point_columns
from crm_bridge.privacy.crmcases import CrmCase
from crm_bridge.privacy.erase import narrow
from crm_bridge.privacy.scrub import compact, secure
from crm_bridge.privacy.subject import Subject, find_enquiries
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.tables import enquiries

__all__ = ["FIELDS", "CorrectReport", "correct", "parse_changes", "refresh_keys"]

FIELDS = {
    "name": "constituent_name", "address": "constituent_address",
    "postcode": "constituent_postcode", "email": "constituent_email",
    "phone": "constituent_phone", "uprn": "constituent_uprn", "location": "location",
}


def parse_changes(pairs: Sequence[str]) -> dict[str, str | None]:
    """``FIELD=VALUE`` pairs, checked as the enquiry form checks them; an empty value clears
    the field (not the name)."""
    if not pairs:
        raise InputError("--set", "say what to correct: --set FIELD=VALUE "
                         f"(fields: {', '.join(FIELDS)})")
    changes: dict[str, str | None] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip().lower()
        if not sep or key not in FIELDS:
            raise InputError("--set", f"'{pair}' is not FIELD=VALUE with FIELD one of "
                             f"{', '.join(FIELDS)}")
        changes[key] = value.strip() or None
    if "name" in changes and changes["name"] is None:
        raise InputError("--set", "name cannot be empty")
    if len(changes.get("location") or "") > 500:
        raise InputError("--set", "location must be 500 characters or fewer")
    person = {k: v for k, v in changes.items() if k != "location"}
    try:
        checked = Constituent.model_validate({"name": "x", **person}).model_dump()
    except ValidationError as exc:
        error = exc.errors(include_url=False)[0]
        raise InputError(f"--set {error['loc'][0]}",
                         error["msg"].removeprefix("Value error, ")) from None
    return {k: (checked[k] if k in person else v) for k, v in changes.items()}


def refresh_keys(conn: Connection, enquiry_id: str) -> None:
    """Work the person keys (and the location's point) out again from the enquiry's
    corrected details: the old ones would still find it by the inaccurate details."""
    c = enquiries.c
    row = conn.execute(select(c.constituent_name, c.constituent_email, c.constituent_phone,
                              c.constituent_postcode, c.location)
                       .where(c.id == enquiry_id)).one()
    keys = keys_of(row.constituent_name, row.constituent_email, row.constituent_phone,
                   row.constituent_postcode)
    conn.execute(update(enquiries).where(c.id == enquiry_id)
                 .values(**keys.columns(), **point_columns(row.location)))


@dataclass
class CorrectReport:
    dry_run: bool
    fields: list[str]
    references: list[str] = field(default_factory=list)
    crm_to_update: list[CrmCase] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {"dry_run": self.dry_run, "fields": self.fields, "corrected": self.references,
                "crm": {"to_action": [
                    {"reference": c.reference, "crm_ref": c.crm_ref,
                     "why": f"correct {', '.join(self.fields)} in the CRM case too"}
                    for c in self.crm_to_update]}}


def correct(engine: Engine, subject: Subject | None, references: Sequence[str],
            changes: dict[str, str | None], reason: str, actor: str, now: datetime,
            dry_run: bool = False) -> CorrectReport:
    from crm_bridge.access.audit import record_command  # imported on use

    if not reason.strip():
        raise InputError("--reason", "say why the data is corrected (it is recorded)")
    c = enquiries.c
    report = CorrectReport(dry_run=dry_run, fields=sorted(changes))
    with engine.begin() as conn:
        if subject is not None:
            ids = [m.id for m in narrow(find_enquiries(conn, subject), list(references))]
            if not ids:
                raise NotFoundError("no enquiry holds those details: nothing to correct")
            condition: Any = c.id.in_(ids)
        else:
            if not references:
                raise InputError("REFERENCE", "name the enquiries, or the person by --email, "
                                 "--phone, or --name with --postcode")
            wanted = [r.strip().upper() for r in references]
            condition = c.reference.in_(wanted)
        rows = conn.execute(select(c.id, c.reference, c.crm_ref, c.purged_at)
                            .where(condition).order_by(c.reference)).all()
        if subject is None:
            missing = sorted(set(wanted) - {r.reference for r in rows})
            if missing:
                raise NotFoundError(f"no enquiry {missing[0]}: check the reference")
        for row in rows:
            if row.purged_at is not None:
                raise InputError("REFERENCE", f"{row.reference}'s personal data was removed "
                                 "already: there is nothing to correct")
        report.references = [r.reference for r in rows]
        report.crm_to_update = [CrmCase(r.reference, r.crm_ref) for r in rows if r.crm_ref]
        if dry_run:
            conn.rollback()
            return report
        secure(conn)  # the inaccurate values are overwritten on disk, not only replaced
        values = {FIELDS[k]: v for k, v in changes.items()}
        detail = f"corrected {', '.join(report.fields)}; reason: {reason}"
        for row in rows:
            conn.execute(update(enquiries).where(c.id == row.id).values(
                **values, updated_at=now))
            refresh_keys(conn, row.id)
            add_history(conn, row.id, now, "corrected", actor, detail)
            record_command(conn, now, actor, "sar_correct", row.id, detail)
    compact(engine)
    return report
