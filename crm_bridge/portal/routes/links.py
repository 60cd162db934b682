"""Link an enquiry to another as the same issue, or undo a link, from the enquiry page.

Both go through ``crm_bridge.links`` (as the JSON API and the CLI do), which the access
policy authorises; a refusal or a missing reason comes back on the page in the GOV.UK
error summary. The duplicates panel of the confirmation page links with ``POST
/enquiries/{reference}/links`` (routes/new.py), through the same module.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.links import Actor, link, unlink
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.routes.enquiries import _enquiry_page, _load
from crm_bridge.portal.routes.forms import check_post, read_form

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _change(v: Visit, reference: str, form: FormData, action: str) -> Response:
    who = signed_in(v)
    check_post(v, form)
    enquiry = _load(v, who, reference)
    other = str(form.get(f"{action}_other") or "").strip()
    reason = str(form.get(f"{action}_reason") or "")
    values = {f"{action}_other": other, f"{action}_reason": reason}
    actor = Actor(username=who.username, name=who.name, principal=who)
    try:
        if not other:
            raise InputError("other", "Enter the reference of the other enquiry")
        with v.portal.store.write() as conn:
            (link if action == "link" else unlink)(conn, actor, str(enquiry.id), other,
                                                   reason, v.now)
    except (InputError, NotFoundError) as exc:
        field = getattr(exc, "field", "other")
        message = exc.message if isinstance(exc, InputError) else (
            "No enquiry you may see has that reference: check it (like ENQ-2026-000123)")
        key = f"{action}_{'reason' if field == 'reason' else 'other'}"
        return _enquiry_page(v, who, enquiry, {key: message}, status=400, values=values)
    return RedirectResponse(f"/enquiries/{enquiry.reference}#linked", status_code=303)


@router.post("/enquiries/{reference}/link")
def link_one(reference: str, v: Annotated[Visit, Depends(visit)],
             form: Annotated[FormData, Depends(read_form)]) -> Response:
    return _change(v, reference, form, "link")


@router.post("/enquiries/{reference}/unlink")
def unlink_one(reference: str, v: Annotated[Visit, Depends(visit)],
               form: Annotated[FormData, Depends(read_form)]) -> Response:
    return _change(v, reference, form, "unlink")
