"""Portal user accounts: argon2 password hashes in the store's ``users`` table.

Shared by `crm-bridge user …` and the portal's admin page, so both apply the same rules:
a member account names the elected member it is, passwords are long enough, and changing a
password (or disabling an account) ends that user's sessions everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import Connection, delete, func, insert, select, update

from crm_bridge.access.policy import UserRole
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.store.tables import portal_sessions, users
from crm_bridge.suggest import unknown

__all__ = [
    "MIN_PASSWORD_LENGTH",
    "Account",
    "UserRole",
    "check_password",
    "create_user",
    "find_user",
    "hash_password",
    "list_users",
    "set_active",
    "set_password",
    "verify_password",
]

MIN_PASSWORD_LENGTH = 10
_HASHER = PasswordHasher()
# Verified against when the username is unknown, so a wrong name costs as long as a wrong
# password and the response time does not tell which usernames exist.
_DUMMY_HASH = _HASHER.hash("not a real password: timing equaliser")


@dataclass(frozen=True)
class Account:
    id: int
    username: str
    display_name: str
    role: UserRole
    member_id: str | None
    staff_group: str | None
    active: bool
    has_password: bool
    failed_logins: int
    locked_until: datetime | None
    last_login_at: datetime | None


def _account(row: Any) -> Account:
    return Account(
        id=row.id, username=row.username, display_name=row.display_name,
        role=UserRole(row.role), member_id=row.member_id, staff_group=row.staff_group,
        active=bool(row.active),
        has_password=bool(row.password_hash), failed_logins=row.failed_logins,
        locked_until=row.locked_until, last_login_at=row.last_login_at,
    )


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def check_password(password: str) -> str:
    """The password if it is acceptable; InputError saying why not otherwise."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InputError("password", f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > 1024:
        raise InputError("password", "must be at most 1024 characters")
    if password.strip() != password:
        raise InputError("password", "must not start or end with a space")
    return password


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True if ``password`` matches; always does the same work, whether or not a hash exists."""
    try:
        return _HASHER.verify(stored_hash or _DUMMY_HASH, password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _normalise_username(username: str) -> str:
    name = username.strip().lower()
    if not name or len(name) > 100 or any(ch.isspace() for ch in name):
        raise InputError("username", "must be 1 to 100 characters with no spaces")
    return name


def _staff_group(config: CouncilConfig, role: UserRole, group: str | None) -> str | None:
    """A staff account's group: named (or the only one the config has), and one the config
    defines, so no account sees more casework than a group the config allows."""
    groups = [g.id for g in config.access.staff_groups]
    if role is not UserRole.STAFF:
        if group:
            raise InputError("group", f"only staff accounts name a staff group, not "
                             f"{role.value} ones")
        return None
    if not group:
        if len(groups) == 1:
            return groups[0]
        raise InputError("group", "a staff account needs --group: one of " + ", ".join(groups))
    if group not in groups:
        raise InputError("group", unknown("staff group", group, groups))
    return group


def _check_role(config: CouncilConfig, role: UserRole, member_id: str | None) -> None:
    if role is UserRole.MEMBER:
        if not member_id:
            raise InputError("member", "a member account needs --member: the member's id")
        if config.member(member_id) is None:
            raise InputError("member", unknown("member", member_id,
                                               [m.id for m in config.members]))
    elif member_id:
        raise InputError("member", f"only member accounts name a member, not {role.value} ones")


def find_user(conn: Connection, username: str) -> Any:
    """The users row for ``username`` (case-insensitive), or None."""
    return conn.execute(
        select(users).where(users.c.username == username.strip().lower())
    ).first()


def create_user(
    conn: Connection, config: CouncilConfig, username: str, role: UserRole,
    display_name: str | None, member_id: str | None, password: str | None, now: datetime,
    replace: bool = False, staff_group: str | None = None,
) -> Account:
    """Add an account (or, with ``replace``, update an existing one's role, name and password).

    A staff account works in a staff group from the config (``access.staff_groups``); the
    caller records the grant in the audit log (``access.audit.grant_detail``)."""
    name = _normalise_username(username)
    _check_role(config, role, member_id)
    group = _staff_group(config, role, staff_group)
    if display_name is None or not display_name.strip():
        member = config.member(member_id) if member_id else None
        display_name = member.name if member else name
    values: dict[str, Any] = {
        "display_name": display_name.strip()[:200], "role": role.value, "member_id": member_id,
        "staff_group": group,
        "password_hash": hash_password(check_password(password)) if password else None,
        "active": True, "failed_logins": 0, "locked_until": None,
    }
    existing = find_user(conn, name)
    if existing is not None:
        if not replace:
            raise InputError("username", f"'{name}' already exists: use 'user passwd' to "
                             "change the password")
        conn.execute(update(users).where(users.c.id == existing.id).values(**values))
        conn.execute(delete(portal_sessions).where(portal_sessions.c.user_id == existing.id))
    else:
        conn.execute(insert(users).values(username=name, created_at=now, **values))
    row = find_user(conn, name)
    assert row is not None
    return _account(row)


def set_password(conn: Connection, username: str, password: str) -> None:
    """Change the password, clear any lock-out and sign the user out everywhere."""
    row = find_user(conn, username)
    if row is None:
        raise NotFoundError(f"no user '{username}': 'crm-bridge user list' shows them")
    conn.execute(update(users).where(users.c.id == row.id).values(
        password_hash=hash_password(check_password(password)), failed_logins=0,
        locked_until=None))
    conn.execute(delete(portal_sessions).where(portal_sessions.c.user_id == row.id))


def set_active(conn: Connection, username: str, active: bool) -> None:
    """Enable or disable an account; disabling signs it out at once."""
    row = find_user(conn, username)
    if row is None:
        raise NotFoundError(f"no user '{username}'")
    conn.execute(update(users).where(users.c.id == row.id).values(active=active))
    if not active:
        conn.execute(delete(portal_sessions).where(portal_sessions.c.user_id == row.id))


def list_users(conn: Connection) -> list[Account]:
    rows = conn.execute(select(users).order_by(users.c.role, func.lower(users.c.username)))
    return [_account(row) for row in rows]
