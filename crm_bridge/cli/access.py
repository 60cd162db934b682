"""Who a command reads as, and the audit rows its reads leave.

Run as it is, a command reads as the operator: whoever can run it can read the store's file
or database anyway, so nothing is hidden, but every read of a constituent's data is written
to the audit log as ``cli:<login>`` (the operating-system login). With ``--as USERNAME`` it
applies that portal account's access policy (the same ``crm_bridge.access.policy`` as the
portal) and the rows name that account, made ``via`` ``cli:<login>``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

import click

from crm_bridge.access.audit import cli_login, record_reads
from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.app import Bridge
from crm_bridge.errors import InputError, StoreUnavailable

__all__ = ["Reader", "as_option", "audit_reads", "principal_of", "reader"]

as_option = click.option(
    "--as", "as_user", metavar="USERNAME",
    help="Show only what this portal account may see; audited as that account.")


@dataclass(frozen=True)
class Reader:
    """``actor`` and ``via`` for the audit log; ``principal`` None: the operator, no limit."""

    actor: str
    via: str
    principal: Principal | None


def reader(bridge: Bridge, as_user: str | None) -> Reader:
    login = cli_login()
    if as_user is None:
        return Reader(login, login, None)
    from crm_bridge.portal.accounts import find_user

    with bridge.engine.connect() as conn:
        row = find_user(conn, as_user)
    if row is None or not row.active:
        raise InputError("--as", f"no active portal account '{as_user.strip().lower()}': "
                         "'crm-bridge user list' shows them")
    who = principal_for(bridge.config, user_id=row.id, username=row.username,
                        name=row.display_name, role=UserRole(row.role),
                        member_id=row.member_id, staff_group=row.staff_group,
                        session_id="cli")
    if not who.sees_enquiries:
        raise InputError("--as", f"'{row.username}' ({row.role}) sees no enquiries: an "
                         "admin account, a member who has left, or a staff group the config "
                         "no longer has")
    return Reader(row.username, login, who)


def principal_of(bridge: Bridge, who: Reader) -> Principal:
    """``who``'s principal for the services that take one (search, a constituent's history).
    The operator's is staff whose scope is every member with casework, in the config or
    only in the store (a member who has left), so those services' own reads of the access
    policy apply unchanged and hide nothing from whoever can open the store anyway."""
    if who.principal is not None:
        return who.principal
    from sqlalchemy import select

    from crm_bridge.store.tables import enquiries

    with bridge.engine.connect() as conn:
        stored = set(conn.execute(select(enquiries.c.member_id).distinct()).scalars())
    members = frozenset(stored | {m.id for m in bridge.config.members})
    return Principal(user_id=0, username=who.actor, name=who.actor, role=UserRole.STAFF,
                     member_id=None, ward_id=None, session_id="cli", scope=members)


def audit_reads(bridge: Bridge, who: Reader, action: str, enquiry_ids: Iterable[str],
                detail: str = "") -> None:
    """One audit row per enquiry printed, committed before the output is: a read that cannot
    be recorded (a read-only store) is not shown."""
    try:
        with bridge.engine.begin() as conn:
            record_reads(conn, datetime.now(UTC), who.actor, action, enquiry_ids, detail,
                         via=who.via)
    except StoreUnavailable as exc:
        raise StoreUnavailable(
            f"not shown: every read of personal data is recorded in the audit log, and {exc}"
        ) from exc
