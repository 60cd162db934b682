"""The one interface every CRM adapter implements, and the values that cross it.

Core code never imports a concrete connector: it finds one by name through the
``crm_bridge.connectors`` entry-point group (``crm_bridge.registry``). A
connector raises only the errors in ``crm_bridge.errors``:

    ConnectorError
    ├── TransientError   retry later (refused, timeout, 5xx, 429)
    ├── PermanentError   the CRM refused the data; show why, do not retry
    └── AuthError        credentials refused; stop the run
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from crm_bridge.errors import AuthError, ConnectorError, PermanentError, TransientError
from crm_bridge.models import Enquiry, ServiceDestination, Status

__all__ = [
    "AuthError",
    "BaseMapping",
    "CaseAnonymiser",
    "CaseRef",
    "CaseSnapshot",
    "CaseUpdate",
    "Connector",
    "ConnectorContext",
    "ConnectorError",
    "CursorMark",
    "Finding",
    "HasOfficerDesk",
    "Note",
    "OutgoingAttachment",
    "PermanentError",
    "SendsAttachments",
    "SupportsSetup",
    "TransientError",
]


class BaseMapping(BaseModel):
    """``mappings/<connector>.yaml``: CRM statuses → bridge statuses, and field choices.

    A connector that needs more (queues, classification codes) subclasses this;
    unknown keys are refused like everywhere else in configuration.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    connector: str
    statuses: dict[str, Status]

    def bridge_status(self, crm_status: str) -> Status | None:
        """The bridge status for ``crm_status``; None when the mapping does not know it."""
        return self.statuses.get(crm_status) or self.statuses.get(crm_status.lower())


@dataclass(frozen=True)
class ConnectorContext:
    """What a connector is given besides its settings."""

    base_dir: Path
    mapping: BaseMapping
    council_name: str = ""


@dataclass(frozen=True)
class CaseRef:
    """The CRM's own reference for the case opened for an enquiry."""

    id: str
    created: bool = True  # False when an existing case was found by external reference


@dataclass(frozen=True)
class Note:
    """A follow-up or a link to a duplicate, added to the CRM case as a note."""

    text: str
    author: str
    kind: str = "follow_up"  # follow_up | duplicate_link | duplicate_unlink
    # The same on every try of one outbox row, and on no other: what a CRM that honours
    # idempotency keys needs to take a repeat as the same request. None: no stable key.
    key: str | None = None


@dataclass(frozen=True)
class CaseSnapshot:
    case_ref: str
    external_ref: str | None
    crm_status: str
    response: str | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class CaseUpdate:
    """One change in the CRM since the cursor: a new status, a response, or both.

    ``event_id`` is unique per change within the CRM, so applying it twice is
    detectable; ``cursor`` is what to pass back as ``since`` to resume after it.
    """

    event_id: str
    case_ref: str
    external_ref: str | None
    occurred_at: datetime
    cursor: str
    crm_status: str | None = None
    response: str | None = None
    actor: str = ""
    attachments: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class CursorMark:
    """Yielded by ``fetch_updates`` between updates (or alone): everything up to ``cursor``
    has been read and there is nothing more to apply before it. Pull stores it with the
    updates read so far, so a read that fails later resumes from here, and a CRM with
    nothing new can still move the cursor past the bridge's own changes."""

    cursor: str


@dataclass(frozen=True)
class OutgoingAttachment:
    """A file (a photo, EXIF already stripped) to put on the CRM case.

    ``key`` is the same on every try for one attachment and on no other, so a connector
    can tell a repeat (after a dropped reply) from a new file."""

    filename: str
    content_type: str
    data: bytes
    sha256: str
    key: str


@runtime_checkable
class Connector(Protocol):
    """A CRM adapter. ``create_case`` must be idempotent by the enquiry's id.

    ``fresh=True`` promises that no earlier call for this enquiry can have reached the CRM
    (push wrote and committed an attempt-started marker first, and found none before it), so
    the connector may skip its look-up by external reference; ``False`` (a retry, or a
    caller that cannot tell) must look the case up first.
    """

    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]
    Mapping: ClassVar[type[BaseMapping]]

    def create_case(self, enquiry: Enquiry, destination: ServiceDestination, *,
                    fresh: bool = False) -> CaseRef: ...

    def add_note(self, case_ref: str, note: Note) -> None: ...

    def get_case(self, case_ref: str) -> CaseSnapshot: ...

    def fetch_updates(self, since: str | None) -> Iterator[CaseUpdate | CursorMark]: ...

    def health(self) -> None: ...

    def close(self) -> None: ...


@runtime_checkable
class HasOfficerDesk(Protocol):
    """Optional capability: a CRM whose cases officers can work from the bridge's CLI
    (only the embedded store; in a real CRM officers use the CRM itself)."""

    def desk(self) -> Any: ...


@dataclass(frozen=True)
class Finding:
    """One line of `crm-bridge connector check` / `setup`, worded for the IT admin who acts on it.

    ``subject`` names what was looked at ("queue 'Roads'"); ``detail`` says what was
    found or done and, when ``ok`` is False, what to do about it.
    """

    subject: str
    ok: bool
    detail: str
    changed: bool = False  # setup created or changed it


@runtime_checkable
class SupportsSetup(Protocol):
    """Optional capability: a CRM that must hold things before cases can be opened in it
    (queues, custom fields, case types), which the bridge can check and, where the CRM's
    API allows, create. Both are safe to repeat; neither touches existing cases."""

    def check(self, destinations: Sequence[ServiceDestination]) -> list[Finding]: ...

    def setup(self, destinations: Sequence[ServiceDestination]) -> list[Finding]: ...


@runtime_checkable
class SendsAttachments(Protocol):
    """Optional capability: a CRM that can carry files on a case. ``add_attachment`` must
    be safe to repeat with the same ``attachment.key``; it returns the CRM's own reference
    or link for the file when it has one."""

    def add_attachment(self, case_ref: str, attachment: OutgoingAttachment) -> str | None: ...


@runtime_checkable
class CaseAnonymiser(Protocol):
    """Optional capability: a CRM in which the bridge may remove a case's personal data
    (its text, notes and response), keeping the case itself, its queue, status and dates.

    Used by `crm-bridge sar erase`, and by `crm-bridge purge` when ``retention.crm`` is
    ``anonymise``. Anonymising a case twice is harmless. A CRM without it is told by
    people: the bridge lists the cases to action there."""

    def anonymise_case(self, case_ref: str) -> None: ...


class ConnectorFactory(Protocol):
    """The class registered under the entry point: builds a connector from validated settings."""

    name: ClassVar[str]
    Settings: ClassVar[type[BaseModel]]
    Mapping: ClassVar[type[BaseMapping]]

    def __call__(self, settings: Any, context: ConnectorContext) -> Connector: ...
