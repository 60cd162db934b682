"""Templates: Jinja2 with autoescaping on, and the filters the pages share (local dates,
status words and tag colours, names for ids).
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi.responses import HTMLResponse
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import OPEN_STATUSES, Status
from crm_bridge.portal.context import Visit
from crm_bridge.portal.forms import CHANNEL_LABELS
from crm_bridge.portal.responses import new_response_count

__all__ = ["STATUS_LABELS", "make_templates", "render"]

TEMPLATES = Path(__file__).with_name("templates")

STATUS_LABELS = {
    Status.LOGGED: ("Logged", "govuk-tag--grey"),
    Status.SENT: ("Sent to service", "govuk-tag--blue"),
    Status.ACKNOWLEDGED: ("Acknowledged", "govuk-tag--light-blue"),
    Status.IN_PROGRESS: ("In progress", "govuk-tag--yellow"),
    Status.RESPONDED: ("Responded", "govuk-tag--green"),
    Status.CLOSED: ("Closed", "govuk-tag--grey"),
    Status.FAILED_TO_SEND: ("Not sent: needs attention", "govuk-tag--red"),
}


def make_templates(config: CouncilConfig) -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(["html"], default=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    zone = ZoneInfo(config.council.timezone)
    members = {m.id: m.name for m in config.members}
    wards = {w.id: w.name for w in config.wards}
    categories = {c.id: c.label for c in config.categories}
    services = {s.id: s.name for s in config.services}

    def local_time(value: datetime | None) -> str:
        if value is None:
            return ""
        return f"{value.astimezone(zone):%-d %B %Y at %-I:%M%p}".replace("AM", "am").replace(
            "PM", "pm")

    def day(value: date | None) -> str:
        return "" if value is None else f"{value:%-d %B %Y}"

    def short_day(value: date | datetime | None) -> str:
        if isinstance(value, datetime):
            value = value.astimezone(zone).date()
        return "" if value is None else f"{value:%-d %b %Y}"

    env.filters.update({
        "local_time": local_time,
        "day": day,
        "short_day": short_day,
        "member_name": lambda i: members.get(i, i or ""),
        "ward_name": lambda i: wards.get(i, i or "") if i else "No ward",
        "category_label": lambda i: categories.get(i, i),
        "service_name": lambda i: services.get(i, i),
        "status_label": lambda s: STATUS_LABELS[Status(s)][0],
        "status_class": lambda s: STATUS_LABELS[Status(s)][1],
        "channel_label": lambda c: CHANNEL_LABELS.get(c, str(c)),
    })
    env.globals.update({
        "council_name": config.council.name,
        "open_statuses": {s.value for s in OPEN_STATUSES},
        "has_logo": config.portal.logo is not None,
    })
    return env


def render(v: Visit, template: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    """A page, with what every page needs: who is signed in, the CSRF token, the navigation
    (with the count of responses not yet marked read, unless the page counted them)."""
    page = v.portal.templates.get_template(template)
    if "new_responses" not in context:
        count = 0
        if v.principal is not None and v.principal.sees_enquiries:
            with v.portal.store.read() as conn:
                count = new_response_count(conn, v.principal, v.now)
        context["new_responses"] = count
    html = page.render(
        principal=v.principal, csrf=v.csrf, path=v.request.url.path, errors=context.pop(
            "errors", {}), **context)
    return HTMLResponse(html, status_code=status_code)
