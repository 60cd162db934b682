"""Build the portal's FastAPI app around an open ``Bridge``.

`crm-bridge serve` and the tests call ``create_app``; nothing here reads the environment
except through the config, so a test can build an app with its own clock and secret.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from crm_bridge import __version__
from crm_bridge.app import Bridge
from crm_bridge.errors import ConfigError
from crm_bridge.portal.context import Portal, SignInRequired, visit
from crm_bridge.portal.db import Store
from crm_bridge.portal.render import make_templates, render
from crm_bridge.portal.routes import (
    admin,
    api,
    api_links,
    auth,
    enquiries,
    history,
    home,
    links,
    new,
    search,
    staff,
    statistics,
)
from crm_bridge.portal.security import SecurityHeaders, TrustedProxy
from crm_bridge.portal.throttle import Throttle

__all__ = ["ASSETS", "STATIC", "create_app", "session_secret"]

STATIC = Path(__file__).with_name("static")
ASSETS = STATIC / "vendor"
_REQUIRED_ASSETS = ("portal.css", "govuk-frontend.min.js")


def session_secret(bridge: Bridge, environ: dict[str, str]) -> bytes:
    """The secret from ``portal.session_secret`` or $CRM_BRIDGE_SESSION_SECRET, or a clear error."""
    configured = bridge.config.portal.session_secret
    value = configured.get_secret_value() if configured else ""
    value = value or environ.get("CRM_BRIDGE_SESSION_SECRET", "")
    if not value:
        raise ConfigError(
            "the portal needs a session secret: set CRM_BRIDGE_SESSION_SECRET in the "
            "environment (e.g. from: python3 -c 'import secrets; print(secrets.token_urlsafe(32))')"
            " or portal.session_secret: ${SOME_VARIABLE} in the config"
        )
    if len(value) < 32:
        raise ConfigError("the portal's session secret is too short: use at least 32 characters")
    return value.encode()


def create_app(bridge: Bridge, secret: bytes,
               clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> FastAPI:
    missing = [name for name in _REQUIRED_ASSETS if not (ASSETS / name).is_file()]
    if missing:
        raise ConfigError(
            f"the portal's assets are not built ({', '.join(missing)} missing from {ASSETS}): "
            "in a checkout run 'make install' (or 'bash scripts/build-assets.sh'); an installed "
            "package has them, so reinstall it from a wheel or sdist built with 'python -m build'")
    store = Store(bridge.engine)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        yield
        store.close()  # the bridge itself belongs to whoever opened it

    app = FastAPI(
        lifespan=lifespan,
        title="crm-bridge portal API",
        version=__version__,
        description="Members' enquiries: the same data and the same authorisation as the "
                    "portal's pages. Sign in through the portal; send the page's CSRF token "
                    "in the X-CSRF-Token header with every POST.",
        docs_url=None, redoc_url=None, openapi_url="/api/openapi.json",
    )
    app.state.portal = Portal(bridge=bridge, store=store, secret=secret,
                              templates=make_templates(bridge.config),
                              by_user=Throttle(limit=5, window=15 * 60),
                              by_address=Throttle(limit=50, window=15 * 60), clock=clock)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for module in (auth, home, new, history, enquiries, links, search, statistics, staff,
                   admin, api, api_links):
        app.include_router(module.router)
    logo = bridge.loaded.resolve(bridge.config.portal.logo) if bridge.config.portal.logo else None

    @app.get("/logo", include_in_schema=False)
    def council_logo() -> Response:
        if logo is None or not logo.is_file():
            return Response(status_code=404)
        return FileResponse(logo, headers={"cache-control": "max-age=3600"})

    @app.exception_handler(SignInRequired)
    def _sign_in(request: Request, _exc: SignInRequired) -> Response:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/sign-in?next={_quote(target)}", status_code=303)

    @app.exception_handler(StarletteHTTPException)
    def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.detail}, status_code=exc.status_code,
                                headers=getattr(exc, "headers", None))
        page = {403: "forbidden.html", 404: "not_found.html"}.get(exc.status_code, "error.html")
        return render(visit(request), page, exc.status_code, detail=str(exc.detail))

    @app.exception_handler(RequestValidationError)
    def _bad_request(request: Request, exc: RequestValidationError) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"detail": exc.errors()}, status_code=422)
        return render(visit(request), "error.html", 400, detail="Check the address and try again")

    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedProxy, proxies=bridge.config.portal.trusted_proxies)
    return app


def _quote(target: str) -> str:
    from urllib.parse import quote

    return quote(target, safe="/")
