"""The constituent's history (``portal.constituents``) while an enquiry is being typed: a small
POST from the form's script (the details travel in the body, with the CSRF token), answered
with the same partial the confirmation and enquiry pages show; and in the JSON API.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData

from crm_bridge.personkeys import postcode_key
from crm_bridge.portal.audit import record_many
from crm_bridge.portal.constituents import History, constituent_history
from crm_bridge.portal.context import Visit, api_principal, signed_in, visit
from crm_bridge.portal.policy import Principal
from crm_bridge.portal.render import render
from crm_bridge.portal.routes.forms import check_post, read_form
from crm_bridge.portal.security import same_origin

__all__ = ["router"]

router = APIRouter()
_FIELDS = {"name": 200, "email": 320, "phone": 40, "postcode": 10}


def _history(v: Visit, who: Principal, details: Mapping[str, Any], how: str) -> History:
    values = {k: (str(details.get(k) or "").strip()[:most] or None)
              for k, most in _FIELDS.items()}
    with v.portal.store.read() as conn:
        found = constituent_history(conn, who, **values)
    record_many(v.portal.store, v.now, who.username, "viewed", found.ids(), how)
    return found


@router.post("/enquiries/new/history", include_in_schema=False)
def form_history(v: Annotated[Visit, Depends(visit)],
                 form: Annotated[FormData, Depends(read_form)]) -> Response:
    """The partial for the details typed so far (empty when too few to look)."""
    who = signed_in(v)
    check_post(v, form)
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="Your account cannot see enquiries")
    found = _history(v, who, form, "constituent history (form)")
    return render(v, "_history.html", person_history=found if found.any else None,
                  new_responses=0)


class PersonIn(BaseModel):
    """The constituent's details as far as known: an e-mail, a phone number, or a name with a
    postcode is enough to look."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = Field(default=None, max_length=40)
    postcode: str | None = Field(default=None, max_length=10)


@router.post("/api/constituents/history", tags=["enquiries"])
def api_history(body: PersonIn, v: Annotated[Visit, Depends(visit)],
                x_csrf_token: Annotated[str | None, Header()] = None) -> dict[str, Any]:
    """The constituent's other enquiries: those this user may see (newest first, at most 20,
    each with why it matched), counts, and how many are held by another member (no details).
    """
    who = api_principal(v)
    if not same_origin(v.request) or not v.csrf_ok(x_csrf_token):
        raise HTTPException(status_code=403, detail="missing or wrong X-CSRF-Token header")
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="this account cannot see enquiries")
    if body.postcode and body.postcode.strip() and postcode_key(body.postcode) is None:
        raise HTTPException(status_code=422, detail={
            "postcode": "must be a UK postcode like FK10 1EB"})
    found = _history(v, who, body.model_dump(), "api constituent history")
    if not found.asked:
        raise HTTPException(status_code=422, detail={
            "email": "give an e-mail, a phone number, or a name with a postcode"})
    today = v.portal.bridge.router.calendar.local_date(v.now)
    return found.as_json(today)
