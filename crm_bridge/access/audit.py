"""The audit trail of who saw or changed which enquiry, in the store's ``audit_log`` table.

One row per enquiry shown (so "who has seen this person's enquiry?" is one query), per
sign-in, change and account change. ``actor`` is the portal account whose rights were used
(or ``cli:<login>`` for the command line run without ``--as``); ``via`` says how: ``portal``
or ``cli:<login>``, the operating-system login that ran the command. Account changes name
the account in ``target_user`` and, for a role granted, the role and staff group in
``detail``. Never written to the application log.
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, or_, select

from crm_bridge.store.tables import audit_log, enquiries

__all__ = [
    "PORTAL",
    "AuditRow",
    "cli_login",
    "grant_detail",
    "read_audit",
    "record",
    "record_command",
    "record_reads",
    "row",
]

PORTAL = "portal"
_INSERT = insert(audit_log)


def cli_login() -> str:
    """``cli:<login>``: who ran a command, as the operating system knows them."""
    try:
        login = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        login = f"uid{os.getuid()}"
    return f"cli:{login}"


def row(at: datetime, actor: str, action: str, enquiry_id: str | None = None,
        detail: str = "", via: str = PORTAL, target_user: str | None = None) -> dict[str, Any]:
    """One audit_log row's values (``detail`` cut to 2000 characters)."""
    return {"at": at, "actor": actor[:200], "action": action, "enquiry_id": enquiry_id,
            "detail": detail[:2000], "via": via[:200], "target_user": target_user}


def record(conn: Connection, at: datetime, actor: str, action: str,
           enquiry_id: str | None = None, detail: str = "", via: str = PORTAL,
           target_user: str | None = None) -> None:
    conn.execute(_INSERT, row(at, actor, action, enquiry_id, detail, via, target_user))


def record_command(conn: Connection, at: datetime, login: str, action: str,
                   enquiry_id: str | None = None, detail: str = "") -> None:
    """A row for what a command did (purge, subject rights, a member's departure): the
    ``cli:<login>`` that ran it is both who and how."""
    record(conn, at, login, action, enquiry_id, detail, via=login)


def record_reads(conn: Connection, at: datetime, actor: str, action: str,
                 enquiry_ids: Iterable[str], detail: str = "", via: str = PORTAL) -> None:
    """One row per enquiry read, in the caller's transaction."""
    rows = [row(at, actor, action, enquiry_id, detail, via)
            for enquiry_id in dict.fromkeys(enquiry_ids)]
    if rows:
        conn.execute(_INSERT, rows)


def grant_detail(role: str, staff_group: str | None, member_id: str | None) -> str:
    """What a role grant gave, as the audit row's detail."""
    parts = [f"role {role}"]
    if staff_group:
        parts.append(f"staff group {staff_group}")
    if member_id:
        parts.append(f"member {member_id}")
    return ", ".join(parts)


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    via: str | None
    action: str
    reference: str | None
    target_user: str | None
    detail: str

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "actor": self.actor, "via": self.via,
                "action": self.action, "reference": self.reference,
                "target_user": self.target_user, "detail": self.detail}


def read_audit(conn: Connection, *, enquiry_id: str | None = None, user: str | None = None,
               since: datetime | None = None, until: datetime | None = None,
               limit: int = 1000) -> list[AuditRow]:
    """Audit rows, oldest first: about one enquiry; by or about one user (as the actor, the
    operating-system login behind ``cli:``, or the account changed); between two instants."""
    a = audit_log.c
    query = (select(a.at, a.actor, a.via, a.action, enquiries.c.reference, a.target_user,
                    a.detail)
             .select_from(audit_log.outerjoin(enquiries, enquiries.c.id == a.enquiry_id)))
    if enquiry_id is not None:
        query = query.where(a.enquiry_id == enquiry_id)
    if user is not None:
        query = query.where(or_(a.actor == user, a.actor == f"cli:{user}",
                                a.via == f"cli:{user}", a.target_user == user))
    if since is not None:
        query = query.where(a.at >= since)
    if until is not None:
        query = query.where(a.at < until)
    query = query.order_by(a.at, a.id).limit(limit)
    return [AuditRow(r.at, r.actor, r.via, r.action, r.reference, r.target_user, r.detail)
            for r in conn.execute(query)]
