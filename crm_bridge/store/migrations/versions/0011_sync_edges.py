"""sync edges: CRM updates held on an unmapped status, and the outbox's attempt-started marker

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05

``held_updates``: a change pulled from the CRM whose status the mapping does not know is
kept here, not applied, until the mapping learns the status; a later sync applies it and
removes the row. One row per CRM change (enquiry, CRM event id). It may hold an officer's
response text, so purge and erasure delete an enquiry's rows.

``outbox.attempt_started_at``: written (and committed) just before push first calls the CRM
for the row, so a later try knows an earlier one may have reached the CRM and looks the case
up before creating it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("attempt_started_at", sa.DateTime(timezone=True)))
    op.create_table(
        "held_updates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enquiry_id", sa.String(36), nullable=False),
        sa.Column("connector", sa.String(64), nullable=False),
        sa.Column("crm_event_id", sa.String(200), nullable=False),
        sa.Column("case_ref", sa.String(200), nullable=False),
        sa.Column("crm_status", sa.String(200), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("response", sa.Text()),
        sa.Column("actor", sa.String(200), nullable=False),
        sa.Column("held_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["enquiry_id"], ["enquiries.id"], ondelete="CASCADE",
                                name="fk_held_updates_enquiry_id_enquiries"),
        sa.PrimaryKeyConstraint("id", name="pk_held_updates"),
        sa.UniqueConstraint("enquiry_id", "crm_event_id", name="uq_held_update_event"),
    )
    op.create_index("ix_held_updates_connector_status", "held_updates",
                    ["connector", "crm_status"])


def downgrade() -> None:
    op.drop_index("ix_held_updates_connector_status", table_name="held_updates")
    op.drop_table("held_updates")
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("attempt_started_at")
