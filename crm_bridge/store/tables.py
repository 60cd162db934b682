"""The state store's tables (SQLAlchemy Core). Alembic migrations create and change them."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from crm_bridge.store.types import UtcDateTime

__all__ = [
    "attachments",
    "audit_log",
    "counters",
    "crm_attachment_links",
    "enquiries",
    "enquiry_history",
    "enquiry_links",
    "held_updates",
    "locks",
    "member_departures",
    "metadata",
    "notifications",
    "outbox",
    "portal_sessions",
    "search_tokens",
    "sync_cursors",
    "users",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

UTC_TIME = UtcDateTime()

enquiries = Table(
    "enquiries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("reference", String(20), nullable=False, unique=True),
    Column("member_id", String(64), nullable=False, index=True),
    Column("logged_by", String(200), nullable=False),
    Column("channel", String(20), nullable=False),
    Column("constituent_name", String(200), nullable=False),
    Column("constituent_address", Text),
    Column("constituent_postcode", String(10)),
    Column("constituent_email", String(320)),
    Column("constituent_phone", String(40)),
    Column("constituent_uprn", String(12)),
    Column("consent_to_share", Boolean, nullable=False),
    Column("consent_recorded_by", String(200), nullable=False),
    Column("consent_recorded_at", UTC_TIME, nullable=False),
    Column("category_id", String(64), nullable=False, index=True),
    Column("service_id", String(64), nullable=False),
    Column("ward_id", String(64), index=True),
    Column("description", Text, nullable=False),
    Column("location", Text),
    Column("received_at", UTC_TIME, nullable=False),
    Column("target_date", Date, nullable=False),
    Column("warning_date", Date, nullable=False),
    Column("status", String(20), nullable=False),
    Column("crm_ref", String(200)),
    Column("response", Text),
    Column("responded_at", UTC_TIME),
    Column("closed_at", UTC_TIME),
    Column("overdue", Boolean, nullable=False, default=False),
    Column("failure_reason", Text),
    # Working days added to the service's response days by member-agreed extensions.
    Column("extension_days", Integer, nullable=False, default=0, server_default="0"),
    # Migration 0008 (data protection): when the personal data was purged or erased (the
    # row stays with the facts reports count), and when it was archived because its member
    # left office.
    Column("purged_at", UTC_TIME),
    Column("archived_at", UTC_TIME),
    # Migration 0010: the bridge's time when a CRM response was first stored (the portal's
    # "Responses since you last looked"; responded_at is the CRM's own time of the response).
    Column("response_arrived_at", UTC_TIME),
    # Migration 0014: the enquiry whose CRM case this one was added to as a linked duplicate
    # (its crm_ref is then that case's); the CRM's answers on that case reach both.
    Column("folded_into", String(36)),
    # Migration 0015: the constituent's details as keys that compare as people write them
    # (crm_bridge.personkeys), for search and the constituent's history. Personal data.
    Column("email_key", String(320)),
    Column("phone_key", String(20)),
    Column("name_key", String(200)),
    Column("postcode_key", String(8)),
    Column("outcode_key", String(4)),
    Column("name_sound", String(200)),
    # Migration 0016: the location as a point when it is written 'latitude, longitude'
    # (crm_bridge.places.coordinates), for the duplicate check's distance. Personal data.
    Column("latitude", Float),
    Column("longitude", Float),
    Column("created_at", UTC_TIME, nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
    Index("ix_enquiries_open_target", "overdue", "target_date"),
    Index("ix_enquiries_status", "status"),
    Index("ix_enquiries_crm_ref", "crm_ref"),
    # The portal's look-ups (migration 0004): a member's and a ward's shared open enquiries by
    # target date, all open ones by target date; newest first for search (overall, a member's,
    # a ward's shared); a constituent's earlier enquiries by postcode.
    Index("ix_enquiries_member_status", "member_id", "status", "target_date"),
    Index("ix_enquiries_ward_open", "ward_id", "consent_to_share", "status", "target_date"),
    Index("ix_enquiries_status_target", "status", "target_date"),
    Index("ix_enquiries_received_at", "received_at"),
    Index("ix_enquiries_member_received", "member_id", "received_at"),
    Index("ix_enquiries_ward_shared", "ward_id", "consent_to_share", "received_at"),
    Index("ix_enquiries_member_category", "member_id", "category_id", "received_at"),
    Index("ix_enquiries_ward_category", "ward_id", "consent_to_share", "category_id",
          "received_at"),
    Index("ix_enquiries_constituent_postcode", "constituent_postcode"),
    # The duplicate check's enquiries at the same property (0013).
    Index("ix_enquiries_constituent_uprn", "constituent_uprn"),
    # ... and those within a distance of a point (0016).
    Index("ix_enquiries_point", "latitude", "longitude"),
    # Sync: the overdue step's open enquiries not yet marked, past their target (migration
    # 0005); the reminders step's open enquiries whose warning date has come (0007).
    Index("ix_enquiries_overdue_scan", "overdue", "status", "target_date"),
    Index("ix_enquiries_status_warning", "status", "warning_date"),
    # Purge: closed enquiries not yet purged, by closing date (0008).
    Index("ix_enquiries_retention", "status", "purged_at", "closed_at"),
    # The portal's responses since an account last looked: everyone's, a member's (0010).
    Index("ix_enquiries_response_arrived", "response_arrived_at"),
    Index("ix_enquiries_member_arrived", "member_id", "response_arrived_at"),
    Index("ix_enquiries_folded_into", "folded_into"),
    # Search and the constituent's history by person keys (0015).
    Index("ix_enquiries_email_key", "email_key"),
    Index("ix_enquiries_phone_key", "phone_key"),
    Index("ix_enquiries_name_postcode", "name_key", "postcode_key"),
    Index("ix_enquiries_postcode_key", "postcode_key"),
    Index("ix_enquiries_outcode_key", "outcode_key", "received_at"),
)

enquiry_history = Table(
    "enquiry_history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("at", UTC_TIME, nullable=False),
    Column("event", String(40), nullable=False),
    Column("actor", String(200), nullable=False),
    Column("detail", Text, nullable=False, default=""),
    Column("status", String(20)),
    # The CRM's own id for the change this row records: applying it twice is refused.
    Column("crm_event_id", String(200)),
    UniqueConstraint("enquiry_id", "crm_event_id", name="uq_history_crm_event"),
)

enquiry_links = Table(
    "enquiry_links",
    metadata,
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           primary_key=True),
    Column("linked_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           primary_key=True),
    Column("kind", String(20), nullable=False, default="duplicate"),
    # Migration 0014: who linked the pair, when and why; and who undid it, when and why (an
    # unlinked pair keeps its row: see crm_bridge/links.py). Empty for links made before.
    Column("linked_by", String(200)),
    Column("linked_at", UTC_TIME),
    Column("reason", Text),
    Column("unlinked_by", String(200)),
    Column("unlinked_at", UTC_TIME),
    Column("unlink_reason", Text),
    Index("ix_enquiry_links_linked_id", "linked_id"),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("kind", String(20), nullable=False),  # create_case | add_note | add_attachment
    Column("payload", JSON, nullable=False, default=dict),
    Column("state", String(10), nullable=False, default="pending"),  # pending | done | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("not_before", UTC_TIME),
    Column("last_error", Text),
    Column("created_at", UTC_TIME, nullable=False),
    Column("done_at", UTC_TIME),
    # Migration 0011: written and committed just before push first calls the CRM for the
    # row; a later try that finds it set looks the case up before creating one.
    Column("attempt_started_at", UTC_TIME),
    Index("ix_outbox_pending", "state", "id"),
)

# CRM changes whose status the mapping does not know (migration 0011), held until it does;
# a later pull applies each and deletes its row. ``response`` is personal data: purge and
# erasure delete the enquiry's rows.
held_updates = Table(
    "held_updates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           nullable=False),
    Column("connector", String(64), nullable=False),
    Column("crm_event_id", String(200), nullable=False),
    Column("case_ref", String(200), nullable=False),
    Column("crm_status", String(200), nullable=False),
    Column("occurred_at", UTC_TIME, nullable=False),
    Column("response", Text),
    Column("actor", String(200), nullable=False),
    Column("held_at", UTC_TIME, nullable=False),
    UniqueConstraint("enquiry_id", "crm_event_id", name="uq_held_update_event"),
    Index("ix_held_updates_connector_status", "connector", "crm_status"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", UTC_TIME, nullable=False),
)

counters = Table(
    "counters",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("value", Integer, nullable=False),
)

locks = Table(
    "locks",
    metadata,
    Column("name", String(40), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("host", String(200), nullable=False),
    Column("since", UTC_TIME, nullable=False),
)

users = Table(
    "users",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(100), nullable=False, unique=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(20), nullable=False),  # member | staff | admin
    Column("member_id", String(64)),  # the elected member a 'member' account is
    # The config's access.staff_groups entry a 'staff' account works in (migration 0009).
    Column("staff_group", String(64)),
    Column("password_hash", Text),  # argon2; empty for single-sign-on-only accounts
    Column("active", Boolean, nullable=False, default=True),
    Column("failed_logins", Integer, nullable=False, default=0),
    Column("locked_until", UTC_TIME),
    Column("created_at", UTC_TIME, nullable=False),
    Column("last_login_at", UTC_TIME),
    # When the account last marked the dashboard's new responses as read (migration 0010).
    Column("responses_seen_at", UTC_TIME),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", UTC_TIME, nullable=False, index=True),
    Column("actor", String(200), nullable=False),
    Column("action", String(40), nullable=False),  # viewed | searched | changed | signed_in …
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="SET NULL"),
           index=True),
    Column("detail", Text, nullable=False, default=""),
    # Migration 0009: 'portal' or 'cli:<login>'; the account an account change was made to.
    Column("via", String(200)),
    Column("target_user", String(100), index=True),
    Index("ix_audit_log_actor_at", "actor", "at"),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           index=True),
    Column("kind", String(30), nullable=False),  # heads_up | reminder | escalation | digest …
    # What makes a message the same message: deciding twice inserts nothing new.
    Column("dedupe_key", String(200), nullable=False, unique=True),
    Column("recipients", Text, nullable=False),
    Column("subject", Text, nullable=False),
    Column("state", String(10), nullable=False, default="pending"),  # pending | sent | failed
    Column("attempts", Integer, nullable=False, default=0),
    Column("decided_at", UTC_TIME, nullable=False),
    Column("not_before", UTC_TIME),
    Column("sent_at", UTC_TIME),
    Column("last_error", Text),
    # Migration 0003 (reminders): the rendered message is kept only until it is sent, so a
    # retry sends the very same bytes; the Message-ID, derived from dedupe_key, stays.
    Column("message_id", String(250)),
    Column("message", Text),
    # A member's response notice held for their daily digest: the digest that carried it.
    Column("digest_id", Integer),
    Index("ix_notifications_pending", "state", "id"),
)

# The portal's signed-in sessions (migration 0004). The cookie carries a random token; only its
# SHA-256 is stored, so a copy of the store cannot be used to sign in. Deleting the row signs out.
portal_sessions = Table(
    "portal_sessions",
    metadata,
    Column("id", String(64), primary_key=True),  # sha256 hex of the cookie's token
    Column("user_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False,
           index=True),
    Column("created_at", UTC_TIME, nullable=False),
    Column("last_seen_at", UTC_TIME, nullable=False),
    Column("expires_at", UTC_TIME, nullable=False, index=True),
    Column("via", String(20), nullable=False),  # password | trusted_header
)

# Photos members attach to an enquiry (migration 0004), kept until the enquiry is purged.
attachments = Table(
    "attachments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("filename", String(200), nullable=False),
    Column("content_type", String(50), nullable=False),
    Column("size", Integer, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("uploaded_by", String(200), nullable=False),
    Column("created_at", UTC_TIME, nullable=False),
    Column("sent_at", UTC_TIME),  # when a connector passed it on to the CRM case
    # Migration 0012: what the CRM answered for it (its own id or link), when it had one.
    Column("crm_ref", String(500)),
)

# Files officers put on a case in the CRM, kept as links (migration 0012): who added each and
# when (the CRM's words and time), and when the bridge first read it. Personal data: purged
# and erased with the enquiry, listed in a subject access export. One row per enquiry and link.
crm_attachment_links = Table(
    "crm_attachment_links",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("enquiry_id", String(36), ForeignKey("enquiries.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("url", String(1000), nullable=False),
    Column("name", String(200), nullable=False),
    Column("added_by", String(200), nullable=False),
    Column("added_at", UTC_TIME, nullable=False),
    Column("recorded_at", UTC_TIME, nullable=False),
    Column("crm_event_id", String(200)),
    UniqueConstraint("enquiry_id", "url", name="uq_crm_attachment_link"),
)

# Members who left office (migration 0008): `crm-bridge member retire` records one row; such a
# member can no longer be chosen for new enquiries, and their open ones went to handover_to.
member_departures = Table(
    "member_departures",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("left_at", UTC_TIME, nullable=False),
    Column("handover_to", String(64), nullable=False),
    Column("recorded_by", String(200), nullable=False),
    Column("reason", Text, nullable=False),
)

# A search's words kept server-side for 30 minutes (migration 0015): result pages link by the
# random token, so no name, postcode or e-mail is written in a URL. Ends with the session.
search_tokens = Table(
    "search_tokens",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("session_id", String(64), ForeignKey("portal_sessions.id", ondelete="CASCADE"),
           nullable=False, index=True),
    Column("terms", JSON, nullable=False),
    Column("expires_at", UTC_TIME, nullable=False, index=True),
)
