"""Taking in an enquiry: validate against the council's config, route, store with its outbox row.

The portal, the CLI and the API all come through ``log_enquiry``, so the same
rules apply everywhere and the enquiry is durable before anyone is told its
reference: it never waits for the CRM.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from sqlalchemy import Engine, select

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import InputError
from crm_bridge.models import (
    Channel,
    Consent,
    Constituent,
    Enquiry,
    Identifier,
    Role,
    Status,
    Text,
)
from crm_bridge.routing import Router
from crm_bridge.store.enquiries import add_history, insert_enquiry, next_number
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.tables import member_departures
from crm_bridge.suggest import unknown

__all__ = ["EARLIEST_RECEIVED", "EnquiryDraft", "draft_from", "log_enquiry", "prepare_enquiry"]


class EnquiryDraft(BaseModel):
    """What a member (or staff on their behalf) fills in; aim: under a minute."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    member_id: Identifier
    category_id: Identifier
    description: Text = Field(max_length=10_000)
    constituent: Constituent
    consent_to_share: bool
    channel: Channel = Channel.EMAIL
    location: str | None = Field(default=None, max_length=500)
    ward_id: Identifier | None = None
    received_at: datetime | None = None
    logged_by: Text

    @field_validator("received_at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a timezone, e.g. 2026-07-01T09:30+01:00")
        return value


# The earliest day of receipt accepted: no council's caseload predates it, and a typo such as
# 0001-01-01 or 1899 would otherwise be routed (or overflow the timezone arithmetic).
EARLIEST_RECEIVED = datetime(2000, 1, 1)


def draft_from(data: dict[str, object]) -> EnquiryDraft:
    """Build a draft from form or flag values, turning pydantic's errors into InputError."""
    try:
        return EnquiryDraft.model_validate(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        field = ".".join(str(part) for part in first["loc"])
        message = first["msg"].removeprefix("Value error, ")
        raise InputError(field, message) from None


def prepare_enquiry(
    draft: EnquiryDraft, config: CouncilConfig, router: Router, now: datetime
) -> Enquiry:
    """Check the draft against the config and compute its route; pure, nothing stored.

    The reference is a placeholder until ``log_enquiry`` takes a number in the transaction.
    """
    fields, _ = _checked(draft, config, router, now)
    year = (draft.received_at or now).year
    return Enquiry(reference=f"{config.council.reference_prefix}-{year:04d}-000000", **fields)


def _checked(
    draft: EnquiryDraft, config: CouncilConfig, router: Router, now: datetime
) -> tuple[dict[str, Any], date]:
    """The enquiry's fields but its reference, and its council-local day of receipt."""
    member = config.member(draft.member_id)
    if member is None:
        raise InputError("member", unknown("member", draft.member_id,
                                           [m.id for m in config.members]))
    ward_id = draft.ward_id
    own_ward = config.ward_of(member.id)
    if ward_id is None and own_ward is not None:
        ward_id = own_ward.id
    if ward_id is not None and config.ward(ward_id) is None:
        raise InputError("ward", unknown("ward", ward_id, [w.id for w in config.wards]))
    if member.role is Role.COUNCILLOR and own_ward is not None and ward_id != own_ward.id:
        raise InputError(
            "ward", f"{member.name} is a councillor for '{own_ward.id}', not '{ward_id}'"
        )
    received_at = draft.received_at or now
    if received_at.replace(tzinfo=None) < EARLIEST_RECEIVED:  # wall time: no overflow at year 1
        raise InputError("received_at", f"is before {EARLIEST_RECEIVED:%Y-%m-%d}, the earliest "
                         "accepted: give when the enquiry was received")
    if received_at > now:
        raise InputError("received_at", "is in the future: give when the enquiry was received")
    route = router.route(draft.category_id, ward_id, received_at)
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "member_id": member.id,
        "logged_by": draft.logged_by,
        "channel": draft.channel,
        "constituent": draft.constituent,
        "consent": Consent(to_share=draft.consent_to_share, recorded_by=draft.logged_by,
                           recorded_at=now),
        "category_id": draft.category_id,
        "service_id": route.service.id,
        "ward_id": ward_id,
        "description": draft.description,
        "location": draft.location or None,
        "received_at": received_at.astimezone(UTC),
        "target_date": route.target_date,
        "warning_date": route.warning_date,
        "status": Status.LOGGED,
    }
    return fields, route.received_on


def log_enquiry(
    engine: Engine, config: CouncilConfig, router: Router, draft: EnquiryDraft,
    now: datetime | None = None,
) -> Enquiry:
    """Validate, route and store the enquiry with its outbox row in one transaction."""
    now = now or datetime.now(UTC)
    # Checked before a reference number is taken, so a refused draft uses none (the
    # enquiry is built once, with its number: a failure then rolls the number back too).
    fields, received_on = _checked(draft, config, router, now)
    year = received_on.year
    with engine.begin() as conn:
        left = conn.execute(select(member_departures.c.left_at).where(
            member_departures.c.member_id == draft.member_id)).scalar_one_or_none()
        if left is not None:
            member = config.member(draft.member_id)
            raise InputError("member", f"{member.name if member else draft.member_id} left "
                             f"office on {left:%d %b %Y}: log it for the member who now "
                             "represents the constituent")
        number = next_number(conn, f"reference-{year}")
        reference = f"{config.council.reference_prefix}-{year:04d}-{number:06d}"
        enquiry = Enquiry(reference=reference, **fields)
        insert_enquiry(conn, enquiry, now)
        add_history(conn, str(enquiry.id), now, "logged", draft.logged_by,
                    _routed(config, enquiry),
                    Status.LOGGED)
        enqueue(conn, str(enquiry.id), "create_case", {}, now)
    return enquiry


def _routed(config: CouncilConfig, enquiry: Enquiry) -> str:
    """The 'logged' history line, in the words members read on the enquiry page."""
    service = config.service(enquiry.service_id)
    name = service.name if service else enquiry.service_id
    return f"sent to {name}; response due by {enquiry.target_date:%a %-d %b %Y}"
