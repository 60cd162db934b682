"""A small hand-made caseload with known report figures, written straight into the store.

November 2026 (St Andrew's Day, Monday 30 November, is a Scottish bank holiday), with
October before it; ``NOW`` is 10 December 2026. The figures the tests expect are worked out
by hand in the comments.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Engine

from crm_bridge.store.tables import enquiries

__all__ = ["NOW", "PERSONAL", "add_caseload", "row"]

NOW = datetime(2026, 12, 10, 12, 0, tzinfo=UTC)
PERSONAL = ("Marion Quarrie", "marion.quarrie@example.com", "01259 765432", "FK10 9ZZ",
            "Broken swing at the play park")
_counter = iter(range(1, 10_000))


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def row(received: str, *, target: str, member: str = "cllr-kirsty-dalgleish",
        ward: str | None = "clacks-north", category: str = "pothole", service: str = "roads",
        responded: str | None = None, closed: str | None = None, status: str | None = None,
        channel: str = "surgery", location: str | None = "Main Street, Tillicoultry",
        extension_days: int = 0) -> dict[str, Any]:
    """One enquiries row; instants are UTC ('2026-11-02T09:00')."""
    number = next(_counter)
    name, email, phone, postcode, description = PERSONAL
    received_at = _at(received)
    if status is None:
        status = "closed" if closed else ("responded" if responded else "in_progress")
    return {
        "id": str(uuid.uuid4()), "reference": f"ENQ-2026-{number:06d}", "member_id": member,
        "logged_by": "members.services", "channel": channel, "constituent_name": name,
        "constituent_postcode": postcode, "constituent_email": email,
        "constituent_phone": phone, "consent_to_share": True,
        "consent_recorded_by": "members.services", "consent_recorded_at": received_at,
        "category_id": category, "service_id": service, "ward_id": ward,
        "description": description, "location": location, "received_at": received_at,
        "target_date": date.fromisoformat(target), "warning_date": date.fromisoformat(target),
        "status": status, "responded_at": _at(responded) if responded else None,
        "closed_at": _at(closed) if closed else None, "overdue": False,
        "extension_days": extension_days, "created_at": received_at,
        "updated_at": received_at,
    }


def add_caseload(engine: Engine) -> None:
    """November 2026, by hand:

    A  Thu 26 Nov, answered Tue 1 Dec: 2 working days (Fri 27; Mon 30 is a bank holiday;
       Tue 1); target 3 Dec, so on time; closed 2 Dec, so open at the end of November.
    B  Mon 2 Nov, answered Mon 16 Nov: 10 days, on its target; closed 17 Nov.
    C  Tue 3 Nov, answered Fri 20 Nov: 13 days, target 17 Nov, late; closed 20 Nov.
    D  Wed 4 Nov, no answer, target 18 Nov: overdue now; open at the end.
    E  MP's, no ward, Mon 9 Nov, answered Wed 11 Nov (23:30 UTC, still the 11th in GMT):
       2 days; target 23 Nov after a 5-day extension, so on time; closed 12 Nov.

    Received 5; closed at end 3, open 2; answered 4 in 2, 2, 10, 13 working days (median 2,
    90th percentile 13); due 5, within target 3 (60.0%); overdue now 1; councillors 4, MP 1.
    October: two (one received 30 Sep 23:30 UTC, which is 1 Oct 00:30 BST), and one on
    30 Sep 22:30 UTC (23:30 BST, September) that is in neither.
    """
    rows = [
        row("2026-11-26T10:00", target="2026-12-03", responded="2026-12-01T15:00",
            closed="2026-12-02T09:00", category="street-lighting", service="lighting",
            location="Station Road, Alva"),
        row("2026-11-02T09:00", target="2026-11-16", responded="2026-11-16T16:00",
            closed="2026-11-17T10:00"),
        row("2026-11-03T09:00", target="2026-11-17", responded="2026-11-20T11:00",
            closed="2026-11-20T12:00", channel="email"),
        row("2026-11-04T09:00", target="2026-11-18", member="cllr-iain-tennant"),
        row("2026-11-09T09:00", target="2026-11-23", responded="2026-11-11T23:30",
            closed="2026-11-12T09:00", member="mp-angus-tulloch", ward=None,
            extension_days=5, channel="letter"),
        row("2026-09-30T23:30", target="2026-10-14", responded="2026-10-05T10:00",
            closed="2026-10-06T10:00"),
        row("2026-10-15T09:00", target="2026-10-29", responded="2026-10-20T10:00",
            closed="2026-10-21T10:00", member="cllr-morag-kinnaird", ward="clacks-west"),
        row("2026-09-30T22:30", target="2026-10-14", responded="2026-10-05T10:00",
            closed="2026-10-06T10:00"),
    ]
    with engine.begin() as conn:
        conn.execute(enquiries.insert(), rows)
