"""The dashboard's "Responses since you last looked": who sees which responses (the same
matrix as every other read), the header's count, and marking them as read only by the
explicit button (a glance at the dashboard does not lose them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from crm_bridge.store.tables import users
from portal.portal_support import SEEDS, USERS, Client, Seeded, csrf_of, respond
from portal.test_authorisation import SEES

BADGE = re.compile(r'id="new-responses-count">([0-9+]+)<span class="govuk-visually-hidden"> '
                   r"new (responses?)</span>")
RESPONSES = re.compile(r'<section id="responses".*?</section>', re.S)


def _arrive_all(portal: Seeded) -> datetime:
    """Every seeded enquiry gets a response arriving now (after any earlier mark as read)."""
    arrived = datetime.now(UTC)
    respond(portal, list(SEEDS), arrived)
    return arrived


def _section(page_html: str) -> str:
    found = RESPONSES.search(page_html)
    assert found, "no responses section on the dashboard"
    return found.group(0)


@pytest.mark.parametrize("user", [u for u in USERS if u != "admin"])
def test_each_user_sees_the_responses_they_may_see(portal: Seeded, clients: dict[str, Client],
                                                   user: str) -> None:
    _arrive_all(portal)
    client = clients[user]
    board = client.get("/api/dashboard").json()
    listed = {item["reference"] for item in board["responses"]}
    assert listed == {portal.refs[k] for k in SEES[user]}
    assert board["responses_total"] == len(SEES[user])
    section = _section(client.get("/").text)
    for key, ref in portal.refs.items():
        assert (ref in section) == (key in SEES[user]), (user, key)
        assert (SEEDS[key][2] in section) == (key in SEES[user]), (user, key)
    badge = BADGE.search(client.get("/search").text)  # the header's count, on every page
    assert badge is not None
    assert badge.groups() == (str(len(SEES[user])),
                              "response" if len(SEES[user]) == 1 else "responses")


def test_admin_has_no_responses_or_count(clients: dict[str, Client]) -> None:
    admin = clients["admin"]
    assert admin.get("/api/dashboard").status_code == 403
    assert "new-responses-count" not in admin.get("/users").text
    read = admin.post("/responses/read", data={"csrf_token": admin.csrf,
                                               "upto": datetime.now(UTC).isoformat()})
    assert read.status_code == 403


def test_viewing_keeps_them_and_the_button_marks_them_read(portal: Seeded,
                                                           clients: dict[str, Client]) -> None:
    client = clients["iain"]
    _arrive_all(portal)
    first = client.get("/")
    assert portal.refs["colleague_private"] in _section(first.text)
    again = client.get("/")  # a glance loses nothing
    assert portal.refs["colleague_private"] in _section(again.text)
    upto = re.search(r'name="upto" value="([^"]+)"', again.text)
    assert upto is not None

    forged = client.post("/responses/read", data={"csrf_token": "0" * 64,
                                                  "upto": upto.group(1)})
    assert forged.status_code == 403
    assert portal.refs["colleague_private"] in _section(client.get("/").text)

    read = client.post("/responses/read", data={"csrf_token": csrf_of(again.text),
                                                "upto": upto.group(1)})
    assert read.status_code == 303 and read.headers["location"] == "/?read=1"
    after = client.get("/?read=1").text
    assert "Responses marked as read" in after
    assert "No new responses since you last marked responses as read" in _section(after)
    assert "new-responses-count" not in after
    assert client.get("/api/dashboard").json()["responses"] == []

    # Another response arrives: it is shown again, and counted in the header.
    later = datetime.now(UTC) + timedelta(seconds=1)
    respond(portal, ["own_shared"], later)
    section = _section(client.get("/").text)
    assert portal.refs["own_shared"] in section
    assert portal.refs["colleague_private"] not in section
    assert BADGE.search(client.get("/search").text).groups() == ("1", "response")  # type: ignore[union-attr]


def test_a_response_arriving_after_the_page_was_shown_stays_unread(
        portal: Seeded, clients: dict[str, Client]) -> None:
    client = clients["morag"]
    _arrive_all(portal)
    board = client.get("/api/dashboard").json()
    shown_upto = board["responses_newest"]
    respond(portal, ["other_private"], datetime.now(UTC) + timedelta(seconds=1))
    marked = client.post("/api/responses/read", json={"upto": shown_upto},
                         headers={"X-CSRF-Token": client.csrf})
    assert marked.status_code == 204
    left = client.get("/api/dashboard").json()
    assert [item["reference"] for item in left["responses"]] == [portal.refs["other_private"]]
    assert left["responses_since"] is not None
    # The mark never moves back.
    earlier = (datetime.fromisoformat(shown_upto) - timedelta(days=1)).isoformat()
    assert client.post("/api/responses/read", json={"upto": earlier},
                       headers={"X-CSRF-Token": client.csrf}).status_code == 204
    with portal.bridge.engine.connect() as conn:
        seen = conn.execute(select(users.c.responses_seen_at)
                            .where(users.c.username == "morag")).scalar_one()
    assert seen == datetime.fromisoformat(shown_upto)


@pytest.mark.parametrize("upto", ["", "yesterday", "2026-01-01T10:00:00",
                                  "2999-01-01T00:00:00+00:00"])
def test_a_bad_upto_is_refused_with_a_reason(clients: dict[str, Client], upto: str) -> None:
    client = clients["angus"]
    page = client.get("/")
    refused = client.post("/responses/read", data={"csrf_token": csrf_of(page.text),
                                                   "upto": upto})
    assert refused.status_code == 400
    assert "upto must be the time of the newest response shown" in refused.text
    api = client.post("/api/responses/read", json={"upto": upto},
                      headers={"X-CSRF-Token": client.csrf})
    assert api.status_code == 400


def test_the_counts_say_whose_enquiries_they_cover(clients: dict[str, Client]) -> None:
    def covers(user: str) -> list[str]:
        counts = re.search(r'<ul class="portal-counts" id="counts">.*?</ul>',
                           clients[user].get("/").text, re.S)
        assert counts is not None
        return re.findall(r'<span class="portal-count__whose">([^<]+)</span>', counts.group(0))

    assert covers("iain") == ["Your enquiries", "Your enquiries",
                              "Shared with you by ward colleagues"]
    assert covers("kirsty") == ["Your enquiries", "Your enquiries", "Shared with you"]
    assert covers("angus") == ["Your enquiries", "Your enquiries"]
    assert covers("staff") == ["Enquiries of the members your group works for"] * 2
    api = {u: clients[u].get("/api/dashboard").json() for u in ("iain", "angus", "staff")}
    assert (api["iain"]["mine_covers"], api["iain"]["shared_covers"]) == (
        "Your enquiries", "Shared with you by ward colleagues")
    assert api["angus"]["shared_covers"] is None
    assert api["staff"]["mine_covers"] == "Enquiries of the members your group works for"


def test_a_never_marked_account_sees_the_last_fortnight_only(
        portal: Seeded, clients: dict[str, Client]) -> None:
    client = clients["eilidh"]
    with portal.bridge.engine.begin() as conn:
        conn.execute(users.update().where(users.c.username == "eilidh")
                     .values(responses_seen_at=None))
    respond(portal, ["msp_private"], datetime.now(UTC) - timedelta(days=15))
    respond(portal, ["msp_shared"], datetime.now(UTC) - timedelta(days=13))
    section = _section(client.get("/").text)
    assert portal.refs["msp_shared"] in section
    assert portal.refs["msp_private"] not in section
    assert "in the last two weeks" in section
