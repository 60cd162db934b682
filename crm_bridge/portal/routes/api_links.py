"""The JSON API's links: ``POST /api/enquiries/{reference}/links`` links another enquiry,
``POST /api/enquiries/{reference}/unlink`` undoes a link (with a reason). Both go through
``crm_bridge.links``, as the portal's pages and the CLI do, and need the X-CSRF-Token
header like every API write."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, HTTPException
from pydantic import BaseModel, ConfigDict, Field

from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.links import MAX_REASON, Actor, LinkDone, NotYours, link, unlink
from crm_bridge.portal.context import Visit, visit
from crm_bridge.portal.routes.api import _post_guard

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["enquiries"])


class LinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other: str = Field(min_length=1, max_length=40)
    reason: str | None = Field(default=None, max_length=MAX_REASON)


class UnlinkIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    other: str = Field(min_length=1, max_length=40)
    reason: str = Field(min_length=1, max_length=MAX_REASON)


class LinkOut(BaseModel):
    reference: str
    other: str
    changed: bool
    crm: str  # what the CRM will be told on the next sync, in words


def _run(v: Visit, token: str | None, reference: str, other: str, reason: str | None,
         unlinking: bool) -> LinkOut:
    who = _post_guard(v, token)
    actor = Actor(username=who.username, name=who.name, principal=who)
    try:
        with v.portal.store.write() as conn:
            done: LinkDone = (unlink if unlinking else link)(conn, actor, reference, other,
                                                            reason, v.now)
    except NotFoundError as exc:
        raise HTTPException(status_code=404, detail=str(exc)) from None
    except NotYours as exc:
        raise HTTPException(status_code=403, detail=str(exc)) from None
    except InputError as exc:
        raise HTTPException(status_code=422, detail=str(exc)) from None
    return LinkOut(reference=done.reference, other=done.other, changed=done.changed,
                   crm=done.crm)


@router.post("/enquiries/{reference}/links", response_model=LinkOut)
def api_link(reference: str, body: LinkIn, v: Annotated[Visit, Depends(visit)],
             x_csrf_token: Annotated[str | None, Header()] = None) -> LinkOut:
    """Link another enquiry as the same issue: one CRM case for both (see docs/sync.md)."""
    return _run(v, x_csrf_token, reference, body.other, body.reason, unlinking=False)


@router.post("/enquiries/{reference}/unlink", response_model=LinkOut)
def api_unlink(reference: str, body: UnlinkIn, v: Annotated[Visit, Depends(visit)],
               x_csrf_token: Annotated[str | None, Header()] = None) -> LinkOut:
    """Undo a link, saying why; recorded in both enquiries' history and the audit log."""
    return _run(v, x_csrf_token, reference, body.other, body.reason, unlinking=True)
