"""Sign in and sign out.

Wrong username and wrong password get the same words and take the same time. Five
failures in 15 minutes for one username (fifty from one address) pause further tries; ten
in a row lock the account for 15 minutes in the store (until then, or `user passwd`).
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import update
from starlette.datastructures import FormData

from crm_bridge.portal.accounts import find_user, verify_password
from crm_bridge.portal.audit import record
from crm_bridge.portal.context import Visit, visit
from crm_bridge.portal.render import render
from crm_bridge.portal.routes.forms import check_post, read_form, safe_next
from crm_bridge.portal.security import PRE_SESSION_COOKIE, new_pre_session
from crm_bridge.portal.sessions import SESSION_COOKIE, end_session, start_session
from crm_bridge.store.tables import users

__all__ = ["router"]

log = logging.getLogger(__name__)
router = APIRouter(include_in_schema=False)

LOCK_AFTER = 10
LOCK_FOR = timedelta(minutes=15)
WRONG = "Enter a correct username and password"


@router.get("/sign-in")
def sign_in_page(v: Annotated[Visit, Depends(visit)],
                 next: Annotated[str | None, Query(max_length=500)] = None) -> Response:
    if v.principal is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(v, "sign_in.html", next=safe_next(next), username="",
                  sso_refused=v.sso_refused)


@router.post("/sign-in")
def sign_in(v: Annotated[Visit, Depends(visit)],
            form: Annotated[FormData, Depends(read_form)]) -> Response:
    check_post(v, form)
    username = str(form.get("username") or "").strip().lower()[:100]
    password = str(form.get("password") or "")[:1024]
    target = safe_next(str(form.get("next") or "/"))
    errors: dict[str, str] = {}
    if not username:
        errors["username"] = "Enter your username"
    if not password:
        errors["password"] = "Enter your password"  # noqa: S105 (a message)
    if errors:
        return render(v, "sign_in.html", 400, errors=errors, next=target, username=username,
                      sso_refused=False)
    portal = v.portal
    peer = v.request.client.host if v.request.client else "unknown"
    if portal.by_user.blocked(username) or portal.by_address.blocked(peer):
        return render(v, "sign_in.html", 429, next=target, username=username, sso_refused=False,
                      errors={"username": "You have tried too many times. Wait 15 minutes, "
                              "then try again"})
    with portal.store.write() as conn:
        row = find_user(conn, username)
        locked = row is not None and row.locked_until is not None and row.locked_until > v.now
        good = verify_password(row.password_hash if row is not None else None, password)
        if row is None or not row.active or locked or not good:
            portal.by_user.failed(username)
            portal.by_address.failed(peer)
            if row is not None and not good:
                failures = row.failed_logins + 1
                conn.execute(update(users).where(users.c.id == row.id).values(
                    failed_logins=failures,
                    locked_until=v.now + LOCK_FOR if failures >= LOCK_AFTER else row.locked_until))
            record(conn, v.now, username, "sign_in_failed")
            log.info("sign-in refused")
            return render(v, "sign_in.html", 400, next=target, username=username,
                          sso_refused=False, errors={"username": WRONG})
        token = start_session(conn, row.id, portal.bridge.config.portal, v.now, "password")
        record(conn, v.now, username, "signed_in")
    portal.by_user.succeeded(username)
    v.set_cookie(SESSION_COOKIE, token, None)
    return RedirectResponse(target, status_code=303)


@router.post("/sign-out")
def sign_out(v: Annotated[Visit, Depends(visit)],
             form: Annotated[FormData, Depends(read_form)]) -> Response:
    check_post(v, form)
    if v.session_token and v.principal is not None:
        with v.portal.store.write() as conn:
            end_session(conn, v.session_token)
            record(conn, v.now, v.principal.username, "signed_out")
    v.set_cookie(SESSION_COOKIE, "", 0)
    v.set_cookie(PRE_SESSION_COOKIE, new_pre_session(), None)
    return RedirectResponse("/signed-out", status_code=303)


@router.get("/signed-out")
def signed_out(v: Annotated[Visit, Depends(visit)]) -> Response:
    return render(v, "signed_out.html")
