"""Members' services: move enquiries to another member, one at a time or all of a member's
open enquiries at once (to cover for a colleague on leave)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from crm_bridge.errors import InputError
from crm_bridge.portal.actions import reassign
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.policy import Principal, loggable_members
from crm_bridge.portal.render import render
from crm_bridge.portal.routes.forms import check_post, read_form
from crm_bridge.privacy.members import departed

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _staff(v: Visit) -> Principal:
    who = signed_in(v)
    if not who.is_staff:
        raise HTTPException(status_code=403, detail="Only members' services staff can do this")
    return who


def _page(v: Visit, who: Principal, values: dict[str, str], errors: dict[str, str],
          moved: int | None = None, status: int = 200) -> Response:
    config = v.portal.bridge.config
    members = loggable_members(who, config)
    with v.portal.store.read() as conn:
        gone = departed(conn)  # their enquiries can be moved away, never to them
    return render(v, "reassign.html", status, values=values, errors=errors, moved=moved,
                  members=members, targets=[m for m in members if m[0] not in gone])


@router.get("/reassign")
def reassign_page(v: Annotated[Visit, Depends(visit)]) -> Response:
    who = _staff(v)
    moved = v.request.query_params.get("moved", "")
    return _page(v, who, {}, {}, int(moved) if moved.isdigit() else None)


@router.post("/reassign")
def reassign_all(v: Annotated[Visit, Depends(visit)],
                 form: Annotated[FormData, Depends(read_form)]) -> Response:
    who = _staff(v)
    check_post(v, form)
    values = {k: str(form.get(k) or "") for k in ("from_member", "to_member")}
    try:
        moved = reassign(v.portal.store, v.portal.bridge, who, values["from_member"],
                         values["to_member"], None, v.now)
    except InputError as exc:
        return _page(v, who, values, {exc.field: exc.message}, status=400)
    return RedirectResponse(f"/reassign?moved={moved}", status_code=303)


@router.post("/enquiries/{reference}/reassign")
def reassign_one(reference: str, v: Annotated[Visit, Depends(visit)],
                 form: Annotated[FormData, Depends(read_form)]) -> Response:
    who = _staff(v)
    check_post(v, form)
    from_member = str(form.get("from_member") or "")
    to_member = str(form.get("to_member") or "")
    try:
        moved = reassign(v.portal.store, v.portal.bridge, who, from_member, to_member,
                         [reference], v.now)
    except InputError as exc:
        raise HTTPException(status_code=400, detail=exc.message) from None
    if not moved:
        raise HTTPException(status_code=400, detail="Only open enquiries can be moved")
    return RedirectResponse(f"/enquiries/{reference.upper()}", status_code=303)
