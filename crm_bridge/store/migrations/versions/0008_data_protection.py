"""data protection: purge and archive markers on enquiries, members who left office

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04

``enquiries.purged_at``: when `crm-bridge purge` (or `sar erase`) removed the enquiry's
personal data; the row stays, with the facts reports count (ward, category, service,
member, dates, status). ``enquiries.archived_at``: when the enquiry was archived because its
member left office (`crm-bridge member retire`). ``member_departures``: who left office,
when, and to whom their open enquiries were handed over. The index finds closed, unpurged
enquiries by closing date without reading the purged ones.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enquiries", sa.Column("purged_at", sa.DateTime(timezone=True)))
    op.add_column("enquiries", sa.Column("archived_at", sa.DateTime(timezone=True)))
    op.create_index("ix_enquiries_retention", "enquiries", ["status", "purged_at", "closed_at"])
    op.create_table(
        "member_departures",
        sa.Column("member_id", sa.String(64), nullable=False),
        sa.Column("left_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("handover_to", sa.String(64), nullable=False),
        sa.Column("recorded_by", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("member_id", name="pk_member_departures"),
    )


def downgrade() -> None:
    op.drop_table("member_departures")
    op.drop_index("ix_enquiries_retention", table_name="enquiries")
    with op.batch_alter_table("enquiries") as batch:
        batch.drop_column("archived_at")
        batch.drop_column("purged_at")
