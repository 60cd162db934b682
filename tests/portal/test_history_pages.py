"""The constituent's history and search in the live portal: posted with the CSRF token, never
in an address; shown on the form's partial, the confirmation and the enquiry page, and in
the JSON API; what another member holds is counted, never shown."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from crm_bridge.portal.saved_search import TOKEN_MINUTES, load_search, save_search
from crm_bridge.store.tables import audit_log, enquiries
from portal.portal_support import Client, Seeded

EMAIL = "morag.history@example.com"


def _log(client: Client, consent: bool, description: str) -> str:
    response = client.post("/api/enquiries", headers={"X-CSRF-Token": client.csrf}, json={
        "category": "parks", "name": "Morag History", "email": EMAIL, "phone": "01259 700700",
        "description": description, "consent": consent})
    assert response.status_code == 201, response.text
    return str(response.json()["reference"])


def test_history_on_the_form_the_pages_and_the_api(portal: Seeded,
                                                   clients: dict[str, Client]) -> None:
    kirsty, iain = clients["kirsty"], clients["iain"]
    own = _log(kirsty, True, "Swings broken")
    hidden = _log(iain, False, "Hedge overgrown")  # Iain's, not shared: Kirsty may not see it
    partial = kirsty.post("/enquiries/new/history", data={
        "csrf_token": kirsty.csrf, "name": "Morag History", "phone": "+44 1259 700 700"})
    assert partial.status_code == 200
    assert own in partial.text and hidden not in partial.text
    assert "1 enquiry held by another member" in partial.text
    assert "Hedge overgrown" not in partial.text
    with portal.bridge.engine.connect() as conn:  # what was listed is audited as read
        audited = conn.execute(select(audit_log.c.actor).join(
            enquiries, enquiries.c.id == audit_log.c.enquiry_id).where(
            enquiries.c.reference.in_([own, hidden]),
            audit_log.c.detail == "constituent history (form)")).scalars().all()
    assert audited == ["kirsty"]  # the one she saw; the hidden one was not read
    forged = kirsty.post("/enquiries/new/history", data={"email": EMAIL})
    assert forged.status_code == 403

    api = kirsty.post("/api/constituents/history", headers={"X-CSRF-Token": kirsty.csrf},
                      json={"email": EMAIL.upper()})
    assert api.status_code == 200
    found = api.json()
    assert [i["reference"] for i in found["items"]] == [own]
    assert (found["total"], found["hidden"]) == (1, 1)
    assert found["items"][0]["matched_by"] == "same e-mail"
    refused = kirsty.post("/api/constituents/history", headers={"X-CSRF-Token": kirsty.csrf},
                          json={"name": "Morag History", "postcode": "nowhere"})
    assert refused.status_code == 422 and "postcode" in refused.text

    # Iain's enquiry page lists Kirsty's only if she shared it: she did (consent).
    page = iain.get(f"/enquiries/{hidden}")
    assert page.status_code == 200 and own in page.text
    assert "This constituent’s other enquiries" in page.text
    third = kirsty.post("/enquiries/new", data={
        "csrf_token": kirsty.csrf, "category": "parks", "name": "Morag History",
        "email": EMAIL, "description": "Bench broken", "consent": "yes",
        "channel": "surgery"}, follow=True)
    assert third.status_code == 200 and "/logged" in third.url
    assert own in third.text and "held by another member" in third.text


def test_search_posts_and_pages_by_token(portal: Seeded, clients: dict[str, Client]) -> None:
    kirsty = clients["kirsty"]
    posted = kirsty.post("/search", data={"csrf_token": kirsty.csrf, "q": "Agnes Shared-Own"})
    assert posted.status_code == 303
    location = posted.headers["location"]
    assert re.fullmatch(r"/search\?t=[\w-]+", location) and "Agnes" not in location
    results = kirsty.get(location)
    assert portal.refs["own_shared"] in results.text
    # Another user's session cannot use the token: they get the empty form.
    other = clients["iain"].get(location)
    assert other.status_code == 200 and portal.refs["own_shared"] not in other.text
    assert "That search has expired" in other.text
    assert kirsty.post("/search", data={"q": "Agnes"}).status_code == 403  # no CSRF token
    words = kirsty.get("/api/enquiries", params={"q": "Agnes"})
    assert words.status_code == 400 and "POST" in words.json()["detail"]


def test_a_saved_search_expires(portal: Seeded) -> None:
    from crm_bridge.portal.sessions import start_session

    now = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
    with portal.bridge.engine.begin() as conn:
        start_session(conn, 1, portal.bridge.config.portal, now, "password")
        session = conn.exec_driver_sql(
            "SELECT id FROM portal_sessions ORDER BY created_at DESC LIMIT 1").scalar_one()
        token = save_search(conn, session, {"q": "FK10 1AB"}, now)
        later = now + timedelta(minutes=TOKEN_MINUTES - 1)
        assert load_search(conn, session, token, later) == {"q": "FK10 1AB"}
        assert load_search(conn, session, token, now + timedelta(minutes=TOKEN_MINUTES)) is None
        assert load_search(conn, "another-session", token, now) is None
