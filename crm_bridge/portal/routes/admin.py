"""Admins: the list of portal accounts, adding one, and disabling or enabling one.
Passwords are changed with `crm-bridge user passwd` (or by adding the account again)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from crm_bridge.access.audit import grant_detail
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.portal.accounts import UserRole, create_user, list_users, set_active
from crm_bridge.portal.audit import record
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.policy import Principal
from crm_bridge.portal.render import render
from crm_bridge.portal.routes.forms import check_post, read_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)

_FIELDS = ("username", "display_name", "role", "member", "group", "password")


def _admin(v: Visit) -> Principal:
    who = signed_in(v)
    if not who.is_admin:
        raise HTTPException(status_code=403, detail="Only administrators can manage accounts")
    return who


def _page(v: Visit, values: dict[str, str], errors: dict[str, str], status: int = 200,
          done: str = "") -> Response:
    with v.portal.store.read() as conn:
        accounts = list_users(conn)
    config = v.portal.bridge.config
    groups = {g.id: g.name for g in config.access.staff_groups}
    return render(v, "users.html", status, accounts=accounts, values=values, errors=errors,
                  members=[(m.id, m.name) for m in config.members], done=done,
                  roles=[r.value for r in UserRole], groups=groups,
                  group_options=list(groups.items()))


@router.get("/users")
def users_page(v: Annotated[Visit, Depends(visit)]) -> Response:
    _admin(v)
    return _page(v, {"role": "member"}, {}, done=v.request.query_params.get("done", "")[:100])


@router.post("/users")
def add_user(v: Annotated[Visit, Depends(visit)],
             form: Annotated[FormData, Depends(read_form)]) -> Response:
    who = _admin(v)
    check_post(v, form)
    values = {k: str(form.get(k) or "").strip() for k in _FIELDS}
    values["password"] = str(form.get("password") or "")
    errors: dict[str, str] = {}
    if values["role"] not in {r.value for r in UserRole}:
        errors["role"] = "Select a role"
    if not values["username"]:
        errors["username"] = "Enter a username"
    if not values["password"]:
        errors["password"] = "Enter a password"  # noqa: S105 (a message, not a password)
    if not errors:
        try:
            with v.portal.store.write() as conn:
                account = create_user(
                    conn, v.portal.bridge.config, values["username"], UserRole(values["role"]),
                    values["display_name"] or None,
                    values["member"] or None if values["role"] == "member" else None,
                    values["password"], v.now,
                    staff_group=values["group"] or None if values["role"] == "staff" else None)
                record(conn, v.now, who.username, "user_added", None,
                       grant_detail(account.role.value, account.staff_group, account.member_id),
                       target_user=account.username)
        except InputError as exc:
            message = exc.message[:1].upper() + exc.message[1:]
            if exc.field == "group":  # the CLI's words name --group; the page has a list
                message = "Select the staff group: it decides whose enquiries the account sees"
            errors[exc.field if exc.field in _FIELDS else "username"] = message
    if errors:
        values["password"] = ""
        return _page(v, values, errors, 400)
    return RedirectResponse("/users?done=added", status_code=303)


@router.post("/users/{username}/active")
def toggle_user(username: str, v: Annotated[Visit, Depends(visit)],
                form: Annotated[FormData, Depends(read_form)]) -> Response:
    who = _admin(v)
    check_post(v, form)
    active = form.get("active") == "yes"
    if username == who.username and not active:
        raise HTTPException(status_code=400, detail="You cannot disable your own account")
    try:
        with v.portal.store.write() as conn:
            set_active(conn, username, active)
            record(conn, v.now, who.username, "user_enabled" if active else "user_disabled",
                   None, username, target_user=username.strip().lower())
    except NotFoundError:
        raise HTTPException(status_code=404) from None
    return RedirectResponse("/users?done=" + ("enabled" if active else "disabled"),
                            status_code=303)
