"""The JSON API under /api/: the pages' data and actions, with exactly their authorisation
(the same ``policy`` and ``queries``) and the same audit trail. Documented by the generated
OpenAPI schema at /api/openapi.json. POSTs need the session's X-CSRF-Token header.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, HTTPException, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from crm_bridge.duplicates import Facts, facts_of
from crm_bridge.errors import InputError
from crm_bridge.models import Channel, Enquiry
from crm_bridge.portal.actions import add_note, log_from_portal
from crm_bridge.portal.audit import record_many
from crm_bridge.portal.context import Visit, api_principal, visit
from crm_bridge.portal.duplicates import Duplicates, find_duplicates
from crm_bridge.portal.finder import search
from crm_bridge.portal.forms import parse_enquiry_form
from crm_bridge.portal.policy import Principal, can_add_note, can_log_for
from crm_bridge.portal.queries import Row, dashboard, visible_enquiry
from crm_bridge.portal.responses import mark_read, new_responses
from crm_bridge.portal.routes.home import parse_upto
from crm_bridge.portal.routes.search import PER_PAGE, search_filter
from crm_bridge.portal.security import same_origin
from crm_bridge.suggest import unknown

__all__ = ["router"]

router = APIRouter(prefix="/api", tags=["enquiries"])


class Summary(BaseModel):
    reference: str
    member_id: str
    ward_id: str | None
    category_id: str
    service_id: str
    status: str
    target_date: date
    overdue: bool
    received_at: str
    constituent_name: str
    location: str | None
    shared: bool = Field(description="the constituent agreed to share with ward colleagues")


class Page(BaseModel):
    total: int
    page: int
    per_page: int
    items: list[Summary]


class NewResponse(Summary):
    response_arrived_at: str = Field(description="when the CRM's response reached the bridge")


class DashboardOut(BaseModel):
    responses: list[NewResponse] = Field(description="responses since the user last marked "
                                         "them read, newest first (at most 50)")
    responses_total: int
    responses_since: str | None = Field(description="when the user last marked responses "
                                        "read (null: never; the last two weeks are shown)")
    responses_newest: str | None = Field(description="POST it to /api/responses/read to "
                                         "mark these read")
    mine_covers: str = Field(description="whose enquiries mine_total and mine_overdue count")
    mine: list[Summary]
    mine_total: int
    mine_overdue: int
    shared_covers: str | None = Field(description="whose enquiries shared_total counts "
                                      "(null: nothing is shared with this user)")
    shared: list[Summary]
    shared_total: int


class ReadIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upto: str = Field(description="responses_newest from /api/dashboard")


class SameIssue(Summary):
    score: int = Field(description="how sure the check is that it is the same issue, 0-100")
    reasons: str = Field(description="why, in words: 'same street, related category, "
                         "4 days ago, 86% similar text'")


class DuplicatesOut(BaseModel):
    same_issue: list[SameIssue] = Field(description="best first")
    same_person: list[Summary]
    hidden: int = Field(description="ward colleagues' matches this user may not see "
                        "(no details)")


class NewEnquiry(BaseModel):
    """The portal form's fields; ``member`` is ignored for members (they log as themselves)."""

    model_config = ConfigDict(extra="forbid")
    member: str | None = None
    category: str
    name: str
    postcode: str | None = None
    address: str | None = None
    email: str | None = None
    phone: str | None = None
    description: str
    location: str | None = None
    channel: Channel = Channel.SURGERY
    consent: bool


class Logged(BaseModel):
    reference: str
    target_date: date
    service_id: str
    duplicates: DuplicatesOut


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str = Field(min_length=1, max_length=5000)


def _post_guard(v: Visit, token: str | None) -> Principal:
    who = api_principal(v)
    if not same_origin(v.request) or not v.csrf_ok(token):
        raise HTTPException(status_code=403, detail="missing or wrong X-CSRF-Token header")
    return who


def _summaries(rows: Any, today: date) -> list[Summary]:
    return [Summary(**row.as_json(today)) for row in rows]


def _today(v: Visit) -> date:
    return v.portal.bridge.router.calendar.local_date(v.now)


def _dupes_out(d: Duplicates, today: date) -> DuplicatesOut:
    issue = [SameIssue(**Row(**asdict(m.row)).as_json(today), score=m.score,
                       reasons=m.reasons) for m in d.same_issue]
    return DuplicatesOut(same_issue=issue, same_person=_summaries(d.same_person, today),
                         hidden=d.hidden)


@router.get("/dashboard", response_model=DashboardOut)
def api_dashboard(v: Annotated[Visit, Depends(visit)]) -> DashboardOut:
    """Responses since I last marked them read; my open enquiries (earliest target first)
    and those shared with me, with counts and whose enquiries each count covers."""
    who = api_principal(v)
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="this account cannot see enquiries")
    today = _today(v)
    with v.portal.store.read() as conn:
        board = dashboard(conn, who, today)
        news = new_responses(conn, who, v.now)
    listed = [r.id for r in (*board.mine, *board.shared)]
    listed += [r.id for r, _ in news.rows if r.id not in listed]
    record_many(v.portal.store, v.now, who.username, "listed", listed, "api dashboard")
    shared_covers = None
    if who.direct_sharers:
        shared_covers = "Shared with you"
    elif who.ward_sharers:
        shared_covers = "Shared with you by ward colleagues"
    return DashboardOut(
        responses=[NewResponse(**row.as_json(today), response_arrived_at=at.isoformat())
                   for row, at in news.rows],
        responses_total=news.total,
        responses_since=news.since.isoformat() if news.since else None,
        responses_newest=news.newest.isoformat() if news.newest else None,
        mine_covers=("Enquiries of the members your group works for" if who.is_staff
                     else "Your enquiries"),
        mine=_summaries(board.mine, today), mine_total=board.mine_total,
        mine_overdue=board.mine_overdue, shared_covers=shared_covers,
        shared=_summaries(board.shared, today), shared_total=board.shared_total)


@router.post("/responses/read", status_code=204)
def api_responses_read(body: ReadIn, v: Annotated[Visit, Depends(visit)],
                       x_csrf_token: Annotated[str | None, Header()] = None) -> Response:
    """Mark the responses up to ``upto`` (the dashboard's responses_newest) as read."""
    who = _post_guard(v, x_csrf_token)
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="this account cannot see enquiries")
    upto = parse_upto(body.upto, v.now)
    with v.portal.store.write() as conn:
        mark_read(conn, who, upto)
    return Response(status_code=204)


class SearchIn(BaseModel):
    """What to search for: the words and filters of the search page (all optional)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)
    q: str | None = Field(default=None, max_length=200, description="reference, name, "
                          "postcode (whole, or its start), address, e-mail, phone or words")
    ward: str | None = None
    member: str | None = None
    category: str | None = None
    service: str | None = None
    status: str | None = None
    received_from: str | None = Field(default=None, alias="from")
    received_to: str | None = Field(default=None, alias="to")
    page: int = Field(default=1, ge=1, le=10_000)


def _search(v: Visit, who: Principal, params: dict[str, str | None], page: int) -> Page:
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="this account cannot see enquiries")
    where, _values, errors = search_filter({k: x or "" for k, x in params.items()},
                                           v.portal.bridge.config)
    if errors:
        raise HTTPException(status_code=422, detail=errors)
    with v.portal.store.read() as conn:
        rows, total = search(conn, who, where, page, PER_PAGE,
                             v.portal.bridge.router.calendar.zone)
    record_many(v.portal.store, v.now, who.username, "searched",
                [r.id for r in rows], "api")
    return Page(total=total, page=page, per_page=PER_PAGE, items=_summaries(rows, _today(v)))


@router.get("/enquiries", response_model=Page)
def api_list(v: Annotated[Visit, Depends(visit)],
             ward: str | None = None, member: str | None = None,
             category: str | None = None, service: str | None = None,
             status: str | None = None,
             received_from: Annotated[str | None, Query(alias="from")] = None,
             received_to: Annotated[str | None, Query(alias="to")] = None,
             page: Annotated[int, Query(ge=1, le=10_000)] = 1,
             q: Annotated[str | None, Query(include_in_schema=False)] = None) -> Page:
    """Enquiries this user may see, newest first, narrowed by filters. Words (which may be
    a name, postcode or e-mail) are not taken here, in the address: POST them to
    /api/enquiries/search."""
    who = api_principal(v)
    if q:
        raise HTTPException(status_code=400, detail="q: search words are not taken in the "
                            "address; POST them to /api/enquiries/search")
    return _search(v, who, {"ward": ward, "member": member, "category": category,
                            "service": service, "status": status, "from": received_from,
                            "to": received_to}, page)


@router.post("/enquiries/search", response_model=Page)
def api_search(body: SearchIn, v: Annotated[Visit, Depends(visit)],
               x_csrf_token: Annotated[str | None, Header()] = None) -> Page:
    """Search as the search page does: ranked (exact reference, postcode, e-mail or phone
    first; then the name in any order, a partial postcode, the street; then words; then
    names spelt a little differently), only enquiries this user may see."""
    who = _post_guard(v, x_csrf_token)
    params = body.model_dump(by_alias=True, exclude={"page"})
    return _search(v, who, params, body.page)


@router.get("/enquiries/{reference}")
def api_enquiry(reference: str, v: Annotated[Visit, Depends(visit)]) -> dict[str, Any]:
    """One enquiry in full: constituent, consent, history, links (the Enquiry model)."""
    who = api_principal(v)
    with v.portal.store.read() as conn:
        enquiry = visible_enquiry(conn, who, reference)
    if enquiry is None:
        raise HTTPException(status_code=404, detail="no such enquiry")
    record_many(v.portal.store, v.now, who.username, "viewed", [str(enquiry.id)], "api")
    return enquiry.model_dump(mode="json")


@router.post("/enquiries", status_code=201, response_model=Logged)
def api_log(body: NewEnquiry, v: Annotated[Visit, Depends(visit)],
            x_csrf_token: Annotated[str | None, Header()] = None) -> Logged:
    """Log an enquiry; stored at once and sent to the CRM on the next sync."""
    who = _post_guard(v, x_csrf_token)
    if not who.is_staff and who.member_id is None:
        raise HTTPException(status_code=403, detail="this account cannot log enquiries")
    fields = body.model_dump()
    fields["consent"] = "yes" if body.consent else "no"
    fields["channel"] = body.channel.value
    parsed = parse_enquiry_form({k: x for k, x in fields.items() if x is not None},
                                v.portal.bridge.config, who)
    if parsed.errors or parsed.draft is None:
        raise HTTPException(status_code=422, detail=parsed.errors)
    try:
        logged: Enquiry = log_from_portal(v.portal.store, v.portal.bridge, who, parsed.draft,
                                          None, v.now)
    except InputError as exc:
        raise HTTPException(status_code=422, detail={exc.field: exc.message}) from None
    with v.portal.store.read() as conn:
        dupes = find_duplicates(
            conn, who, facts_of(logged), v.portal.bridge.config.duplicates,
            name=logged.constituent.name, postcode=logged.constituent.postcode,
            exclude=str(logged.id))
    record_many(v.portal.store, v.now, who.username, "viewed", dupes.ids(), "api")
    return Logged(reference=logged.reference, target_date=logged.target_date,
                  service_id=logged.service_id, duplicates=_dupes_out(dupes, _today(v)))


@router.post("/enquiries/{reference}/notes", status_code=202)
def api_note(reference: str, body: NoteIn, v: Annotated[Visit, Depends(visit)],
             x_csrf_token: Annotated[str | None, Header()] = None) -> dict[str, str]:
    """Add a follow-up note; it goes to the CRM case on the next sync."""
    who = _post_guard(v, x_csrf_token)
    with v.portal.store.read() as conn:
        enquiry = visible_enquiry(conn, who, reference)
    if enquiry is None:
        raise HTTPException(status_code=404, detail="no such enquiry")
    if not can_add_note(who, enquiry):
        raise HTTPException(status_code=403, detail="only the member or members' services")
    add_note(v.portal.store, who, enquiry, body.text, v.now)
    return {"status": "queued"}


class DraftIn(BaseModel):
    """The new-enquiry form as typed so far (in the body: it holds personal data)."""

    model_config = ConfigDict(extra="forbid")
    member: str | None = Field(default=None, max_length=64,
                               description="staff: the member chosen; ignored for members")
    category: str | None = Field(default=None, max_length=64)
    description: str | None = Field(default=None, max_length=5000)
    location: str | None = Field(default=None, max_length=500)
    name: str | None = Field(default=None, max_length=200)
    postcode: str | None = Field(default=None, max_length=10)
    address: str | None = Field(default=None, max_length=500)


@router.post("/duplicates", response_model=DuplicatesOut)
def api_duplicates(body: DraftIn, v: Annotated[Visit, Depends(visit)],
                   x_csrf_token: Annotated[str | None, Header()] = None) -> DuplicatesOut:
    """Possible duplicates of an enquiry being typed: the same issue in the member's ward
    or at the same postcode recently (scored, with reasons), and the constituent's earlier
    enquiries; only those this user may see, the rest of the ward's counted in ``hidden``."""
    who = _post_guard(v, x_csrf_token)
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="this account cannot see enquiries")
    config = v.portal.bridge.config
    member_id = who.member_id if not who.is_staff else body.member
    if member_id is not None and not can_log_for(who, member_id):
        member_id = None  # a member this user does not work for: no ward to look in
    ward = config.ward_of(member_id) if member_id else None
    category = config.category(body.category) if body.category else None
    if body.category and category is None:
        raise HTTPException(status_code=422, detail={"category": unknown(
            "category", body.category, [c.id for c in config.categories])})
    draft = None
    if category is not None:
        draft = Facts(category.id, ward.id if ward else None, body.description or "", v.now,
                      body.location or None, body.address or None, body.postcode or None)
    with v.portal.store.read() as conn:
        dupes = find_duplicates(conn, who, draft, config.duplicates, name=body.name,
                                postcode=body.postcode)
    record_many(v.portal.store, v.now, who.username, "duplicate_check", dupes.ids())
    return _dupes_out(dupes, _today(v))
