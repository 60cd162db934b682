"""A search's words kept server-side under a short-lived random token.

The search form is posted (the words are in the body, not the address); the results and
their pages are then at ``/search?t=TOKEN&page=N``, so the back button, paging and a
reloaded page work, and no name, postcode, e-mail or phone number is written in a URL (and
so in browser history, proxy or server logs). The token is bound to the signing-in session,
stored only as its SHA-256, and forgotten after ``TOKEN_MINUTES`` or when the session ends.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert, select

from crm_bridge.store.tables import search_tokens

__all__ = ["TOKEN_MINUTES", "load_search", "save_search"]

TOKEN_MINUTES = 30


def _id(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def save_search(conn: Connection, session_id: str, terms: dict[str, str],
                now: datetime) -> str:
    """Keep ``terms`` for this session; returns the token for the results' address."""
    conn.execute(delete(search_tokens).where(search_tokens.c.expires_at <= now))
    token = secrets.token_urlsafe(18)
    conn.execute(insert(search_tokens).values(
        id=_id(token), session_id=session_id, terms=terms,
        expires_at=now + timedelta(minutes=TOKEN_MINUTES)))
    return token


def load_search(conn: Connection, session_id: str, token: str,
                now: datetime) -> dict[str, str] | None:
    """The terms saved under ``token`` by this session, if not expired; else None."""
    if not token or len(token) > 100:
        return None
    s = search_tokens.c
    terms = conn.execute(select(s.terms).where(
        s.id == _id(token), s.session_id == session_id, s.expires_at > now)).scalar_one_or_none()
    if not isinstance(terms, dict):
        return None
    return {str(k): str(v) for k, v in terms.items()}
