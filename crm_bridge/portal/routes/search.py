"""Search: words (see ``finder``) and filters, ranked and paginated.

The form is posted, so the words travel in the body; the results are then shown at
``/search?t=TOKEN`` (``saved_search``), never with the words in the address. The filters
are read by ``search_filter``, which the JSON API uses too.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends
from fastapi.responses import RedirectResponse, Response
from starlette.datastructures import FormData

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import Status
from crm_bridge.portal.audit import record, record_many
from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.finder import search
from crm_bridge.portal.policy import Principal
from crm_bridge.portal.queries import COUNT_CAP, Row
from crm_bridge.portal.render import STATUS_LABELS, render
from crm_bridge.portal.routes.forms import check_post, read_form
from crm_bridge.portal.saved_search import load_search, save_search
from crm_bridge.store.enquiries import EnquiryFilter

__all__ = ["PER_PAGE", "router", "search_filter"]

router = APIRouter(include_in_schema=False)
PER_PAGE = 25
FILTERS = ("q", "ward", "member", "category", "service", "status", "from", "to")


def _date(value: str) -> date | None:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def search_filter(params: Mapping[str, str], config: CouncilConfig
                  ) -> tuple[EnquiryFilter, dict[str, str], dict[str, str]]:
    """The filter, the values to show in the form again, and errors by field."""
    values = {k: str(params.get(k) or "").strip()[:200] for k in FILTERS}
    errors: dict[str, str] = {}
    known = {"ward": {w.id for w in config.wards}, "member": {m.id for m in config.members},
             "category": {c.id for c in config.categories},
             "service": {s.id for s in config.services}, "status": {s.value for s in Status}}
    for key, allowed in known.items():
        if values[key] and values[key] not in allowed:
            errors[key] = "Select an option from the list"
    dates = {}
    for key in ("from", "to"):
        dates[key] = _date(values[key]) if values[key] else None
        if values[key] and dates[key] is None:
            errors[key] = "Enter a real date, like 2026-11-02"
    if dates["from"] and dates["to"] and dates["from"] > dates["to"]:
        errors["to"] = "The end date must be the same as or after the start date"
    if errors:
        return EnquiryFilter(), values, errors
    where = EnquiryFilter(
        text=values["q"] or None, ward_id=values["ward"] or None,
        member_id=values["member"] or None, category_id=values["category"] or None,
        service_id=values["service"] or None,
        status=Status(values["status"]) if values["status"] else None,
        received_from=dates["from"], received_to=dates["to"])
    return where, values, errors


def _options(config: CouncilConfig, who: Principal) -> dict[str, list[tuple[str, str]]]:
    """The filters' choices: only members whose casework this user may see."""
    wards = config.wards if who.is_staff else [w for w in config.wards if w.id == who.ward_id]
    seen = who.scope if who.is_staff else {who.member_id, *who.ward_sharers,
                                           *who.direct_sharers}
    members = [m for m in config.members if m.id in seen]
    return {
        "ward": [(w.id, w.name) for w in wards],
        "member": [(m.id, m.name) for m in members],
        "category": [(c.id, c.label) for c in config.categories],
        "service": [(s.id, s.name) for s in config.services],
        "status": [(s.value, label) for s, (label, _) in STATUS_LABELS.items()],
    }


def _results(v: Visit, who: Principal, values: dict[str, str], errors: dict[str, str],
             page: int, token: str, expired: bool = False) -> Response:
    config = v.portal.bridge.config
    asked = any(values.values()) and not expired
    rows: list[Row] = []
    total = 0
    if asked and not errors and who.sees_enquiries:
        where, _values, _errors = search_filter(values, config)
        with v.portal.store.read() as conn:
            rows, total = search(conn, who, where, page, PER_PAGE,
                                 v.portal.bridge.router.calendar.zone)
        detail = urlencode({k: x for k, x in values.items() if x})
        record_many(v.portal.store, v.now, who.username, "searched", [r.id for r in rows],
                    detail)
        if not rows:
            with v.portal.store.write() as conn:
                record(conn, v.now, who.username, "searched", None, detail)
    pages = max(1, -(-min(total, COUNT_CAP) // PER_PAGE))
    today = v.portal.bridge.router.calendar.local_date(v.now)
    return render(v, "search.html", 400 if errors else 200, values=values, errors=errors,
                  options=_options(config, who), rows=rows, total=total, page=page,
                  pages=pages, asked=asked, today=today, cap=COUNT_CAP, expired=expired,
                  page_url=lambda n: "/search?" + urlencode({"t": token, "page": n}))


@router.get("/search")
def search_page(v: Annotated[Visit, Depends(visit)]) -> Response:
    """The form; with ``t`` (a saved search's token) its results, page ``page``."""
    who = signed_in(v)
    params = v.request.query_params
    token = params.get("t", "")
    page = max(1, min(int(params["page"]) if params.get("page", "").isdigit() else 1, 10_000))
    if not token:
        return _results(v, who, dict.fromkeys(FILTERS, ""), {}, 1, "")
    with v.portal.store.read() as conn:
        terms = load_search(conn, who.session_id, token, v.now)
    if terms is None:
        return _results(v, who, dict.fromkeys(FILTERS, ""), {}, 1, "", expired=True)
    values = {k: terms.get(k, "") for k in FILTERS}
    return _results(v, who, values, {}, page, token)


@router.post("/search")
def search_post(v: Annotated[Visit, Depends(visit)],
                form: Annotated[FormData, Depends(read_form)]) -> Response:
    """The words arrive in the body; kept under a token, then the results by that token."""
    who = signed_in(v)
    check_post(v, form)
    config = v.portal.bridge.config
    fields = {k: str(form.get(k) or "") for k in FILTERS}
    _where, values, errors = search_filter(fields, config)
    if errors or not any(values.values()):
        return _results(v, who, values, errors, 1, "")
    with v.portal.store.write() as conn:
        token = save_search(conn, who.session_id, values, v.now)
    return RedirectResponse("/search?" + urlencode({"t": token}), status_code=303)
