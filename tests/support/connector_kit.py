"""What connector tests share: a valid enquiry to send, and a port where no CRM listens."""

from __future__ import annotations

import random
import socket
import uuid
from datetime import UTC, date, datetime
from typing import Any

from crm_bridge.models import (
    Channel,
    Consent,
    Constituent,
    Enquiry,
    ServiceDestination,
    Status,
)

__all__ = ["NOW", "closed_port", "make_enquiry"]

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def make_enquiry(destination: ServiceDestination, **changes: Any) -> Enquiry:
    """A valid enquiry for ``destination`` with a fresh id and reference."""
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "reference": f"ENQ-2026-{random.randrange(10**6):06d}",
        "member_id": "cllr-kirsty-dalgleish",
        "logged_by": "members.services",
        "channel": Channel.SURGERY,
        "constituent": Constituent(name="Jean Paterson", address="12 Main Street",
                                   postcode="FK13 6AA", email="jean.paterson@example.com"),
        "consent": Consent(to_share=True, recorded_by="members.services", recorded_at=NOW),
        "category_id": "pothole",
        "service_id": destination.id,
        "ward_id": "clacks-north",
        "description": "Deep pothole outside the primary school gates",
        "location": "Main Street, Tillicoultry",
        "received_at": NOW,
        "target_date": date(2026, 11, 16),
        "warning_date": date(2026, 11, 12),
        "status": Status.LOGGED,
    }
    fields.update(changes)
    return Enquiry(**fields)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then let go)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
