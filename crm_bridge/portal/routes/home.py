"""The dashboard: my open enquiries (overdue first), my ward's shared ones, and counts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response

from crm_bridge.portal.audit import record_many
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.queries import dashboard
from crm_bridge.portal.render import render

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(v: Annotated[Visit, Depends(visit)]) -> Response:
    who = signed_in(v)
    if who.is_admin:
        return RedirectResponse("/users", status_code=303)
    portal = v.portal
    today = portal.bridge.router.calendar.local_date(v.now)
    if not who.sees_enquiries:
        return render(v, "dashboard.html", board=None, today=today)
    with portal.store.read() as conn:
        board = dashboard(conn, who, today)
    record_many(portal.store, v.now, who.username, "listed",
                [r.id for r in (*board.mine, *board.shared)], "dashboard")
    return render(v, "dashboard.html", board=board, today=today)
