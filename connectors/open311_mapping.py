"""How enquiries become GeoReport v2 service requests (``mappings/open311.yaml``).

Pure functions from the bridge's models to the form ``POST requests`` takes, and the
marker that lets a repeat create find the request the first try opened. Nothing here
talks to the server (``open311_wire`` does), and nothing here reads the constituent:
which contact details may leave the council is the connector's setting
(``contact_fields``), applied in ``contact_form``.
"""

from __future__ import annotations

import re
import string
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.base import BaseMapping, Note
from crm_bridge.errors import PermanentError
from crm_bridge.models import Enquiry, ServiceDestination
from crm_bridge.places import LAT_LONG, coordinates

__all__ = ["ContactField", "Open311Mapping", "ServiceSpec", "contact_form", "has_marker",
           "location_form", "marked_id", "note_text", "request_form", "template_values"]

PLACEHOLDERS = ("id", "reference", "category", "service", "crm_target", "description",
                "location", "ward", "member", "channel", "received_at", "target_date")
"""What a template may name. No constituent detail: those leave only as contact fields."""

ContactField = Literal["email", "first_name", "last_name", "phone", "address_id"]
"""Constituent details a council may let go with a request (``connector.contact_fields``);
``address_id`` sends the constituent's UPRN as the request's address_id."""

DESCRIPTION_LIMIT = 4000  # GeoReport v2's request.json: description maxLength


def _names(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


def _check_template(value: str, allowed: tuple[str, ...] = PLACEHOLDERS) -> str:
    try:
        names = _names(value)
    except ValueError as exc:
        raise ValueError(f"is not a valid template ({exc}); write {{{{ and }}}} for "
                         "braces") from None
    unknown = sorted(names - set(allowed))
    if unknown:
        raise ValueError(f"names {', '.join('{' + n + '}' for n in unknown)}; the placeholders "
                         f"are {', '.join('{' + n + '}' for n in allowed)}")
    return value


class ServiceSpec(BaseModel):
    """The Open311 service a destination's enquiries go to, and attributes for it alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    code: str = Field(min_length=1, description="the server's service_code")
    attributes: dict[str, str] = Field(default_factory=dict)

    @field_validator("attributes")
    @classmethod
    def _templates(cls, value: dict[str, str]) -> dict[str, str]:
        return {code: _check_template(str(text)) for code, text in value.items()}


class Marker(BaseModel):
    """Where a request carries the enquiry's id, so a repeat create can find it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str | None = Field(default="[crm-bridge {id}]", description="a line added "
                                    "at the end of the description; must hold {id}")
    attribute: str | None = Field(default=None, description="an attribute code (one the "
                                  "service definitions have) that carries the id")

    @model_validator(mode="after")
    def _somewhere(self) -> Marker:
        if self.description is None and self.attribute is None:
            raise ValueError("give description (a line holding {id}) or attribute (a code), "
                             "or both: without a marker a retry could open a second request")
        if self.description is not None and _names(self.description) != {"id"}:
            raise ValueError("description must hold {id} and no other placeholder")
        return self


class Open311Mapping(BaseMapping):
    """``mappings/open311.yaml``: statuses, services, attributes, description and marker."""

    services: dict[str, ServiceSpec] = Field(default_factory=dict)
    attributes: dict[str, str] = Field(default_factory=dict)
    description: str = "{description}"
    marker: Marker = Field(default_factory=Marker)
    fallback_address: str | None = None
    note_headings: dict[str, str] = Field(default_factory=lambda: {
        "follow_up": "Follow-up from {author}",
        "duplicate_link": "Linked enquiry, noted by {author}",
        "duplicate_unlink": "Enquiry unlinked, noted by {author}"})
    note_marker: str = Field(default="[crm-bridge note]", min_length=3)

    @field_validator("services", mode="before")
    @classmethod
    def _shorthand(cls, value: Any) -> Any:
        """``Roads: POT`` is ``Roads: {code: POT}``."""
        if isinstance(value, dict):
            return {k: {"code": v} if isinstance(v, str | int) else v for k, v in value.items()}
        return value

    @field_validator("attributes")
    @classmethod
    def _attribute_templates(cls, value: dict[str, str]) -> dict[str, str]:
        return {code: _check_template(str(text)) for code, text in value.items()}

    @field_validator("description")
    @classmethod
    def _description_template(cls, value: str) -> str:
        return _check_template(value)

    @field_validator("note_headings")
    @classmethod
    def _headings(cls, value: dict[str, str]) -> dict[str, str]:
        return {kind: _check_template(text, ("author",)) for kind, text in value.items()}

    def service(self, destination: ServiceDestination) -> ServiceSpec | None:
        """The service for a destination: by its crm_target, else by its id."""
        return self.services.get(destination.crm_target) or self.services.get(destination.id)

    def marker_text(self, enquiry_id: str) -> str | None:
        template = self.marker.description
        return template.format(id=enquiry_id) if template is not None else None

    def attributes_for(self, spec: ServiceSpec) -> dict[str, str]:
        """Every attribute code the mapping fills for the service (the marker's too)."""
        merged = {**self.attributes, **spec.attributes}
        if self.marker.attribute:
            merged[self.marker.attribute] = "{id}"
        return merged


def template_values(enquiry: Enquiry, destination: ServiceDestination) -> dict[str, str]:
    return {
        "id": str(enquiry.id), "reference": enquiry.reference, "category": enquiry.category_id,
        "service": destination.name, "crm_target": destination.crm_target,
        "description": enquiry.description, "location": enquiry.location or "",
        "ward": enquiry.ward_id or "", "member": enquiry.member_id,
        "channel": str(enquiry.channel), "received_at": enquiry.received_at.isoformat(),
        "target_date": enquiry.target_date.isoformat()}


def location_form(mapping: Open311Mapping, enquiry: Enquiry,
                  contact: tuple[ContactField, ...]) -> list[tuple[str, str]]:
    """lat/long when the enquiry's location is a 'lat, long' pair, else address_string;
    address_id (the UPRN) only when the council lets it go; else the fallback address."""
    form: list[tuple[str, str]] = []
    place = (enquiry.location or "").strip()
    pair = LAT_LONG.match(place)
    if pair and coordinates(place):
        form += [("lat", pair[1]), ("long", pair[2])]  # as written, not as a float prints
    elif place:
        form.append(("address_string", place))
    if "address_id" in contact and enquiry.constituent.uprn:
        form.append(("address_id", enquiry.constituent.uprn))
    if not form and mapping.fallback_address:
        form.append(("address_string", mapping.fallback_address))
    if not form:
        raise PermanentError(f"enquiry {enquiry.reference} has no location, and Open311 needs "
                             "one: add the location to the enquiry, or set fallback_address "
                             "in mappings/open311.yaml")
    return form


def contact_form(enquiry: Enquiry, contact: tuple[ContactField, ...]) -> list[tuple[str, str]]:
    """Only the constituent details the council allows to leave (``contact_fields``)."""
    person = enquiry.constituent
    first, _, last = person.name.strip().rpartition(" ")
    values = {"email": person.email, "phone": person.phone,
              "first_name": first or last, "last_name": last if first else ""}
    return [(name, str(values[name])) for name in contact
            if name != "address_id" and values.get(name)]


def request_form(mapping: Open311Mapping, spec: ServiceSpec, enquiry: Enquiry,
                 destination: ServiceDestination,
                 contact: tuple[ContactField, ...]) -> list[tuple[str, str]]:
    """The form of ``POST requests`` for the enquiry (without api_key / jurisdiction_id)."""
    values = template_values(enquiry, destination)
    form: list[tuple[str, str]] = [("service_code", spec.code)]
    form += location_form(mapping, enquiry, contact)
    form.append(("description", _description(mapping, values)))
    form += contact_form(enquiry, contact)
    for code, template in mapping.attributes_for(spec).items():
        value = template.format_map(values).strip()
        if value:
            form.append((f"attribute[{code}]", value))
    return form


def _description(mapping: Open311Mapping, values: dict[str, str]) -> str:
    text = mapping.description.format_map(values).strip()
    marker = mapping.marker_text(values["id"])
    if marker is None:
        return text[:DESCRIPTION_LIMIT]
    room = DESCRIPTION_LIMIT - len(marker) - 2
    return f"{text[:room].rstrip()}\n\n{marker}"


def has_marker(mapping: Open311Mapping, request: Any, enquiry_id: str) -> bool:
    """Does a request (as GET requests lists it) carry the enquiry's marker? The
    description line, or the marker attribute where the server lists attributes."""
    return marked_id(mapping, request) == enquiry_id.lower()


def note_text(mapping: Open311Mapping, note: Note) -> str:
    heading = mapping.note_headings.get(note.kind, "Note from {author}")
    return f"{heading.format(author=note.author)}\n\n{note.text}\n\n{mapping.note_marker}"


_UUID = r"([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})"


def marked_id(mapping: Open311Mapping, request: Any) -> str | None:
    """The enquiry id a request's marker carries (description line or attribute), if any."""
    if not isinstance(request, dict):
        return None
    template = mapping.marker.description
    if template is not None:
        before, _, after = template.partition("{id}")
        found = re.search(re.escape(before) + _UUID + re.escape(after),
                          str(request.get("description") or ""))
        if found:
            return found[1].lower()
    if mapping.marker.attribute:
        attributes = request.get("attributes") or request.get("attribute")
        if isinstance(attributes, dict) and attributes.get(mapping.marker.attribute):
            return str(attributes[mapping.marker.attribute])
    return None
