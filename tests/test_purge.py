"""`crm-bridge purge` on SQLite and PostgreSQL: retention periods per service and category,
every place personal data sits, the CRM's copy, the same report totals before and after."""

from __future__ import annotations

import email.message
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select
from support.constants import NOW
from support.privacy import person, respond, rows, search_index_hits, store_bytes, stored

from crm_bridge.app import Bridge
from crm_bridge.intake import EnquiryDraft, log_enquiry
from crm_bridge.models import Enquiry, Status
from crm_bridge.portal.audit import record
from crm_bridge.portal.photos import Photo, store_photo
from crm_bridge.privacy.purge import AUDIT_REMOVED, purge
from crm_bridge.privacy.retention import months_before
from crm_bridge.privacy.scrub import REMOVED
from crm_bridge.reminders import ledger
from crm_bridge.store.enquiries import add_history
from crm_bridge.store.outbox import enqueue
from crm_bridge.store.stats import enquiry_totals
from crm_bridge.store.tables import (
    attachments,
    audit_log,
    crm_attachment_links,
    enquiry_history,
    notifications,
    outbox,
    portal_sessions,
    users,
)

pytestmark = pytest.mark.timeout(120)

PURGE_AT = NOW + timedelta(days=25 * 31)  # a little over 25 months on


def _months(n: int) -> timedelta:
    return timedelta(days=31 * n)


@pytest.fixture
def council(bridge: Bridge, config_file: Path) -> Iterator[Bridge]:
    """The example council with mail written to a folder (so purge has .eml files to find)."""
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("  transport: smtp\n", "  transport: folder\n"),
                           encoding="utf-8")
    opened = Bridge.open(config_file)
    yield opened
    opened.close()


def _log(bridge: Bridge, draft: Callable[..., EnquiryDraft], **changes: object) -> Enquiry:
    return log_enquiry(bridge.engine, bridge.config, bridge.router, draft(**changes), NOW)


def _eml(folder: Path, name: str, reference: str | None, body: str) -> Path:
    message = email.message.EmailMessage()
    message["Subject"] = "Members' enquiries"
    if reference:
        message["X-CRM-Bridge-Reference"] = reference
    message.set_content(body, cte="quoted-printable")
    folder.mkdir(exist_ok=True)
    path = folder / name
    path.write_bytes(bytes(message))
    return path


def _everything(bridge: Bridge, draft: Callable[..., EnquiryDraft]) -> dict[str, Enquiry]:
    """Enquiries in each retention situation, with data in every place purge must reach."""
    made = {
        "expired": _log(bridge, draft, constituent=person(
            "Isobel Quarrier", "isobel.quarrier@example.com", "01259 111111", "FK10 2AB"),
            description="Quarrier pothole by the bus stop", location="Quarrier Lane"),
        "long_category": _log(bridge, draft, category_id="antisocial-behaviour",
                              constituent=person("Tam Lindores", "tam@example.com",
                                                 "01259 222222")),
        "long_service": _log(bridge, draft, category_id="housing-repair",
                             member_id="cllr-morag-kinnaird",
                             constituent=person("Ruth Balgonie", "ruth@example.com",
                                                "01259 333333")),
        "open": _log(bridge, draft, constituent=person("Alec Pitcairn", "alec@example.com",
                                                       "01259 444444")),
        "recent": _log(bridge, draft, constituent=person("Greer Dollar", "greer@example.com",
                                                         "01259 555555")),
    }
    target = made["expired"]
    with bridge.engine.begin() as conn:
        enqueue(conn, str(target.id), "add_note",
                {"text": "Mrs Quarrier phoned again", "author": "Kirsty Dalgleish",
                 "kind": "follow_up"}, NOW)
        add_history(conn, str(target.id), NOW, "note", "kdalgleish", "Mrs Quarrier phoned again")
        store_photo(conn, str(target.id),
                    Photo("hole.jpg", "image/jpeg", b"\xff\xd8\xff Quarrier photo"), "kd", NOW)
        conn.execute(insert(crm_attachment_links).values(
            enquiry_id=str(target.id), url="https://crm.example/files/7/Quarrier%20drive.jpg",
            name="Quarrier drive.jpg", added_by="roads.officer", added_at=NOW,
            recorded_at=NOW, crm_event_id="ev-7"))
        ledger.record(conn, kind="reminder", key=f"reminder:{target.id}",
                      enquiry_id=str(target.id), recipients=["roads@example.gov.uk"],
                      subject=f"Overdue: {target.reference}",
                      message="Quarrier pothole by the bus stop", message_id=None, now=NOW)
        record(conn, NOW, "kdalgleish", "searched", None, "searched for 'Quarrier'")
        record(conn, PURGE_AT - timedelta(days=30), "staff1", "viewed", str(target.id), "page")
        user_id = conn.execute(insert(users).values(
            username="kdalgleish", display_name="Kirsty", role="member",
            member_id="cllr-kirsty-dalgleish", active=True, failed_logins=0,
            created_at=NOW).returning(users.c.id)).scalar_one()
        for sid, expires in (("a" * 64, NOW + timedelta(hours=8)),
                             ("b" * 64, PURGE_AT + timedelta(hours=8))):
            conn.execute(insert(portal_sessions).values(
                id=sid, user_id=user_id, created_at=NOW, last_seen_at=NOW, expires_at=expires,
                via="password"))
    closing = NOW + timedelta(days=3)
    for key in ("expired", "long_category", "long_service"):
        made[key] = respond(bridge, made[key], closing, "Filled in; Mrs Quarrier told"
                            if key == "expired" else "Done")
    made["open"] = respond(bridge, made["open"], closing, "Looking", close=False)
    made["recent"] = respond(bridge, made["recent"], PURGE_AT - _months(5), "Done")
    return made


def test_purge_removes_expired_personal_data_everywhere_and_keeps_the_totals(
    council: Bridge, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _everything(council, draft)
    folder = council.loaded.resolve("mail")
    mail_expired = _eml(folder, "000001-a.eml", made["expired"].reference, "Pothole")
    digest = _eml(folder, "000002-digest.eml", None,
                  f"Overdue: {made['expired'].reference} and {made['open'].reference}")
    mail_kept = _eml(folder, "000003-b.eml", made["recent"].reference, "Pothole")
    with council.engine.connect() as conn:
        before = enquiry_totals(conn, "Europe/London")
    assert before.total == 5
    sqlite = council.engine.dialect.name == "sqlite"
    assert search_index_hits(council, "Quarrier") == (1 if sqlite else 0)

    dry = purge(council.engine, council.loaded, council.connector, PURGE_AT, "cli:dpo",
                dry_run=True)
    assert dry.as_dict() | {"crm": None} == {
        "dry_run": True, "enquiries": 1, "references": [made["expired"].reference],
        "history_texts": 7, "outbox_rows": 3, "notifications": 1, "attachments": 1,
        "crm_links": 1, "held_updates": 0, "audit_rows": 1, "sessions": 1, "mail_files": 2,
        "media_files": 0, "crm": None}
    assert stored(council, made["expired"].reference).constituent.name == "Isobel Quarrier"
    assert mail_expired.exists()

    done = purge(council.engine, council.loaded, council.connector, PURGE_AT, "cli:dpo")

    assert done.as_dict() | {"crm": None} == dry.as_dict() | {"dry_run": False, "crm": None}
    assert done.as_dict()["crm"] == {
        "mode": "list", "anonymised": [],
        "to_action": [{"reference": made["expired"].reference,
                       "crm_ref": made["expired"].crm_ref,
                       "why": "purged in the bridge: apply the CRM's own retention to this case"}]}
    gone = stored(council, made["expired"].reference)
    assert gone.constituent.model_dump() == {"name": REMOVED, "address": None, "postcode": None,
                                             "email": None, "phone": None, "uprn": None}
    assert (gone.description, gone.location, gone.response) == (REMOVED, None, None)
    assert gone.purged_at == PURGE_AT
    # The facts reports count stay.
    kept = made["expired"]
    assert (gone.ward_id, gone.category_id, gone.service_id, gone.member_id, gone.status,
            gone.received_at, gone.closed_at, gone.responded_at) == (
        kept.ward_id, kept.category_id, kept.service_id, kept.member_id, Status.CLOSED,
        kept.received_at, kept.closed_at, kept.responded_at)
    assert [h.detail for h in gone.history if h.event != "purged"] == [""] * (
        len(gone.history) - 1)
    assert [h.detail for h in gone.history if h.event == "purged"] == [
        "personal data removed: 24 months after closure"]
    gid = str(gone.id)
    assert rows(council, outbox, outbox.c.enquiry_id == gid) == []
    assert rows(council, attachments, attachments.c.enquiry_id == gid) == []
    assert rows(council, crm_attachment_links, crm_attachment_links.c.enquiry_id == gid) == []
    assert [(n.state, n.message) for n in rows(council, notifications,
                                                notifications.c.enquiry_id == gid)] == [
        ("cancelled", None)]
    audit = {(a.actor, a.action, a.detail) for a in rows(council, audit_log)}
    assert (AUDIT_REMOVED, "searched", "") in audit
    # Whose session or command it was, and whose account, go with the rest of the row.
    assert {(a.via, a.target_user) for a in rows(council, audit_log)
            if a.actor == AUDIT_REMOVED} == {(None, None)}
    assert ("staff1", "viewed", "page") in audit
    assert ("cli:dpo", "purged", "retention: 24 months after closure") in audit
    assert [s.id for s in rows(council, portal_sessions)] == ["b" * 64]
    assert not mail_expired.exists() and not digest.exists() and mail_kept.exists()
    # Every other enquiry is untouched.
    for key in ("long_category", "long_service", "open", "recent"):
        assert stored(council, made[key].reference).constituent == made[key].constituent
    # Reports over the period count the same.
    with council.engine.connect() as conn:
        after = enquiry_totals(conn, "Europe/London")
    assert after == before
    # Nothing left in the search index or, on SQLite, anywhere in the store's files.
    assert search_index_hits(council, "Quarrier") == 0
    if sqlite:
        data = store_bytes(council)
        for text in (b"Quarrier", b"isobel.quarrier", b"01259 111111", b"FK10 2AB"):
            assert text not in data, text
        assert b"Lindores" in data  # (the check can see what is there)

    again = purge(council.engine, council.loaded, council.connector, PURGE_AT, "cli:dpo")
    assert again.references == [] and again.audit_rows == 0


def test_each_period_runs_from_closure_by_category_then_service_then_default(
    council: Bridge, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _everything(council, draft)
    closed = made["expired"].closed_at
    assert closed is not None

    def purged_at(moment: datetime) -> list[str]:
        return purge(council.engine, council.loaded, council.connector, moment,
                     "cli:dpo").references

    assert purged_at(closed + timedelta(days=365)) == []
    assert purged_at(months_before(closed, -36) + timedelta(hours=1)) == [
        made["expired"].reference, made["long_service"].reference]
    assert purged_at(months_before(closed, -72) - timedelta(hours=1)) == [
        made["recent"].reference]
    assert purged_at(months_before(closed, -72) + timedelta(hours=1)) == [
        made["long_category"].reference]
    assert stored(council, made["open"].reference).purged_at is None


def test_purge_anonymises_the_local_crm_case_when_configured(
    bridge: Bridge, config_file: Path, draft: Callable[..., EnquiryDraft]
) -> None:
    text = config_file.read_text(encoding="utf-8")
    config_file.write_text(text.replace("  crm: list\n", "  crm: anonymise\n"),
                           encoding="utf-8")
    council = Bridge.open(config_file)
    try:
        made = _everything(council, draft)
        case = made["expired"].crm_ref
        assert case is not None
        desk = council.connector().desk()  # type: ignore[attr-defined]
        assert "Isobel Quarrier" in desk.get(case).body

        done = purge(council.engine, council.loaded, council.connector, PURGE_AT, "cli:dpo")

        assert done.as_dict()["crm"] == {"mode": "anonymise", "to_action": [], "anonymised": [
            {"reference": made["expired"].reference, "crm_ref": case}]}
        anonymised = desk.get(case)
        assert "Quarrier" not in anonymised.body + (anonymised.response or "")
        assert anonymised.status == "closed"
        other = desk.get(made["recent"].crm_ref)
        assert "Greer Dollar" in other.body
        raw = Path(desk.path).read_bytes() + (
            Path(f"{desk.path}-wal").read_bytes() if Path(f"{desk.path}-wal").exists() else b"")
        assert b"Isobel Quarrier" not in raw
    finally:
        council.close()


def test_history_rows_survive_purge_with_their_events(
    council: Bridge, draft: Callable[..., EnquiryDraft]
) -> None:
    made = _everything(council, draft)
    before = [(h.event, h.at, h.status) for h in stored(council,
                                                         made["expired"].reference).history]
    purge(council.engine, council.loaded, council.connector, PURGE_AT, "cli:dpo")
    with council.engine.connect() as conn:
        after = [(h.event, h.at, h.status) for h in conn.execute(
            select(enquiry_history).where(enquiry_history.c.enquiry_id == str(
                made["expired"].id)).order_by(enquiry_history.c.at, enquiry_history.c.id))]
    assert after[:-1] == [(e, a, s.value if s else None) for e, a, s in before]
    assert after[-1][0] == "purged"
