"""A member who has left office (`crm-bridge member retire`) is no longer offered on the
portal's new-enquiry form, and an enquiry logged for them is refused with the reason."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, func, select

from crm_bridge.store.tables import enquiries, member_departures
from portal.portal_support import Client, Seeded

LEFT = "cllr-callum-menzies"  # no seeded enquiry or account: the other tests never use him


def _offered(client: Client) -> bool:
    return f'value="{LEFT}"' in client.get("/enquiries/new").text


def _count(portal: Seeded) -> int:
    with portal.bridge.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(enquiries)).scalar_one())


def test_a_member_who_left_office_is_not_offered_and_is_refused(
    portal: Seeded, clients: dict[str, Client]
) -> None:
    staff = clients["staff"]
    engine = portal.bridge.engine
    assert _offered(staff)
    before = _count(portal)
    with engine.begin() as conn:
        conn.execute(member_departures.insert().values(
            member_id=LEFT, left_at=datetime(2026, 11, 1, tzinfo=UTC),
            handover_to="cllr-iain-tennant", recorded_by="cli:test", reason="stood down"))
    try:
        assert not _offered(staff)
        response = staff.post("/enquiries/new", data={
            "csrf_token": staff.csrf, "member": LEFT, "category": "parks",
            "name": "Left Tester", "description": "Broken bench", "consent": "no",
            "channel": "email"})
        assert response.status_code == 400
        assert "Callum Menzies left office on 01 Nov 2026" in response.text
        assert _count(portal) == before
    finally:
        with engine.begin() as conn:
            conn.execute(delete(member_departures).where(member_departures.c.member_id == LEFT))
    assert _offered(staff)


def _options(page: str, select_id: str) -> str:
    start = page.index(f'id="{select_id}"')
    return page[start:page.index("</select>", start)]


def test_a_member_who_left_office_can_be_moved_from_but_not_to(
    portal: Seeded, clients: dict[str, Client]
) -> None:
    staff = clients["staff"]
    engine = portal.bridge.engine
    page = staff.get("/reassign").text
    assert f'value="{LEFT}"' in _options(page, "from_member")
    assert f'value="{LEFT}"' in _options(page, "to_member")
    one = f"/enquiries/{portal.refs['own_shared']}"  # Kirsty's: he is her ward colleague
    assert f'value="{LEFT}"' in _options(staff.get(one).text, "to_member")
    with engine.begin() as conn:
        conn.execute(member_departures.insert().values(
            member_id=LEFT, left_at=datetime(2026, 11, 1, tzinfo=UTC),
            handover_to="cllr-iain-tennant", recorded_by="cli:test", reason="stood down"))
    try:
        page = staff.get("/reassign").text
        assert f'value="{LEFT}"' in _options(page, "from_member")  # to move their work away
        assert f'value="{LEFT}"' not in _options(page, "to_member")
        assert f'value="{LEFT}"' not in _options(staff.get(one).text, "to_member")
    finally:
        with engine.begin() as conn:
            conn.execute(delete(member_departures).where(member_departures.c.member_id == LEFT))
