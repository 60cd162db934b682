"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_counters")),
    )
    op.create_table(
        "enquiries",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("reference", sa.String(length=20), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("logged_by", sa.String(length=200), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("constituent_name", sa.String(length=200), nullable=False),
        sa.Column("constituent_address", sa.Text(), nullable=True),
        sa.Column("constituent_postcode", sa.String(length=10), nullable=True),
        sa.Column("constituent_email", sa.String(length=320), nullable=True),
        sa.Column("constituent_phone", sa.String(length=40), nullable=True),
        sa.Column("constituent_uprn", sa.String(length=12), nullable=True),
        sa.Column("consent_to_share", sa.Boolean(), nullable=False),
        sa.Column("consent_recorded_by", sa.String(length=200), nullable=False),
        sa.Column("consent_recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("category_id", sa.String(length=64), nullable=False),
        sa.Column("service_id", sa.String(length=64), nullable=False),
        sa.Column("ward_id", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("location", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("target_date", sa.Date(), nullable=False),
        sa.Column("warning_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("crm_ref", sa.String(length=200), nullable=True),
        sa.Column("response", sa.Text(), nullable=True),
        sa.Column("responded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("failure_reason", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enquiries")),
        sa.UniqueConstraint("reference", name=op.f("uq_enquiries_reference")),
    )
    with op.batch_alter_table("enquiries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_enquiries_category_id"), ["category_id"], unique=False)
        batch_op.create_index("ix_enquiries_crm_ref", ["crm_ref"], unique=False)
        batch_op.create_index(batch_op.f("ix_enquiries_member_id"), ["member_id"], unique=False)
        batch_op.create_index("ix_enquiries_open_target", ["overdue", "target_date"], unique=False)
        batch_op.create_index("ix_enquiries_status", ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_enquiries_ward_id"), ["ward_id"], unique=False)

    op.create_table(
        "locks",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_locks")),
    )
    op.create_table(
        "sync_cursors",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_sync_cursors")),
    )
    op.create_table(
        "enquiry_history",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enquiry_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=True),
        sa.Column("crm_event_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["enquiry_id"],
            ["enquiries.id"],
            name=op.f("fk_enquiry_history_enquiry_id_enquiries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_enquiry_history")),
        sa.UniqueConstraint("enquiry_id", "crm_event_id", name="uq_history_crm_event"),
    )
    with op.batch_alter_table("enquiry_history", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_enquiry_history_enquiry_id"), ["enquiry_id"], unique=False
        )

    op.create_table(
        "enquiry_links",
        sa.Column("enquiry_id", sa.String(length=36), nullable=False),
        sa.Column("linked_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.ForeignKeyConstraint(
            ["enquiry_id"],
            ["enquiries.id"],
            name=op.f("fk_enquiry_links_enquiry_id_enquiries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["linked_id"],
            ["enquiries.id"],
            name=op.f("fk_enquiry_links_linked_id_enquiries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("enquiry_id", "linked_id", name=op.f("pk_enquiry_links")),
    )
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enquiry_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["enquiry_id"],
            ["enquiries.id"],
            name=op.f("fk_outbox_enquiry_id_enquiries"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_enquiry_id"), ["enquiry_id"], unique=False)
        batch_op.create_index("ix_outbox_pending", ["state", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.drop_index(batch_op.f("ix_outbox_enquiry_id"))

    op.drop_table("outbox")
    op.drop_table("enquiry_links")
    with op.batch_alter_table("enquiry_history", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enquiry_history_enquiry_id"))

    op.drop_table("enquiry_history")
    op.drop_table("sync_cursors")
    op.drop_table("locks")
    with op.batch_alter_table("enquiries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_enquiries_ward_id"))
        batch_op.drop_index("ix_enquiries_status")
        batch_op.drop_index("ix_enquiries_open_target")
        batch_op.drop_index(batch_op.f("ix_enquiries_member_id"))
        batch_op.drop_index("ix_enquiries_crm_ref")
        batch_op.drop_index(batch_op.f("ix_enquiries_category_id"))

    op.drop_table("enquiries")
    op.drop_table("counters")
