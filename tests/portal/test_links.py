"""Linking and unlinking from the enquiry page and the JSON API, as the access policy allows.

Each test undoes its links, so the session's seeded enquiries read as before for the others.
"""

from __future__ import annotations

from sqlalchemy import select

from crm_bridge.access.audit import read_audit
from crm_bridge.store.tables import enquiry_links
from portal.portal_support import Client, Seeded


def _linked_on_page(client: Client, ref: str) -> str:
    page = client.get(f"/enquiries/{ref}")
    assert page.status_code == 200
    start = page.text.find('id="linked"')
    return page.text[start:page.text.find("</ul>", start)] if start >= 0 else ""


def test_a_member_links_and_unlinks_from_the_enquiry_page(
        portal: Seeded, clients: dict[str, Client]) -> None:
    kirsty = clients["kirsty"]
    own, colleague = portal.refs["own_shared"], portal.refs["colleague_shared"]

    linked = kirsty.post(f"/enquiries/{own}/link", data={
        "csrf_token": kirsty.csrf, "link_other": colleague.lower(), "link_reason": "one gate"},
        allow_redirects=False)
    assert linked.status_code == 303
    assert colleague in _linked_on_page(kirsty, own)
    assert own in _linked_on_page(clients["iain"], colleague), "the colleague sees it too"

    refused = kirsty.post(f"/enquiries/{own}/unlink", data={
        "csrf_token": kirsty.csrf, "unlink_other": colleague, "unlink_reason": ""})
    assert refused.status_code == 400
    assert "There is a problem" in refused.text
    assert 'href="#unlink_reason"' in refused.text
    assert "Say why the enquiries are no longer the same issue" in refused.text

    done = kirsty.post(f"/enquiries/{own}/unlink", data={
        "csrf_token": kirsty.csrf, "unlink_other": colleague,
        "unlink_reason": "different gates"}, allow_redirects=False)
    assert done.status_code == 303
    assert colleague not in _linked_on_page(kirsty, own)
    page = kirsty.get(f"/enquiries/{own}").text
    assert "Unlinked" in page and "different gates" in page, "the history says who and why"
    with portal.bridge.engine.connect() as conn:
        row = conn.execute(select(enquiry_links).where(
            enquiry_links.c.enquiry_id == portal.ids["own_shared"],
            enquiry_links.c.linked_id == portal.ids["colleague_shared"])).one()
        actions = [r.action for r in read_audit(conn, enquiry_id=portal.ids["colleague_shared"],
                                                user="kirsty")]
    assert (row.linked_by, row.reason, row.unlinked_by) == ("kirsty", "one gate", "kirsty")
    assert "linked" in actions and "unlinked" in actions


def test_a_member_cannot_link_what_they_may_not_see(
        portal: Seeded, clients: dict[str, Client]) -> None:
    kirsty = clients["kirsty"]
    own, hidden = portal.refs["own_shared"], portal.refs["colleague_private"]
    page = kirsty.post(f"/enquiries/{own}/link", data={
        "csrf_token": kirsty.csrf, "link_other": hidden})
    assert page.status_code == 400
    assert "No enquiry you may see has that reference" in page.text
    api = kirsty.post(f"/api/enquiries/{own}/links", json={"other": hidden},
                      headers={"X-CSRF-Token": kirsty.csrf})
    assert api.status_code == 404
    assert hidden not in _linked_on_page(kirsty, own)


def test_a_member_links_only_when_one_of_the_two_is_their_own(
        portal: Seeded, clients: dict[str, Client]) -> None:
    """Kirsty sees her colleague's shared enquiry and the MSP's (by arrangement), but
    neither is hers: she may not link those two."""
    kirsty = clients["kirsty"]
    colleague, msp = portal.refs["colleague_shared"], portal.refs["msp_shared"]
    refused = kirsty.post(f"/api/enquiries/{colleague}/links", json={"other": msp},
                          headers={"X-CSRF-Token": kirsty.csrf})
    assert refused.status_code == 403
    assert "only if one of them is your own enquiry" in refused.json()["detail"]
    assert msp not in _linked_on_page(kirsty, colleague)


def test_staff_link_across_members_through_the_api(
        portal: Seeded, clients: dict[str, Client]) -> None:
    staff = clients["staff"]
    one, other = portal.refs["own_private"], portal.refs["other_private"]
    headers = {"X-CSRF-Token": staff.csrf}

    assert staff.post(f"/api/enquiries/{one}/links", json={"other": other}).status_code == 403
    made = staff.post(f"/api/enquiries/{one}/links", json={"other": other}, headers=headers)
    assert made.status_code == 200
    assert made.json()["changed"] is True
    assert other in _linked_on_page(staff, one)
    again = staff.post(f"/api/enquiries/{one}/links", json={"other": other}, headers=headers)
    assert again.json()["changed"] is False

    no_reason = staff.post(f"/api/enquiries/{one}/unlink", json={"other": other},
                           headers=headers)
    assert no_reason.status_code == 422
    undone = staff.post(f"/api/enquiries/{one}/unlink",
                        json={"other": other, "reason": "different fly-tip"}, headers=headers)
    assert undone.status_code == 200
    assert other not in _linked_on_page(staff, one)
