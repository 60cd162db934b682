"""sync: an index for the reminders step, so a pass costs what is due, not the caseload

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04

The reminders step asks for open enquiries whose warning date has come. The (status,
target_date) index made it read every open enquiry; (status, warning_date) reads only those
whose warning date has passed.
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_enquiries_status_warning", "enquiries", ["status", "warning_date"])


def downgrade() -> None:
    op.drop_index("ix_enquiries_status_warning", table_name="enquiries")
