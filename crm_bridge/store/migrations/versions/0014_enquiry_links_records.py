"""links: who linked two enquiries, when and why; unlinking recorded; folded enquiries

Revision ID: 0014
Revises: 0010
Create Date: 2026-12-05

enquiry_links gains who linked the pair, when, and why (``reason``), and, when the link
is undone, who, when and why (``unlinked_*``): an unlinked pair keeps its row, so the
link's story stays with it. Linking the same pair again clears the ``unlinked_*`` columns
(the history of both enquiries keeps every step). Rows from before have no such facts.

enquiries.folded_into: the enquiry whose CRM case this one was added to as a note when the
sync found them linked before this one was sent (its ``crm_ref`` is then that case's).
Indexed, to find an enquiry's folded partners when the CRM answers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("enquiry_links") as batch:
        batch.add_column(sa.Column("linked_by", sa.String(length=200)))
        batch.add_column(sa.Column("linked_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("reason", sa.Text()))
        batch.add_column(sa.Column("unlinked_by", sa.String(length=200)))
        batch.add_column(sa.Column("unlinked_at", sa.DateTime(timezone=True)))
        batch.add_column(sa.Column("unlink_reason", sa.Text()))
    op.create_index("ix_enquiry_links_linked_id", "enquiry_links", ["linked_id"])
    op.add_column("enquiries", sa.Column("folded_into", sa.String(length=36)))
    op.create_index("ix_enquiries_folded_into", "enquiries", ["folded_into"])


def downgrade() -> None:
    op.drop_index("ix_enquiries_folded_into", table_name="enquiries")
    with op.batch_alter_table("enquiries") as batch:
        batch.drop_column("folded_into")
    op.drop_index("ix_enquiry_links_linked_id", table_name="enquiry_links")
    with op.batch_alter_table("enquiry_links") as batch:
        for name in ("unlink_reason", "unlinked_at", "unlinked_by", "reason", "linked_at",
                     "linked_by"):
            batch.drop_column(name)
