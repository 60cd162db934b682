"""An enquiry the CRM closed without a response is flagged on its page for the member."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.models import Status
from crm_bridge.store.enquiries import add_history, set_fields
from crm_bridge.store.tables import enquiries
from crm_bridge.sync.pull import CLOSED_WITHOUT_RESPONSE
from portal.portal_support import Client, Seeded

FLAG = 'id="closed-without-response"'


def test_the_page_flags_a_close_without_a_response_and_not_one_with_it(
        portal: Seeded, clients: dict[str, Client]) -> None:
    bridge = portal.bridge
    now = datetime.now(UTC)
    logged = [log_enquiry(bridge.engine, bridge.config, bridge.router, draft_from({
        "member_id": "cllr-iain-tennant", "category_id": "pothole", "consent_to_share": False,
        "description": f"Closed enquiry {n}", "channel": "surgery", "logged_by": "test",
        "constituent": {"name": "Alan Bruce", "postcode": "FK10 9ZZ"}}), now) for n in (1, 2)]
    silent, answered = logged
    try:
        closed_at = now + timedelta(hours=1)
        with bridge.engine.begin() as conn:
            set_fields(conn, str(silent.id), closed_at, status=Status.CLOSED.value,
                       closed_at=closed_at)
            add_history(conn, str(silent.id), closed_at, CLOSED_WITHOUT_RESPONSE,
                        "roads.officer", "closed without a response", Status.CLOSED)
            set_fields(conn, str(answered.id), closed_at, status=Status.CLOSED.value,
                       closed_at=closed_at, response="Filled.")
        client = clients["iain"]
        flagged = client.get(f"/enquiries/{silent.reference}")
        plain = client.get(f"/enquiries/{answered.reference}")
        assert (flagged.status_code, plain.status_code) == (200, 200)
        assert FLAG in flagged.text
        assert "The service closed this enquiry without a response." in flagged.text
        assert FLAG not in plain.text
    finally:
        with bridge.engine.begin() as conn:
            conn.execute(delete(enquiries).where(
                enquiries.c.id.in_([str(e.id) for e in logged])))
