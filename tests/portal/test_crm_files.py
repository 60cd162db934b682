"""Files officers put on the CRM case show on the enquiry page as links, to those who may
see the enquiry only; an address that is no http(s) link never becomes one. A photo put on
the case says when."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import delete, insert, update

from crm_bridge.portal.photos import Photo, store_photo
from crm_bridge.store.tables import attachments, crm_attachment_links, outbox
from portal.portal_support import Client, Seeded

URL = "https://rt.example.gov.uk/Ticket/Attachment/41/97/after%20repair.jpg"


def add_link(portal: Seeded, key: str, url: str, name: str) -> None:
    with portal.bridge.engine.begin() as conn:
        conn.execute(insert(crm_attachment_links).values(
            enquiry_id=portal.ids[key], url=url, name=name, added_by="roads.officer",
            added_at=datetime(2026, 3, 9, 10, 0, tzinfo=UTC),
            recorded_at=datetime(2026, 3, 9, 10, 5, tzinfo=UTC), crm_event_id="ev-1"))


def test_the_enquiry_page_links_to_the_files_on_the_case(
        portal: Seeded, clients: dict[str, Client]) -> None:
    add_link(portal, "own_private", URL, "after repair.jpg")
    add_link(portal, "own_private", "javascript:alert(1)", "trick.jpg")  # not via pull
    try:
        page = clients["kirsty"].get(f"/enquiries/{portal.refs['own_private']}")
        colleague = clients["iain"].get(f"/enquiries/{portal.refs['own_private']}")
    finally:
        with portal.bridge.engine.begin() as conn:
            conn.execute(delete(crm_attachment_links)
                         .where(crm_attachment_links.c.enquiry_id == portal.ids["own_private"]))

    assert page.status_code == 200
    assert "Files on the case in the council’s system" in page.text
    assert (f'<a class="govuk-link" href="{URL}" rel="noreferrer noopener">after repair.jpg</a>'
            in page.text)
    assert "added 9 March 2026" in page.text and "by roads.officer" in page.text
    assert "javascript:" not in page.text and "trick.jpg" not in page.text
    assert colleague.status_code == 404  # a private enquiry of another member
    assert URL not in colleague.text and "after repair.jpg" not in colleague.text


def test_a_photo_put_on_the_case_says_when(portal: Seeded, clients: dict[str, Client]) -> None:
    enquiry_id = portal.ids["own_private"]
    photo = Photo("drive.png", "image/png", b"\x89PNG\r\n\x1a\n not decoded here")
    with portal.bridge.engine.begin() as conn:
        waiting = store_photo(conn, enquiry_id, photo, "kirsty", datetime(2026, 3, 9, tzinfo=UTC))
        sent = store_photo(conn, enquiry_id, photo, "kirsty", datetime(2026, 3, 9, tzinfo=UTC))
        conn.execute(update(attachments).where(attachments.c.id == sent)
                     .values(sent_at=datetime(2026, 3, 9, 17, 30, tzinfo=UTC)))
    try:
        page = clients["kirsty"].get(f"/enquiries/{portal.refs['own_private']}")
    finally:
        with portal.bridge.engine.begin() as conn:
            conn.execute(delete(attachments).where(attachments.c.id.in_((waiting, sent))))
            conn.execute(delete(outbox).where(outbox.c.enquiry_id == enquiry_id,
                                              outbox.c.kind == "add_attachment"))

    assert page.status_code == 200
    assert page.text.count("Added to the case in the council’s system") == 1
    assert "Added to the case in the council’s system 9 March 2026" in page.text
