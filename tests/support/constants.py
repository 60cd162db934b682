"""Values several test modules share (kept out of conftest, which pytest may import under
another name when there is more than one)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
"""A Monday; the roads service's 10 working days from it end on Monday 16 November 2026."""

DRAFT_DEFAULTS: dict[str, Any] = {
    "member_id": "cllr-kirsty-dalgleish",
    "category_id": "pothole",
    "description": "Deep pothole outside the primary school gates",
    "location": "Main Street, Tillicoultry",
    "constituent": {
        "name": "Jean Paterson",
        "address": "12 Main Street, Tillicoultry",
        "postcode": "fk13 6aa",
        "email": "jean.paterson@example.com",
        "phone": "01259 000000",
    },
    "consent_to_share": True,
    "channel": "surgery",
    "logged_by": "members.services",
}
