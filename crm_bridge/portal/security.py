"""Browser-facing defences: security headers on every response, and anti-forgery tokens.

CSRF tokens are an HMAC of the session token (or, before sign-in, of a random pre-session
cookie) under the portal's secret: nothing to store, and a token from one session is
useless in another. Every POST is also refused when its Origin names another site.
The Content-Security-Policy allows scripts, styles, images and fonts from the portal
itself only: no inline script, no other host.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from starlette.datastructures import Headers, MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "CSP",
    "PRE_SESSION_COOKIE",
    "SecurityHeaders",
    "TrustedProxy",
    "csrf_token",
    "new_pre_session",
    "same_origin",
    "verify_csrf",
]

PRE_SESSION_COOKIE = "crm_bridge_pre"

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self'",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "manifest-src 'self'",
])

_HEADERS = {
    b"content-security-policy": CSP.encode(),
    b"x-content-type-options": b"nosniff",
    b"x-frame-options": b"DENY",
    b"referrer-policy": b"same-origin",
    b"permissions-policy": b"camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    b"cross-origin-opener-policy": b"same-origin",
    b"cross-origin-resource-policy": b"same-origin",
}


class SecurityHeaders:
    """Pure ASGI middleware (cheaper than BaseHTTPMiddleware on every request)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        https = scope.get("scheme") == "https"
        static = str(scope.get("path", "")).startswith("/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in _HEADERS.items():
                    if name.decode() not in headers:
                        headers.append(name.decode(), value.decode())
                if https:
                    headers.append("strict-transport-security", "max-age=31536000")
                if not static:
                    # Pages carry personal data: never keep them in a shared or back-button cache.
                    headers["cache-control"] = "no-store"
                for cookie in scope.get("state", {}).get("set_cookies", ()):
                    headers.append("set-cookie", cookie)
            await send(message)

        await self.app(scope, receive, send_with_headers)


def new_pre_session() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(secret: bytes, bound_to: str) -> str:
    """The anti-forgery token for a session (or pre-session) token."""
    return hmac.new(secret, b"csrf:" + bound_to.encode("utf-8", "replace"),
                    hashlib.sha256).hexdigest()


def verify_csrf(secret: bytes, bound_to: str | None, given: Any) -> bool:
    if not bound_to or not isinstance(given, str) or len(given) != 64:
        return False
    return hmac.compare_digest(csrf_token(secret, bound_to), given)


def same_origin(request: Request) -> bool:
    """False when the browser says the request came from another site."""
    headers = Headers(scope=request.scope)
    origin = headers.get("origin")
    if origin is None or origin == "null":
        fetch_site = headers.get("sec-fetch-site")
        return fetch_site in (None, "same-origin", "none") and origin is None
    host = headers.get("host", "")
    return origin.split("://", 1)[-1].rstrip("/") == host


class TrustedProxy:
    """Honour X-Forwarded-Proto and X-Forwarded-For only from the configured proxies.

    Done here rather than by uvicorn's own option so the peer address stays visible:
    single sign-on must check that the trusted header came from the proxy itself.
    """

    def __init__(self, app: ASGIApp, proxies: list[str]) -> None:
        self.app = app
        self.proxies = frozenset(proxies)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            peer = (scope.get("client") or ("", 0))[0]
            state = scope.setdefault("state", {})
            state["peer"] = peer
            state["via_proxy"] = peer in self.proxies
            if peer in self.proxies:
                headers = Headers(scope=scope)
                proto = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
                if proto in ("http", "https"):
                    scope["scheme"] = proto
                forwarded = headers.get("x-forwarded-for", "").split(",")[0].strip()
                if forwarded:
                    scope["client"] = (forwarded, 0)
        await self.app(scope, receive, send)
