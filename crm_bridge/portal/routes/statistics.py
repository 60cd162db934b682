"""The statistics page and a CSV download of each of its tables (GET, the filters in the
query: the figures hold no personal data, so a link can be shared and bookmarked)."""

from __future__ import annotations

import csv
import io
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from crm_bridge.portal.context import Visit, signed_in, visit
from crm_bridge.portal.policy import Principal
from crm_bridge.portal.render import render
from crm_bridge.portal.statistics import COLUMNS, Statistics, cell, parse_filters, statistics

__all__ = ["router"]

router = APIRouter(include_in_schema=False)


def _statistics(v: Visit) -> tuple[Principal, Statistics, dict[str, str]]:
    who = signed_in(v)
    if not who.sees_enquiries:
        raise HTTPException(status_code=403, detail="Your account cannot see statistics")
    portal = v.portal
    config = portal.bridge.config
    today = portal.bridge.router.calendar.local_date(v.now)
    filters, errors = parse_filters(config, dict(v.request.query_params), today.year,
                                    member_view=not who.is_staff)
    cached = portal.statistics.rows(portal.store.read, config, filters.period, v.now,
                                    today.isoformat())
    stats = statistics(cached, config, who, filters)
    return who, stats, errors


@router.get("/statistics")
def statistics_page(v: Annotated[Visit, Depends(visit)]) -> Response:
    who, stats, errors = _statistics(v)
    config = v.portal.bridge.config
    return render(v, "statistics.html", 400 if errors else 200, stats=stats, errors=errors,
                  columns=COLUMNS, cell=cell, query=stats.filters.query(),
                  period_text=v.request.query_params.get("period", stats.filters.period.label),
                  wards=[(w.id, w.name) for w in config.wards] if who.is_staff else [],
                  services=[(s.id, s.name) for s in config.services])


@router.get("/statistics/{table}.csv")
def statistics_csv(table: str, v: Annotated[Visit, Depends(visit)]) -> Response:
    _, stats, errors = _statistics(v)
    if errors:
        raise HTTPException(status_code=400, detail="; ".join(
            f"{name}: {message}" for name, message in errors.items()))
    found = next((t for t in stats.tables if t.id == table), None)
    if found is None:
        raise HTTPException(status_code=404)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([found.heading, *(title for _, title in COLUMNS)])
    for name, figures, previous in found.rows:
        writer.writerow([_safe(name), *(cell(figures, previous, column, stats.suppress_below)
                                        for column, _ in COLUMNS)])
    filename = f"statistics-{found.id}-{stats.filters.period.label}.csv"
    return Response(out.getvalue(), media_type="text/csv; charset=utf-8", headers={
        "content-disposition": f'attachment; filename="{filename}"',
        "cache-control": "no-store"})


def _safe(text: str) -> str:
    """A label a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
