"""Log an enquiry: one page, then a confirmation with the reference at once.

The confirmation page also lists possible duplicates (the same page JavaScript fills in
while the form is being filled), so members without JavaScript see them too, and can
link them in one click. Logging never waits for the CRM.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData, UploadFile

from crm_bridge.access.policy import audience_words
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.duplicates import facts_of
from crm_bridge.errors import InputError
from crm_bridge.models import Channel
from crm_bridge.portal.actions import link_enquiries, log_from_portal
from crm_bridge.portal.audit import record_many
from crm_bridge.portal.constituents import constituent_history
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.duplicates import find_duplicates
from crm_bridge.portal.forms import CHANNEL_LABELS, parse_enquiry_form
from crm_bridge.portal.photos import Photo, check_photo
from crm_bridge.portal.policy import (
    Principal,
    can_log_for,
    consent_question,
    loggable_members,
)
from crm_bridge.portal.queries import visible_enquiry
from crm_bridge.portal.render import render
from crm_bridge.portal.routes.forms import check_post, read_form
from crm_bridge.privacy.members import departed

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _consent_words(config: CouncilConfig, who: Principal,
                   member_id: str) -> tuple[str | None, str]:
    """The sharing question (None: not asked) and its hint, naming who would see it. Staff
    who have not chosen the member yet are told who sees it for each member."""
    member = config.member(member_id) if member_id else None
    if member is not None:
        question = consent_question(config, member.id)
        if question is None:
            return None, (f"Enquiries for {member.name} are seen only by them and the "
                          "members’ services staff working for them, so there is no "
                          "sharing question.")
        return question, ("Ask the constituent. If they agree, these members see their "
                          "name, details and the enquiry.")
    lines = [f"{name}: {audience_words(config, mid) or 'no one'}"
             for mid, name in loggable_members(who, config)]
    return ("Can the member share this enquiry?",
            "Ask the constituent. Who sees it if they agree: " + "; ".join(lines) + ".")


def _form_page(v: Visit, who: Principal, values: dict[str, str], errors: dict[str, str],
               status: int = 200) -> Response:
    config = v.portal.bridge.config
    member_id = values.get("member", "") if who.is_staff else who.member_id or ""
    question, hint = _consent_words(config, who, member_id)
    members: list[tuple[str, str]] = []
    if who.is_staff:
        with v.portal.store.read() as conn:
            gone = departed(conn)  # members who left office are no longer offered
        members = [m for m in loggable_members(who, config) if m[0] not in gone]
    return render(
        v, "new.html", status, values=values, errors=errors,
        consent_question=question, consent_hint=hint,
        members=members,
        categories=[(c.id, c.label) for c in config.categories],
        channels=[(c.value, CHANNEL_LABELS[c]) for c in Channel],
    )


def _may_log(who: Principal) -> None:
    if not who.is_staff and who.member_id is None:
        raise HTTPException(status_code=403, detail="Only members and members' services staff "
                            "can log enquiries")


@router.get("/enquiries/new")
def new_page(v: Annotated[Visit, Depends(visit)]) -> Response:
    who = signed_in(v)
    _may_log(who)
    values = {"channel": Channel.SURGERY.value}
    chosen = v.request.query_params.get("member", "")
    if who.is_staff and can_log_for(who, chosen):
        values["member"] = chosen  # the sharing question can then name who would see it
    return _form_page(v, who, values, {})


async def _photo(form: FormData, max_bytes: int) -> Photo | str | None:
    upload = form.get("photo")
    if not isinstance(upload, UploadFile) or not upload.filename:
        return None
    data = await upload.read(max_bytes + 1)
    await upload.close()
    return check_photo(upload.filename, data, max_bytes)


async def read_enquiry_form(v: Annotated[Visit, Depends(visit)],
                            form: Annotated[FormData, Depends(read_form)]
                            ) -> tuple[FormData, Photo | str | None]:
    """The form and its photo, read in the event loop (the upload is async)."""
    max_bytes = int(v.portal.bridge.config.portal.max_photo_mb * 1024 * 1024)
    photo = await _photo(form, max_bytes)
    await form.close()
    return form, photo


@router.post("/enquiries/new")
def log_page(v: Annotated[Visit, Depends(visit)],
             posted: Annotated[tuple[FormData, Photo | str | None], Depends(read_enquiry_form)]
             ) -> Response:
    who = signed_in(v)
    form, photo = posted
    check_post(v, form)
    _may_log(who)
    parsed = parse_enquiry_form(form, v.portal.bridge.config, who)
    if isinstance(photo, str):
        parsed.errors["photo"] = photo
    if parsed.errors or parsed.draft is None:
        return _form_page(v, who, parsed.values, parsed.errors, 400)
    try:
        logged = log_from_portal(v.portal.store, v.portal.bridge, who, parsed.draft,
                                 photo if isinstance(photo, Photo) else None, v.now)
    except InputError as exc:
        field = exc.field if exc.field == "member" else "category"
        return _form_page(v, who, parsed.values, {field: exc.message}, 400)
    return RedirectResponse(f"/enquiries/{logged.reference}/logged", status_code=303)


@router.get("/enquiries/{reference}/logged")
def logged_page(reference: str, v: Annotated[Visit, Depends(visit)]) -> Response:
    who = signed_in(v)
    portal = v.portal
    with portal.store.read() as conn:
        enquiry = visible_enquiry(conn, who, reference)
        if enquiry is None:
            raise HTTPException(status_code=404)
        dupes = find_duplicates(
            conn, who, facts_of(enquiry), portal.bridge.config.duplicates,
            name=enquiry.constituent.name, postcode=enquiry.constituent.postcode,
            exclude=str(enquiry.id))
        person = enquiry.constituent
        past = constituent_history(conn, who, name=person.name, email=person.email,
                                   phone=person.phone, postcode=person.postcode,
                                   exclude=str(enquiry.id))
    linked = set(enquiry.linked)
    record_many(portal.store, v.now, who.username, "viewed",
                [str(enquiry.id), *dupes.ids(), *past.ids()], "logged confirmation")
    return render(v, "logged.html", enquiry=enquiry, dupes=dupes, linked=linked,
                  person_history=past if past.any else None)


@router.post("/enquiries/{reference}/links")
def link_page(reference: str, v: Annotated[Visit, Depends(visit)],
              form: Annotated[FormData, Depends(read_form)]) -> Response:
    who = signed_in(v)
    check_post(v, form)
    with v.portal.store.read() as conn:
        enquiry = visible_enquiry(conn, who, reference)
    if enquiry is None:
        raise HTTPException(status_code=404)
    if not can_log_for(who, enquiry.member_id):
        raise HTTPException(status_code=403, detail="Only the member's own enquiries")
    others = [str(x) for x in form.getlist("link")]
    link_enquiries(v.portal.store, who, enquiry, others, v.now)
    return RedirectResponse(f"/enquiries/{enquiry.reference}", status_code=303)
