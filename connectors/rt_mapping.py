"""How enquiries become RT tickets and RT's history becomes bridge updates (``mappings/rt.yaml``).

Nothing here talks to RT (``connectors/rt_client.py`` does): these are pure
functions from the bridge's models to RT's JSON and from RT's transactions to
``CaseUpdate``s, so each rule can be read, and tested, on its own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, timedelta
from html.parser import HTMLParser
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.base import BaseMapping, Note
from connectors.rt_client import TicketRow, Txn
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = [
    "BRIDGE_FIELDS",
    "CustomFieldSpec",
    "RtMapping",
    "Unit",
    "html_to_text",
    "note_text",
    "ticket_payload",
    "units_from_history",
]

BridgeField = Literal["reference", "external_id", "member", "ward", "category", "service",
                      "channel", "location", "target_date", "received"]
BRIDGE_FIELDS: tuple[str, ...] = BridgeField.__args__  # type: ignore[attr-defined]
ConstituentField = Literal["name", "address", "postcode", "email", "phone", "uprn"]

SUBJECT_FIELDS = ("reference", "category", "location", "service", "member", "ward")

# RT's scrip 'On Correspond Open Inactive Tickets' runs as RT_System a moment after the reply.
_SYSTEM_USER = "RT_System"
_FOLD_WITHIN = timedelta(seconds=5)


_NAME_ONLY: list[ConstituentField] = ["name"]


class CustomFieldSpec(BaseModel):
    """One RT ticket custom field the bridge fills in."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=200)
    type: Literal["Freeform", "Date", "DateTime"] = "Freeform"
    description: str = ""

    @field_validator("name")
    @classmethod
    def _searchable(cls, value: str) -> str:
        """TicketSQL quotes names as 'CF.{name}': braces or quotes would break the search."""
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9 _.,()/&-]*", value):
            raise ValueError("may use only letters, digits, spaces and _ . , ( ) / & - "
                             "(RT's searches cannot name a field with braces or quotes)")
        return value


class RtMapping(BaseMapping):
    """``mappings/rt.yaml``: statuses, the ticket's subject and body, and its custom fields."""

    subject: str = "{reference}: {category}"
    custom_fields: dict[BridgeField, CustomFieldSpec]
    constituent_fields: list[ConstituentField] = Field(default_factory=lambda: _NAME_ONLY.copy())
    note_headings: dict[str, str] = Field(default_factory=lambda: {
        "follow_up": "Follow-up from {author}",
        "duplicate_link": "Linked enquiry, noted by {author}",
        "duplicate_unlink": "Enquiry unlinked, noted by {author}",
    })

    @field_validator("subject")
    @classmethod
    def _known_subject_fields(cls, value: str) -> str:
        try:
            value.format(**{name: "x" for name in SUBJECT_FIELDS})
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"unknown field {exc} in the subject: use "
                             + ", ".join("{" + f + "}" for f in SUBJECT_FIELDS)) from None
        return value

    @field_validator("note_headings")
    @classmethod
    def _known_note_fields(cls, value: dict[str, str]) -> dict[str, str]:
        for kind, heading in value.items():
            try:
                heading.format(author="x")
            except (KeyError, IndexError, ValueError) as exc:
                raise ValueError(f"unknown field {exc} in the {kind} heading: only "
                                 "{author} is known") from None
        return value

    @model_validator(mode="after")
    def _external_id_present(self) -> RtMapping:
        if "external_id" not in self.custom_fields:
            raise ValueError("custom_fields needs external_id: the bridge finds its tickets "
                             "by it, so a re-run never opens a second ticket")
        names = [spec.name for spec in self.custom_fields.values()]
        doubled = sorted({n for n in names if names.count(n) > 1})
        if doubled:
            raise ValueError(f"custom_fields gives the RT name {doubled[0]!r} to two fields")
        return self

    @property
    def external_id_field(self) -> str:
        return self.custom_fields["external_id"].name


# -- bridge → RT ---------------------------------------------------------------------------------


def _field_values(enquiry: Enquiry, destination: ServiceDestination) -> dict[str, str | None]:
    return {
        "reference": enquiry.reference,
        "external_id": str(enquiry.id),
        "member": enquiry.member_id,
        "ward": enquiry.ward_id,
        "category": enquiry.category_id,
        "service": destination.id,
        "channel": enquiry.channel.value,
        "location": enquiry.location,
        "target_date": enquiry.target_date.isoformat(),
        "received": enquiry.received_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S"),
    }


def ticket_payload(mapping: RtMapping, enquiry: Enquiry, destination: ServiceDestination,
                   constituent_as_requestor: bool) -> dict[str, Any]:
    """The JSON for ``POST /ticket``; the enquiry's text is the ticket's first message."""
    values = _field_values(enquiry, destination)
    subject = mapping.subject.format(**{k: values[k] or "" for k in SUBJECT_FIELDS})
    payload: dict[str, Any] = {
        "Queue": destination.crm_target,
        "Subject": " ".join(subject.split()).strip(" -:,")[:200] or enquiry.reference,
        "Content": _body(mapping, enquiry, values),
        "ContentType": "text/plain",
        "CustomFields": {spec.name: values[field] for field, spec in mapping.custom_fields.items()
                         if values[field]},
    }
    if constituent_as_requestor and enquiry.constituent.email:
        payload["Requestor"] = enquiry.constituent.email
    return payload


def _body(mapping: RtMapping, enquiry: Enquiry, values: dict[str, str | None]) -> str:
    person = enquiry.constituent.model_dump()
    lines = [enquiry.description, ""]
    if enquiry.location:
        lines.append(f"Location: {enquiry.location}")
    for field in mapping.constituent_fields:
        if person.get(field):
            lines.append(f"Constituent {field}: {person[field]}")
    lines.append(f"Response due by: {values['target_date']}")
    lines.append(f"Bridge reference: {enquiry.reference}")
    return "\n".join(lines)


def note_text(mapping: RtMapping, note: Note) -> str:
    heading = mapping.note_headings.get(note.kind, "{author}").format(author=note.author)
    return f"{heading}:\n\n{note.text}"


# -- RT → bridge ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Unit:
    """One officer action in RT, as one update: a reply, a status change, or a reply with the
    status change RT made because of it (folded, so the bridge never sees 'open' after the
    reply and moves a responded enquiry back to in progress)."""

    ticket: TicketRow
    txn: Txn                      # the transaction that names the update (event id, time)
    status: str | None = None
    reply: Txn | None = None      # a Correspond whose text is the response

    @property
    def event_id(self) -> str:
        return f"rt-{self.txn.id}"


def _is_status(txn: Txn) -> bool:
    return txn.type == "Status" or (txn.type == "Set" and txn.field == "Status")


def units_from_history(ticket: TicketRow, txns: Iterable[Txn]) -> list[Unit]:
    """Status changes and the service's replies, oldest first.

    A reply by one of the ticket's requestors is the constituent writing in (only
    possible when they are the requestor), not the service's response, so it is left out.
    """
    requestors = {ref.id.lower() for ref in ticket.requestors}
    ordered = sorted(txns, key=lambda t: int(t.id))
    units: list[Unit] = []
    for txn in ordered:
        if txn.type == "Correspond" and txn.creator.id.lower() not in requestors:
            units.append(Unit(ticket, txn, reply=txn))
        elif _is_status(txn) and txn.new_value:
            last = units[-1] if units else None
            if (last is not None and last.reply is not None and last.status is None
                    and txn.creator.id == _SYSTEM_USER
                    and txn.created - last.txn.created <= _FOLD_WITHIN):
                units[-1] = Unit(ticket, last.txn, status=txn.new_value, reply=last.reply)
            else:
                units.append(Unit(ticket, txn, status=txn.new_value))
    return units


def pick_body(parts: Sequence[tuple[str, str, str]]) -> tuple[str, str] | None:
    """From (id, filename, content type) parts, the message body: plain text, else HTML."""
    for wanted in ("text/plain", "text/html"):
        for part_id, filename, content_type in parts:
            if not filename and content_type.lower() == wanted:
                return part_id, wanted
    return None


class _Text(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "blockquote"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("script", "style"):
            self._skip += 1
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip = max(0, self._skip - 1)
        elif tag in self._BREAKS:
            self.out.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.out.append(data)


def html_to_text(html: str) -> str:
    """RT's web editor sends HTML replies; members read the response as plain text."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    lines = [" ".join(line.split()) for line in "".join(parser.out).splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
