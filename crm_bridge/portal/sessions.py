"""Signed-in sessions: a random token in an HttpOnly cookie, its SHA-256 in the store.

Server-side rows (not a signed cookie) so that signing out, changing a password or
disabling an account ends a session at once, on every portal instance. A session ends
after ``session_hours`` in all, or ``idle_minutes`` without a request.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, delete, select, update

from crm_bridge.access.policy import Principal, UserRole, principal_for
from crm_bridge.config.schema import CouncilConfig, PortalSettings
from crm_bridge.store.tables import portal_sessions, users

__all__ = [
    "SESSION_COOKIE",
    "drop_session",
    "end_session",
    "load_session",
    "start_session",
    "token_id",
    "touch_session",
]

SESSION_COOKIE = "crm_bridge_session"
_TOUCH_EVERY = timedelta(minutes=1)  # write last_seen_at at most this often per session


def token_id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def start_session(conn: Connection, user_id: int, settings: PortalSettings, now: datetime,
                  via: str) -> str:
    """A new session for ``user_id``; returns the token for the cookie (never stored)."""
    token = secrets.token_urlsafe(32)
    conn.execute(portal_sessions.insert().values(
        id=token_id(token), user_id=user_id, created_at=now, last_seen_at=now,
        expires_at=now + timedelta(hours=settings.session_hours), via=via))
    conn.execute(update(users).where(users.c.id == user_id).values(
        last_login_at=now, failed_logins=0, locked_until=None))
    # Expired sessions are swept here, at sign-in, rather than by a job of their own.
    conn.execute(delete(portal_sessions).where(portal_sessions.c.expires_at < now))
    return token


def load_session(conn: Connection, token: str, config: CouncilConfig,
                 now: datetime) -> tuple[Principal, str, bool] | str | None:
    """Read a cookie's session, writing nothing: (principal, how they signed in, whether
    last_seen_at is due a touch); or the session id of a dead session to delete; or None."""
    if not token or len(token) > 200:
        return None
    sid = token_id(token)
    row = conn.execute(
        select(portal_sessions.c.last_seen_at, portal_sessions.c.expires_at,
               portal_sessions.c.via, users.c.id, users.c.username, users.c.display_name,
               users.c.role, users.c.member_id, users.c.staff_group, users.c.active)
        .join(users, users.c.id == portal_sessions.c.user_id)
        .where(portal_sessions.c.id == sid)
    ).first()
    if row is None:
        return None
    idle = timedelta(minutes=config.portal.idle_minutes)
    if not row.active or row.expires_at <= now or row.last_seen_at + idle <= now:
        return sid
    return _principal(row, sid, config), str(row.via), now - row.last_seen_at >= _TOUCH_EVERY


def touch_session(conn: Connection, sid: str, now: datetime) -> None:
    conn.execute(update(portal_sessions).where(portal_sessions.c.id == sid)
                 .values(last_seen_at=now))


def drop_session(conn: Connection, sid: str) -> None:
    conn.execute(delete(portal_sessions).where(portal_sessions.c.id == sid))


def _principal(row: Any, sid: str, config: CouncilConfig) -> Principal:
    # A member who has left the config, or a staff group it no longer has: sees nothing.
    return principal_for(config, user_id=row.id, username=row.username,
                         name=row.display_name, role=UserRole(row.role),
                         member_id=row.member_id, staff_group=row.staff_group,
                         session_id=sid)


def end_session(conn: Connection, token: str) -> None:
    drop_session(conn, token_id(token))
