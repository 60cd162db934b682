"""Helpers every form route shares: read the posted form, refuse forgeries, safe redirects."""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException, Request
from starlette.datastructures import FormData

from crm_bridge.portal.context import Visit
from crm_bridge.portal.security import same_origin

__all__ = ["check_post", "read_form", "safe_next"]


MAX_BODY = 26 * 1024 * 1024  # above the largest photo setting, plus the form's text


async def read_form(request: Request) -> FormData:
    """The posted fields (at most one file); parsed in the event loop before the route runs."""
    length = request.headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise HTTPException(status_code=413, detail="The form is too large")
    return await request.form(max_files=1, max_fields=60)


def check_post(v: Visit, form: FormData | dict[str, Any]) -> None:
    """403 unless the form carries this session's anti-forgery token and came from this site."""
    if not same_origin(v.request) or not v.csrf_ok(form.get("csrf_token")):
        raise HTTPException(status_code=403, detail="csrf")


def safe_next(target: str | None) -> str:
    """Only a path on this site: never an address elsewhere (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
