"""access: staff accounts name their staff group; audit rows say how the read was made

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04

users.staff_group: the config's access.staff_groups entry a staff account works in (whose
members' casework it may see). Accounts made before it have none and see every councillor's
casework, as the default group does.

audit_log.via: 'portal', or 'cli:<login>' for the command line (the operating-system login
that ran it); audit_log.target_user: the account an account change (a role granted, a
password reset, an account disabled) was made to. Indexed with actor for `crm-bridge audit
--user`.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.add_column(sa.Column("staff_group", sa.String(length=64), nullable=True))
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.add_column(sa.Column("via", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("target_user", sa.String(length=100), nullable=True))
        batch_op.create_index("ix_audit_log_actor_at", ["actor", "at"], unique=False)
        batch_op.create_index("ix_audit_log_target_user", ["target_user"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("audit_log") as batch_op:
        batch_op.drop_index("ix_audit_log_target_user")
        batch_op.drop_index("ix_audit_log_actor_at")
        batch_op.drop_column("target_user")
        batch_op.drop_column("via")
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("staff_group")
