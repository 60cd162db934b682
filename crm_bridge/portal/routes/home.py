"""The dashboard: responses since the user last looked, my open enquiries (overdue first),
my ward's shared ones, and counts; and the button that marks the responses as read."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from crm_bridge.portal.audit import record_many
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.queries import dashboard
from crm_bridge.portal.render import render
from crm_bridge.portal.responses import mark_read, new_responses
from crm_bridge.portal.routes.forms import check_post, read_form

__all__ = ["parse_upto", "router"]

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(v: Annotated[Visit, Depends(visit)]) -> Response:
    who = signed_in(v)
    if who.is_admin:
        return RedirectResponse("/users", status_code=303)
    portal = v.portal
    today = portal.bridge.router.calendar.local_date(v.now)
    if not who.sees_enquiries:
        return render(v, "dashboard.html", board=None, responses=None, today=today)
    with portal.store.read() as conn:
        board = dashboard(conn, who, today)
        responses = new_responses(conn, who, v.now)
    listed = [r.id for r in (*board.mine, *board.shared)]
    listed += [r.id for r, _ in responses.rows if r.id not in listed]
    record_many(portal.store, v.now, who.username, "listed", listed, "dashboard")
    return render(v, "dashboard.html", board=board, responses=responses, today=today,
                  read=v.request.query_params.get("read") == "1",
                  new_responses=responses.total)


def parse_upto(value: object, now: datetime) -> datetime:
    """The "Mark as read" time: an ISO 8601 time with its offset, not after now."""
    try:
        upto = datetime.fromisoformat(str(value or ""))
    except ValueError:
        upto = None
    if upto is None or upto.tzinfo is None or upto > now:
        raise HTTPException(status_code=400, detail="upto must be the time of the newest "
                            "response shown (ISO 8601 with its offset, not in the future)")
    return upto


@router.post("/responses/read")
def responses_read(v: Annotated[Visit, Depends(visit)],
                   form: Annotated[FormData, Depends(read_form)]) -> Response:
    """Mark the responses the dashboard showed as read (up to the newest it listed)."""
    who = signed_in(v)
    check_post(v, form)
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="Your account cannot see enquiries")
    upto = parse_upto(form.get("upto"), v.now)
    with v.portal.store.write() as conn:
        mark_read(conn, who, upto)
    return RedirectResponse("/?read=1", status_code=303)
