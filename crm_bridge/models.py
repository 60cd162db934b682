"""Domain models: who the members are, where enquiries go, and the enquiry itself.

The same models validate the council's YAML (members, wards, categories,
services) and the data that flows through the bridge (enquiries, history).
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

__all__ = [
    "ID_PATTERN",
    "OPEN_STATUSES",
    "Category",
    "Channel",
    "Consent",
    "Constituent",
    "Enquiry",
    "HistoryEvent",
    "Identifier",
    "Member",
    "Role",
    "ServiceDestination",
    "Status",
    "Ward",
]

ID_PATTERN = r"^[a-z0-9][a-z0-9_-]*$"
Identifier = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=ID_PATTERN),
]
"""Lower-case ids used in config and on the command line: ``roads``, ``cllr-ann-smith``."""

Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


def _check_email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise ValueError("must be an e-mail address like name@council.gov.uk")
    return value


Email = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_email)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Role(StrEnum):
    COUNCILLOR = "councillor"
    MP = "mp"
    MSP = "msp"
    MEP = "mep"


class Channel(StrEnum):
    """How the constituent reached the member."""

    SURGERY = "surgery"
    EMAIL = "email"
    PHONE = "phone"
    LETTER = "letter"
    IN_PERSON = "in_person"


class Status(StrEnum):
    """Lifecycle: logged → sent → acknowledged → in_progress → responded → closed."""

    LOGGED = "logged"
    SENT = "sent"
    ACKNOWLEDGED = "acknowledged"
    IN_PROGRESS = "in_progress"
    RESPONDED = "responded"
    CLOSED = "closed"
    FAILED_TO_SEND = "failed_to_send"


OPEN_STATUSES = frozenset(
    {Status.LOGGED, Status.SENT, Status.ACKNOWLEDGED, Status.IN_PROGRESS, Status.FAILED_TO_SEND}
)
"""Statuses in which the service still owes a response."""


class Member(_Frozen):
    """An elected member: councillors belong to one ward; MPs, MSPs and MEPs to none."""

    id: Identifier
    name: Text
    role: Role
    email: Email | None = None
    party: str | None = None
    notify: str = Field(default="immediately", pattern="^(immediately|daily|never)$")


class Ward(_Frozen):
    """A multi-member ward: usually three or four councillors."""

    id: Identifier
    name: Text
    members: list[Identifier] = Field(min_length=1)


class ServiceDestination(_Frozen):
    """Where a category's enquiries go in the CRM, and how fast the service must answer."""

    id: Identifier
    name: Text
    crm_target: Text = Field(description="queue, case type or classification in the CRM")
    response_days: int = Field(ge=1, le=120, description="working days to respond")
    warning_days: int | None = Field(
        default=None, ge=0, le=60, description="working days before target for the heads-up"
    )
    escalation_days: int = Field(
        default=5, ge=0, le=60, description="working days after target before escalation"
    )
    contact: Email
    escalation_contact: Email | None = None


class Category(_Frozen):
    """A drop-down choice; routes to a service, optionally to another one in some wards."""

    id: Identifier
    label: Text
    service: Identifier
    ward_services: dict[Identifier, Identifier] = Field(default_factory=dict)


class Consent(_Frozen):
    """The constituent's answer on sharing with the ward's other members, and who took it when."""

    to_share: bool
    recorded_by: Text
    recorded_at: datetime


class Constituent(_Frozen):
    name: Text
    address: str | None = None
    postcode: str | None = None
    email: Email | None = None
    phone: str | None = None
    uprn: str | None = Field(default=None, pattern=r"^\d{1,12}$")

    @field_validator("postcode")
    @classmethod
    def _normalise_postcode(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        compact = re.sub(r"\s+", "", value).upper()
        if not re.fullmatch(r"[A-Z]{1,2}[0-9][A-Z0-9]?[0-9][A-Z]{2}", compact):
            raise ValueError("must be a UK postcode like FK10 1EB")
        return f"{compact[:-3]} {compact[-3:]}"


class HistoryEvent(_Frozen):
    at: datetime
    event: str
    actor: str
    detail: str = ""
    status: Status | None = None


class Enquiry(_Frozen):
    """One constituent's enquiry as the bridge holds it."""

    id: uuid.UUID
    reference: str = Field(pattern=r"^[A-Z]{2,6}-\d{4}-\d{6}$")
    member_id: Identifier
    logged_by: Text
    channel: Channel
    constituent: Constituent
    consent: Consent
    category_id: Identifier
    service_id: Identifier
    ward_id: Identifier | None
    description: Text
    location: str | None = None
    received_at: datetime
    target_date: date
    warning_date: date
    status: Status
    crm_ref: str | None = None
    response: str | None = None
    responded_at: datetime | None = None
    closed_at: datetime | None = None
    overdue: bool = False
    failure_reason: str | None = None
    linked: list[str] = Field(default_factory=list)
    history: list[HistoryEvent] = Field(default_factory=list)
    purged_at: datetime | None = None  # personal data removed (retention or erasure)
    archived_at: datetime | None = None  # archived when its member left office
