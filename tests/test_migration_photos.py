"""Migration 0012 queues the photos stored before it (nothing ever sent them), on enquiries
still open, so the next sync passes them on; closed and purged enquiries' photos stay."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Engine, insert, select
from support.constants import NOW

from crm_bridge.store.migrate import upgrade
from crm_bridge.store.tables import attachments, enquiries, outbox


def _enquiry(engine: Engine, key: str, status: str, purged: bool = False) -> None:
    with engine.begin() as conn:
        conn.execute(insert(enquiries).values(
            id=f"00000000-0000-4000-8000-00000000000{key}", reference=f"ENQ-2026-00000{key}",
            member_id="cllr-kirsty-dalgleish", logged_by="staff", channel="surgery",
            constituent_name="Jean Paterson", consent_to_share=False,
            consent_recorded_by="staff", consent_recorded_at=NOW, category_id="pothole",
            service_id="roads", description="Pothole", received_at=NOW,
            target_date=date(2026, 3, 20), warning_date=date(2026, 3, 18), status=status,
            overdue=False, extension_days=0, purged_at=NOW if purged else None,
            created_at=NOW, updated_at=NOW))
        # Only the columns attachments had at 0010 (not crm_ref, added by 0012).
        conn.execute(insert(attachments).values(
            enquiry_id=f"00000000-0000-4000-8000-00000000000{key}", filename="a.jpg",
            content_type="image/jpeg", size=3, sha256="ab", data=b"\xff\xd8\xff",
            uploaded_by="kd", created_at=NOW + timedelta(minutes=int(key))))


def test_photos_stored_before_the_upgrade_are_queued_for_open_enquiries(
        raw_engine: Engine) -> None:
    upgrade(raw_engine, "0010")
    _enquiry(raw_engine, "1", "sent")
    _enquiry(raw_engine, "2", "closed")
    _enquiry(raw_engine, "3", "in_progress", purged=True)
    _enquiry(raw_engine, "4", "logged")

    upgrade(raw_engine)

    with raw_engine.connect() as conn:
        queued = [(r.enquiry_id[-1], r.kind, r.payload, r.state)
                  for r in conn.execute(select(outbox).order_by(outbox.c.id))]
    assert queued == [("1", "add_attachment", {"attachment_id": 1}, "pending"),
                      ("4", "add_attachment", {"attachment_id": 4}, "pending")]
