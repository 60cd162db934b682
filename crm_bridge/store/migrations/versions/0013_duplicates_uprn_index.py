"""duplicates: the constituent's UPRN indexed, for the duplicate check's same-property look-up

Revision ID: 0013
Revises: 0010
Create Date: 2026-12-05

The duplicate check (crm_bridge/duplicates/) reads the enquiries at the same property
(``constituent_uprn``) besides those in the same ward and at the same postcode; without an
index that read would scan every enquiry.
"""

from __future__ import annotations

from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_enquiries_constituent_uprn", "enquiries", ["constituent_uprn"])


def downgrade() -> None:
    op.drop_index("ix_enquiries_constituent_uprn", table_name="enquiries")
