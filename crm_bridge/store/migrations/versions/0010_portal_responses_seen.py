"""portal: when each response reached the bridge, and when each account last marked them read

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04

enquiries.response_arrived_at: the bridge's own time when a CRM response was first stored
(``responded_at`` is the CRM's time of the response, which may be earlier than the sync that
brought it, so it cannot tell what arrived since a member last looked). Existing responses
take their ``responded_at``. Indexed alone (staff of many members) and after member_id (a
member's own and their colleagues' shared enquiries).

users.responses_seen_at: when the account last marked the dashboard's "Responses since you
last looked" as read (empty: never).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("enquiries", sa.Column("response_arrived_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE enquiries SET response_arrived_at = responded_at "
               "WHERE responded_at IS NOT NULL")
    op.create_index("ix_enquiries_response_arrived", "enquiries", ["response_arrived_at"])
    op.create_index("ix_enquiries_member_arrived", "enquiries",
                    ["member_id", "response_arrived_at"])
    op.add_column("users", sa.Column("responses_seen_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("responses_seen_at")
    op.drop_index("ix_enquiries_member_arrived", table_name="enquiries")
    op.drop_index("ix_enquiries_response_arrived", table_name="enquiries")
    with op.batch_alter_table("enquiries") as batch:
        batch.drop_column("response_arrived_at")
