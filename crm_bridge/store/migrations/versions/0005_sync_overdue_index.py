"""sync: an index for the overdue step, so marking costs what became overdue, not the history

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02

The overdue step asks for open enquiries not yet marked whose target date has passed.
The older indexes answer either "not marked and past the date" (every closed enquiry too)
or "open and past the date" (every enquiry already marked too); this one answers exactly.
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_enquiries_overdue_scan", "enquiries",
                    ["overdue", "status", "target_date"])


def downgrade() -> None:
    op.drop_index("ix_enquiries_overdue_scan", table_name="enquiries")
