"""The double's service requests, their updates and the notes clients post, in memory.

Services come from the recorded ``services.xml`` (mySociety's Merton fixture: GR,
Graffiti, with metadata) with the recorded ``service.xml`` definition served for it, plus
one service of the double's own with no attributes (POT). Requests get numeric ids; each
officer action is an update with its own ``update_id`` (mySociety's servicerequestupdates)
and moves the request's own GeoReport status (open / closed) and ``status_notes``. Updates
clients post are kept on the request as posted (``notes``), every one: like
open311-adapter, the double does not de-duplicate them on ``update_id``.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

__all__ = ["CLOSED_STATUSES", "Request", "State", "Update", "stamp"]

RECORDED = Path(__file__).resolve().parent / "recorded"
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)

CLOSED_STATUSES = frozenset({"closed", "fixed", "duplicate", "not_councils_responsibility",
                             "no_further_action", "internal_referral"})
"""mySociety's update statuses that close the request (GeoReport status 'closed')."""


def stamp(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _xml_value(element: Any) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    if element.tag in ("attributes", "values"):
        return [_xml_value(child) for child in children]
    return {child.tag: _xml_value(child) for child in children}


def recorded_catalogue() -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    """The services and definitions the double offers, typed as GeoReport's JSON has them."""
    root = etree.parse(str(RECORDED / "services.xml"), _PARSER).getroot()
    services = []
    for element in root:
        item = _xml_value(element)
        item["metadata"] = item["metadata"] == "true"
        services.append(item)
    definition = _xml_value(etree.parse(str(RECORDED / "service.xml"), _PARSER).getroot())
    for attribute in definition["attributes"]:
        attribute["variable"] = attribute["variable"] == "true"
        attribute["required"] = attribute["required"] == "true"
        attribute["order"] = int(attribute["order"])
        if attribute.get("values") == "":
            attribute["values"] = []
    recorded_code = services[0]["service_code"]
    definitions = {recorded_code: {**definition, "service_code": recorded_code}}
    services.append({"service_code": "POT", "service_name": "Pothole", "metadata": False,
                     "type": "realtime", "group": "Roads", "description": None,
                     "keywords": None})
    return services, definitions


@dataclass
class Update:
    update_id: str
    service_request_id: str
    status: str
    at: datetime
    description: str
    media_url: str = ""

    def public(self) -> dict[str, Any]:
        return {"update_id": self.update_id, "service_request_id": self.service_request_id,
                "status": self.status, "updated_datetime": stamp(self.at),
                "description": self.description, "media_url": self.media_url}


@dataclass
class Request:
    id: str
    service_code: str
    service_name: str
    form: dict[str, list[str]]
    at: datetime
    status: str = "open"
    status_notes: str | None = None
    updated: datetime | None = None
    notes: list[dict[str, str]] = field(default_factory=list)  # what clients posted

    @property
    def description(self) -> str:
        return self.form.get("description", [""])[-1]

    def attribute(self, code: str) -> str | None:
        return self.form.get(f"attribute[{code}]", [None])[-1]

    def public(self) -> dict[str, Any]:
        def one(name: str) -> str | None:
            return self.form.get(name, [None])[-1]

        lat, long = one("lat"), one("long")
        return {"service_request_id": self.id, "status": self.status,
                "status_notes": self.status_notes, "service_name": self.service_name,
                "service_code": self.service_code, "description": self.description,
                "agency_responsible": None, "service_notice": None,
                "requested_datetime": stamp(self.at),
                "updated_datetime": stamp(self.updated or self.at), "expected_datetime": None,
                "address": one("address_string"), "address_id": one("address_id"),
                "zipcode": None, "lat": float(lat) if lat else None,
                "long": float(long) if long else None, "media_url": None}


class State:
    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.services, self.definitions = recorded_catalogue()
        self.requests: dict[str, Request] = {}
        self.updates: list[Update] = []
        self.tokens: dict[str, str] = {}  # token → request id
        self.token_reads: dict[str, int] = {}
        self._ids = itertools.count(1001)
        self._updates = itertools.count(1)

    def service(self, code: str) -> dict[str, Any] | None:
        return next((s for s in self.services if s["service_code"] == code), None)

    def create(self, form: dict[str, list[str]]) -> Request:
        with self.lock:
            code = form["service_code"][-1]
            service = self.service(code) or {}
            request = Request(str(next(self._ids)), code, service.get("service_name", code),
                              form, datetime.now(UTC))
            self.requests[request.id] = request
            return request

    def act(self, request_id: str, status: str, description: str = "",
            at: datetime | None = None) -> Update:
        """An officer's change, listed by servicerequestupdates."""
        with self.lock:
            request = self.requests[request_id]
            update = Update(f"u{next(self._updates)}", request_id, status,
                            at or datetime.now(UTC), description)
            self.updates.append(update)
            request.status = "closed" if status in CLOSED_STATUSES else "open"
            if description:
                request.status_notes = description
            request.updated = update.at
            return update

    def note(self, request_id: str, form: dict[str, str], listed: bool = False) -> str:
        """A client's update, kept as posted (a repeat with the same update_id is kept
        again: open311-adapter does not de-duplicate on it); with ``listed``, also listed
        by servicerequestupdates, as a back office that logs it does. Returns the server's
        own id for it."""
        with self.lock:
            self.requests[request_id].notes.append(form)
            update_id = f"p{next(self._updates)}"
            if listed:
                self.updates.append(Update(update_id, request_id, form["status"].lower(),
                                           datetime.now(UTC), form["description"],
                                           form.get("media_url", "")))
            return update_id

    def listed(self, query: dict[str, str], updated_after: str | None) -> list[Request]:
        from .validate import parse_time

        with self.lock:
            chosen = list(self.requests.values())
        ids = query.get("service_request_id")
        if ids:
            wanted = ids.split(",")
            return [r for r in chosen if r.id in wanted]
        if query.get("service_code"):
            chosen = [r for r in chosen if r.service_code == query["service_code"]]
        if query.get("start_date"):
            chosen = [r for r in chosen if r.at >= parse_time(query["start_date"])]
        if query.get("end_date"):
            chosen = [r for r in chosen if r.at <= parse_time(query["end_date"])]
        if updated_after:
            cut = parse_time(updated_after)
            chosen = [r for r in chosen if (r.updated or r.at) >= cut]
        return chosen

    def updates_since(self, start: str | None, end: str | None) -> list[Update]:
        from .validate import parse_time

        with self.lock:
            chosen = list(self.updates)
        if start:
            chosen = [u for u in chosen if u.at >= parse_time(start)]
        if end:
            chosen = [u for u in chosen if u.at <= parse_time(end)]
        return chosen
