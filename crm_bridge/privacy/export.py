"""`crm-bridge sar export`: one constituent's enquiries, history and responses, as JSON and
as a page a person can read, with other people's details and internal notes withheld.
Files officers put on the CRM case are listed by name and link (``crm_files``): the CRM
holds them, and the export says where.

Written into a folder of the caller's choosing (files readable by their owner only), with
the constituent's photos beside them; every export is written to the audit log.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import Connection, Engine, select

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.models import Enquiry
from crm_bridge.privacy.redact import Redactor, third_party_terms
from crm_bridge.privacy.subject import Match, Subject, find_enquiries
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.tables import attachments, crm_attachment_links, held_updates

__all__ = ["DISCLOSED_EVENTS", "Export", "build_export", "export_subject", "write_export"]

DISCLOSED_EVENTS = frozenset({
    "logged", "sent", "status", "response", "photo_added", "extended", "reassigned",
    "handed_over", "heads_up_sent", "reminder_sent", "escalated", "member_told",
    "corrected", "purged", "erased", "archived", "photo_sent", "photo_kept",
    "closed_without_response",
})
"""History events whose text is the constituent's to see. Any other (members' notes to the
service, links to other enquiries, CRM errors, events added later) shows its date and kind
with the text withheld as an internal note."""

WITHHELD_NOTE = "[internal note withheld]"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates" / "sar"


@dataclass
class Export:
    data: dict[str, Any]
    matches: list[Match]
    photos: list[tuple[str, bytes]]  # (file name in the export, bytes)


def build_export(conn: Connection, config: CouncilConfig, subject: Subject,
                 now: datetime) -> Export:
    matches = find_enquiries(conn, subject)
    redactor = Redactor(third_party_terms(conn, [m.id for m in matches]))
    zone = ZoneInfo(config.council.timezone)
    items: list[dict[str, Any]] = []
    photos: list[tuple[str, bytes]] = []
    for match in matches:
        enquiry = get_enquiry(conn, match.id)
        if enquiry is None:  # pragma: no cover - found a moment ago in the same transaction
            continue
        item = _item(enquiry, config, zone, match)
        # Responses the CRM sent that wait on a status the mapping lacks (sync.held).
        item["responses_waiting"] = [
            {"at": row.occurred_at.astimezone(zone).isoformat(timespec="minutes"),
             "response": row.response}
            for row in conn.execute(
                select(held_updates.c.occurred_at, held_updates.c.response)
                .where(held_updates.c.enquiry_id == match.id,
                       held_updates.c.response.is_not(None))
                .order_by(held_updates.c.occurred_at, held_updates.c.id))]
        for number, row in enumerate(conn.execute(
                select(attachments.c.filename, attachments.c.content_type, attachments.c.data)
                .where(attachments.c.enquiry_id == match.id).order_by(attachments.c.id)), 1):
            name = f"{enquiry.reference}-{number}-{row.filename}"
            photos.append((name, bytes(row.data)))
            item["photos"].append({"file": f"photos/{name}", "content_type": row.content_type})
        links = crm_attachment_links.c
        item["crm_files"] = [
            {"name": row.name, "url": row.url, "added": _local(row.added_at, zone)}
            for row in conn.execute(select(links.name, links.url, links.added_at)
                                    .where(links.enquiry_id == match.id).order_by(links.id))]
        items.append(redactor.value(item))
    data = {
        "council": config.council.name,
        "produced_at": now.astimezone(zone).isoformat(timespec="seconds"),
        "found_by": subject.describe(),
        "enquiries": items,
        "notes": [
            "Details of other people (from enquiries linked to these) are withheld, and so "
            "are internal notes; read the free text before sending: it may still name others.",
            "The council's CRM holds its own copy of each case (crm_case); ask the service "
            "that runs it for that copy.",
        ],
    }
    return Export(data, matches, photos)


def _item(enquiry: Enquiry, config: CouncilConfig, zone: ZoneInfo,
          match: Match) -> dict[str, Any]:
    member = config.member(enquiry.member_id)
    category = config.category(enquiry.category_id)
    service = config.service(enquiry.service_id)
    ward = config.ward(enquiry.ward_id) if enquiry.ward_id else None

    def local(value: datetime | None) -> str | None:
        return value.astimezone(zone).isoformat(timespec="minutes") if value else None

    person = enquiry.constituent
    return {
        "reference": enquiry.reference,
        "matched_by": match.matched_by,
        "received": local(enquiry.received_at),
        "channel": enquiry.channel.value,
        "member": member.name if member else enquiry.member_id,
        "ward": ward.name if ward else enquiry.ward_id,
        "category": category.label if category else enquiry.category_id,
        "service": service.name if service else enquiry.service_id,
        "status": enquiry.status.value,
        "response_due": enquiry.target_date.isoformat(),
        "crm_case": enquiry.crm_ref,
        "constituent": {"name": person.name, "address": person.address,
                        "postcode": person.postcode, "email": person.email,
                        "phone": person.phone, "uprn": person.uprn},
        "consent_to_share_with_ward_members": enquiry.consent.to_share,
        "description": enquiry.description,
        "location": enquiry.location,
        "response": enquiry.response,
        "responded": local(enquiry.responded_at),
        "closed": local(enquiry.closed_at),
        "personal_data_removed": local(enquiry.purged_at),
        "history": [{"at": local(h.at), "event": h.event,
                     "status": h.status.value if h.status else None,
                     "detail": h.detail if h.event in DISCLOSED_EVENTS else WITHHELD_NOTE}
                    for h in enquiry.history],
        "linked_enquiries": len(enquiry.linked),
        "photos": [],
    }


def _local(value: datetime, zone: ZoneInfo) -> str:
    return value.astimezone(zone).isoformat(timespec="minutes")


def _write(path: Path, data: bytes) -> None:
    """A new file only its owner can read; never over an existing one."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_export(export: Export, folder: Path, now: datetime) -> list[Path]:
    """JSON, HTML and photos into ``folder``; returns the files written."""
    stem = f"subject-access-{now:%Y%m%d-%H%M%S}"
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        json_path, html_path = folder / f"{stem}.json", folder / f"{stem}.html"
        if json_path.exists() or html_path.exists():
            raise InputError("--out", f"{json_path} already exists: choose another folder")
        env = Environment(loader=FileSystemLoader(str(TEMPLATES)),
                          autoescape=select_autoescape(["html"]))
        written = [json_path, html_path]
        _write(json_path, json.dumps(export.data, indent=2, ensure_ascii=False).encode())
        _write(html_path, env.get_template("export.html").render(**export.data).encode())
        if export.photos:
            photo_dir = folder / "photos"
            photo_dir.mkdir(mode=0o700, exist_ok=True)
            for name, data in export.photos:
                _write(photo_dir / name, data)
                written.append(photo_dir / name)
    except OSError as exc:
        raise InputError("--out", f"cannot write the export into {folder}: "
                         f"{exc.strerror or exc}") from None
    return written


def export_subject(engine: Engine, config: CouncilConfig, subject: Subject, folder: Path,
                   reason: str, actor: str, now: datetime) -> tuple[Export, list[Path]]:
    """Find, write and audit one subject access export."""
    from crm_bridge.access.audit import record_command  # imported on use

    with engine.begin() as conn:
        export = build_export(conn, config, subject, now)
        files = write_export(export, folder, now)
        detail = f"subject access export (found by {subject.describe()}); reason: {reason}"
        for match in export.matches:
            record_command(conn, now, actor, "sar_export", match.id, detail)
        if not export.matches:
            record_command(conn, now, actor, "sar_export", None, detail + "; nothing held")
    return export, files
