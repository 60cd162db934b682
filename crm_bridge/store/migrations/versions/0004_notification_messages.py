"""notification messages: the rendered message kept until sent, its Message-ID, its digest

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-25

Only adds nullable columns to ``notifications``, so it commutes with 0004 (portal tables).
It revises 0004 for now because 0004 was written against 0002 before this file existed;
whoever fixes the order can make it 0002 → 0003 → 0004 by swapping the two down_revisions.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=250), nullable=True))
        batch_op.add_column(sa.Column("message", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_column("digest_id")
        batch_op.drop_column("message")
        batch_op.drop_column("message_id")
