"""One enquiry: details, status timeline, response, links, photos, files from the CRM case,
and a follow-up note."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from crm_bridge.access.audit import record_reads
from crm_bridge.access.policy import shared_with
from crm_bridge.errors import InputError
from crm_bridge.models import Enquiry
from crm_bridge.portal.actions import add_note
from crm_bridge.portal.audit import record
from crm_bridge.portal.constituents import constituent_history
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.photos import load_photo
from crm_bridge.portal.policy import Principal, can_add_note, can_log_for
from crm_bridge.portal.queries import crm_files_of, photos_of, visible_enquiry
from crm_bridge.portal.render import render
from crm_bridge.portal.routes.forms import check_post, read_form
from crm_bridge.privacy.members import departed

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _enquiry_page(v: Visit, who: Principal, enquiry: Enquiry, errors: dict[str, str],
                  note: str = "", status: int = 200,
                  values: dict[str, str] | None = None) -> Response:
    portal = v.portal
    config = portal.bridge.config
    person = enquiry.constituent
    with portal.store.write() as conn:
        photos = photos_of(conn, str(enquiry.id))
        crm_files = crm_files_of(conn, str(enquiry.id))
        record(conn, v.now, who.username, "viewed", str(enquiry.id), "enquiry page")
        gone = departed(conn) if who.is_staff else set()
        past = constituent_history(conn, who, name=person.name, email=person.email,
                                   phone=person.phone, postcode=person.postcode,
                                   exclude=str(enquiry.id))
        record_reads(conn, v.now, who.username, "viewed", past.ids(), "constituent history")
    ward = config.ward(enquiry.ward_id) if enquiry.ward_id else None
    colleagues = [(m, config.member(m)) for m in ward.members] if ward else []
    reassign_to = [(m.id, m.name) for _, m in colleagues
                   if m and m.id != enquiry.member_id and m.id not in gone
                   and can_log_for(who, m.id)]
    today = portal.bridge.router.calendar.local_date(v.now)
    return render(v, "enquiry.html", status, enquiry=enquiry, photos=photos, crm_files=crm_files,
                  errors=errors,
                  note=note, may_note=can_add_note(who, enquiry), today=today,
                  shared_with=shared_with(config, enquiry.member_id, enquiry.consent.to_share),
                  reassign_to=reassign_to if who.is_staff else [],
                  may_link=can_log_for(who, enquiry.member_id), values=values or {},
                  history=list(reversed(enquiry.history)), person_history=past)


def _load(v: Visit, who: Principal, reference: str) -> Enquiry:
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="Your account cannot see enquiries")
    with v.portal.store.read() as conn:
        enquiry = visible_enquiry(conn, who, reference)
    if enquiry is None:
        raise HTTPException(status_code=404)
    return enquiry


@router.get("/enquiries/{reference}")
def enquiry_page(reference: str, v: Annotated[Visit, Depends(visit)]) -> Response:
    who = signed_in(v)
    return _enquiry_page(v, who, _load(v, who, reference), {})


@router.post("/enquiries/{reference}/notes")
def note_page(reference: str, v: Annotated[Visit, Depends(visit)],
              form: Annotated[FormData, Depends(read_form)]) -> Response:
    who = signed_in(v)
    check_post(v, form)
    enquiry = _load(v, who, reference)
    if not can_add_note(who, enquiry):
        raise HTTPException(status_code=403, detail="Only the member or members' services "
                            "can add notes")
    text = str(form.get("note") or "")
    try:
        add_note(v.portal.store, who, enquiry, text, v.now)
    except InputError as exc:
        return _enquiry_page(v, who, enquiry, {"note": exc.message}, text, 400)
    return RedirectResponse(f"/enquiries/{enquiry.reference}?noted=1#notes", status_code=303)


@router.get("/enquiries/{reference}/photos/{photo_id}")
def photo(reference: str, photo_id: int, v: Annotated[Visit, Depends(visit)]) -> Response:
    who = signed_in(v)
    enquiry = _load(v, who, reference)
    with v.portal.store.write() as conn:
        found = load_photo(conn, str(enquiry.id), photo_id)
        if found is None:
            raise HTTPException(status_code=404)
        record(conn, v.now, who.username, "viewed", str(enquiry.id), f"photo {photo_id}")
    return Response(found.data, media_type=found.content_type,
                    headers={"content-disposition": "inline", "cache-control": "no-store"})
