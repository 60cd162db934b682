"""Per-request context: who is asking (from the session cookie or the SSO header), their
anti-forgery token, and the cookies the response must set.

Resolved once per request by the ``visit`` dependency; the route then asks for a
signed-in principal (``signed_in``) or an API principal (``api_principal``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from fastapi import HTTPException, Request
from jinja2 import Environment

from crm_bridge.app import Bridge
from crm_bridge.portal.accounts import find_user
from crm_bridge.portal.db import Store
from crm_bridge.portal.policy import Principal
from crm_bridge.portal.security import (
    PRE_SESSION_COOKIE,
    csrf_token,
    new_pre_session,
    verify_csrf,
)
from crm_bridge.portal.sessions import (
    SESSION_COOKIE,
    drop_session,
    load_session,
    start_session,
    touch_session,
)
from crm_bridge.portal.statistics import ReportCache
from crm_bridge.portal.throttle import Throttle

__all__ = ["Portal", "SignInRequired", "Visit", "api_principal", "signed_in", "visit"]


@dataclass
class Portal:
    """What the app holds for its whole life: the bridge, the secret, templates, throttles."""

    bridge: Bridge
    store: Store
    secret: bytes
    templates: Environment
    by_user: Throttle  # failed sign-ins per username
    by_address: Throttle  # per client address: looser, as a council office shares one
    clock: Callable[[], datetime]
    statistics: ReportCache = field(default_factory=ReportCache)


class SignInRequired(Exception):
    """Raised by page routes for an anonymous visitor; answered with a redirect to sign in."""


@dataclass
class Visit:
    portal: Portal
    request: Request
    principal: Principal | None
    session_token: str | None
    pre_session: str | None
    sso_refused: bool = False
    now: datetime = field(default_factory=lambda: datetime.min)

    @property
    def csrf(self) -> str:
        bound = self.session_token or self.pre_session
        assert bound is not None
        return csrf_token(self.portal.secret, bound)

    def csrf_ok(self, given: object) -> bool:
        return verify_csrf(self.portal.secret, self.session_token or self.pre_session, given)

    def set_cookie(self, name: str, value: str, max_age: int | None) -> None:
        https = self.request.url.scheme == "https"
        secure = https or self.portal.bridge.config.portal.cookie_secure == "always"
        parts = [f"{name}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if secure:
            parts.append("Secure")
        cookies = self.request.scope.setdefault("state", {}).setdefault("set_cookies", [])
        cookies.append("; ".join(parts))


def visit(request: Request) -> Visit:
    """Who is asking. Runs in the thread pool; writes only to touch or end a session."""
    portal: Portal = request.app.state.portal
    config = portal.bridge.config
    now = portal.clock()
    token = request.cookies.get(SESSION_COOKIE)
    principal: Principal | None = None
    via = None
    header = config.portal.trusted_header
    asserted = request.headers.get(header) if header else None
    from_proxy = bool(request.scope.get("state", {}).get("via_proxy"))
    if token:
        with portal.store.read() as conn:
            found = load_session(conn, token, config, now)
        if isinstance(found, tuple):
            principal, via, stale = found
            if stale:
                with portal.store.write() as conn:
                    touch_session(conn, principal.session_id, now)
        else:
            token = None
            if isinstance(found, str):
                with portal.store.write() as conn:
                    drop_session(conn, found)
    result = Visit(portal, request, principal, token, request.cookies.get(PRE_SESSION_COOKIE),
                   now=now)
    if asserted is not None and from_proxy:
        _single_sign_on(result, asserted.strip().lower(), via)
    if result.session_token is None and result.pre_session is None:
        result.pre_session = new_pre_session()
        result.set_cookie(PRE_SESSION_COOKIE, result.pre_session, None)
    return result


def _single_sign_on(v: Visit, wanted: str, via: str | None) -> None:
    """The proxy vouches for ``wanted``: use (or start) a session for that account, if any."""
    current = v.principal
    if current is not None and current.username == wanted and via == "trusted_header":
        return
    portal = v.portal
    with portal.store.write() as conn:
        user = find_user(conn, wanted) if wanted else None
        if user is None or not user.active:
            v.principal, v.session_token, v.sso_refused = None, None, True
            return
        new = start_session(conn, user.id, portal.bridge.config.portal, v.now, "trusted_header")
        loaded = load_session(conn, new, portal.bridge.config, v.now)
    assert isinstance(loaded, tuple)
    v.principal, v.session_token = loaded[0], new
    v.set_cookie(SESSION_COOKIE, new, None)


def signed_in(v: Visit) -> Principal:
    if v.principal is None:
        raise SignInRequired()
    return v.principal


def api_principal(v: Visit) -> Principal:
    if v.principal is None:
        raise HTTPException(status_code=401, detail="sign in first")
    return v.principal
