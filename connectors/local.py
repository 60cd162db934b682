"""The ``local`` connector: the bridge's own embedded case store, the default CRM.

Wire and mapping are kept apart as for every connector: ``LocalCaseStore`` is
the 'CRM'; this module maps enquiries onto its cases through
``mappings/local.yaml`` and reports its changes as ``CaseUpdate``s.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from connectors.base import (
    BaseMapping,
    CaseRef,
    CaseSnapshot,
    CaseUpdate,
    ConnectorContext,
    Note,
    OutgoingAttachment,
)
from connectors.local_store import LocalCase, LocalCaseStore
from crm_bridge.errors import NotFoundError, PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination

__all__ = ["LocalConnector", "LocalMapping", "LocalSettings"]

log = logging.getLogger(__name__)


class LocalSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str = Field(default="local-crm.db", description="the case store's SQLite file")


class LocalMapping(BaseMapping):
    """Statuses, plus which constituent details go into the case body."""

    title: str = "{reference}: {category}"
    constituent_fields: list[str] = Field(default_factory=lambda: ["name", "postcode"])
    # The first line of a note of each kind (a follow-up has none: the desk shows who wrote
    # it), so an officer tells a linked or unlinked enquiry from a follow-up.
    note_headings: dict[str, str] = Field(default_factory=lambda: {
        "duplicate_link": "Linked enquiry", "duplicate_unlink": "Enquiry unlinked"})


class LocalConnector:
    """Opens cases in the embedded store; service officers work them with `crm-bridge officer`."""

    name: ClassVar[str] = "local"
    Settings: ClassVar[type[BaseModel]] = LocalSettings
    Mapping: ClassVar[type[BaseMapping]] = LocalMapping

    def __init__(self, settings: LocalSettings, context: ConnectorContext) -> None:
        path = context.base_dir / settings.path
        self.mapping: LocalMapping = context.mapping  # type: ignore[assignment]
        try:
            self.store = LocalCaseStore(path)
        except Exception as exc:  # the file system is this 'CRM's transport
            raise TransientError(f"local case store {path} cannot be opened: {exc}") from exc

    # -- the Connector protocol -------------------------------------------------------------
    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef:
        """``fresh`` changes nothing here: the case store's own unique key on the external
        reference makes its look-up part of the insert."""
        fields = {
            "reference": enquiry.reference,
            "category": enquiry.category_id,
            "location": enquiry.location or "",
            "service": destination.name,
        }
        try:
            title = self.mapping.title.format(**fields)
        except (KeyError, IndexError) as exc:
            raise PermanentError(f"mapping title uses an unknown field {exc}") from None
        case, created = self.store.create(
            str(enquiry.id), destination.crm_target, title, self._body(enquiry),
            due=enquiry.target_date.isoformat(),
        )
        log.info("local create_case %s -> %s (created=%s)", enquiry.reference, case.case_ref,
                 created)
        return CaseRef(case.case_ref, created=created)

    def add_note(self, case_ref: str, note: Note) -> None:
        try:
            heading = self.mapping.note_headings.get(note.kind)
            text = f"{heading}:\n\n{note.text}" if heading else note.text
            self.store.add_note(case_ref, text, note.author)
        except NotFoundError as exc:
            raise PermanentError(str(exc)) from None
        log.info("local add_note %s", case_ref)

    def get_case(self, case_ref: str) -> CaseSnapshot:
        try:
            case = self.store.get(case_ref)
        except NotFoundError as exc:
            raise PermanentError(str(exc)) from None
        return _snapshot(case)

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate]:
        start = int(since) if since and since.isdigit() else 0
        for event in self.store.events_since(start):
            yield CaseUpdate(
                event_id=f"local-{event.seq}",
                case_ref=event.case_ref,
                external_ref=event.external_ref,
                occurred_at=event.at,
                cursor=str(event.seq),
                crm_status=event.status,
                response=event.body if event.kind == "response" else None,
                actor=event.actor,
            )

    def health(self) -> None:
        self.store.queue(include_done=False)

    def close(self) -> None:
        self.store.close()

    # -- files on a case (an optional capability: SendsAttachments) --------------------------
    def add_attachment(self, case_ref: str, attachment: OutgoingAttachment) -> str | None:
        try:
            ref, created = self.store.add_file(
                case_ref, attachment.key, attachment.filename, attachment.content_type,
                attachment.data, attachment.sha256, "bridge")
        except NotFoundError as exc:
            raise PermanentError(str(exc)) from None
        log.info("local add_attachment %s -> %s (created=%s)", case_ref, ref, created)
        return ref

    # -- anonymising a case (an optional capability: CaseAnonymiser) ------------------------
    def anonymise_case(self, case_ref: str) -> None:
        try:
            self.store.anonymise(case_ref)
        except NotFoundError as exc:
            raise PermanentError(str(exc)) from None
        log.info("local anonymise_case %s", case_ref)

    # -- the officer desk (an optional capability) ------------------------------------------
    def desk(self) -> LocalCaseStore:
        return self.store

    def _body(self, enquiry: Enquiry) -> str:
        person: dict[str, Any] = enquiry.constituent.model_dump()
        lines = [enquiry.description, ""]
        if enquiry.location:
            lines.append(f"Location: {enquiry.location}")
        for field in self.mapping.constituent_fields:
            if person.get(field):
                lines.append(f"Constituent {field}: {person[field]}")
        lines.append(f"Response due by: {enquiry.target_date.isoformat()}")
        lines.append(f"Bridge reference: {enquiry.reference}")
        return "\n".join(lines)


def _snapshot(case: LocalCase) -> CaseSnapshot:
    return CaseSnapshot(case.case_ref, case.external_ref, case.status, case.response,
                        case.updated_at)
