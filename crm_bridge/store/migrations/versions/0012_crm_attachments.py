"""attachments to and from the CRM: the CRM's reference for each photo sent, links to the
CRM's own files, and the photos already waiting queued for the CRM

Revision ID: 0012
Revises: 0010
Create Date: 2026-12-05

attachments.crm_ref: what the CRM answered for a photo it took (its id or link), beside
``sent_at``.

crm_attachment_links: files officers put on a case in the CRM, kept as links (the CRM keeps
the file); who added each and when, in the CRM's words and time, and when the bridge first
read it. Personal data: purge and erasure delete the rows, a subject access export lists
them. One row per enquiry and link, so reading the same change again adds nothing.

Photos stored before this revision were never sent (nothing wrote ``sent_at``): each one on
an enquiry that is neither closed nor purged gets its ``add_attachment`` outbox row now, so
the next sync passes it on once the case exists.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


# Each photo still unsent, on an enquiry neither closed nor purged: its outbox row.
_QUEUE = ("INSERT INTO outbox (enquiry_id, kind, payload, state, attempts, created_at) "
          "SELECT a.enquiry_id, 'add_attachment', {payload}, 'pending', 0, a.created_at "
          "FROM attachments a JOIN enquiries e ON e.id = a.enquiry_id "
          "WHERE a.sent_at IS NULL AND e.purged_at IS NULL AND e.status <> 'closed' "
          "ORDER BY a.id")
_QUEUE_SQLITE = _QUEUE.replace("{payload}", "json_object('attachment_id', a.id)")
_QUEUE_POSTGRES = _QUEUE.replace("{payload}", "json_build_object('attachment_id', a.id)")


def upgrade() -> None:
    op.add_column("attachments", sa.Column("crm_ref", sa.String(length=500), nullable=True))
    op.create_table(
        "crm_attachment_links",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("enquiry_id", sa.String(length=36), nullable=False),
        sa.Column("url", sa.String(length=1000), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("added_by", sa.String(length=200), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("crm_event_id", sa.String(length=200), nullable=True),
        sa.ForeignKeyConstraint(
            ["enquiry_id"], ["enquiries.id"],
            name=op.f("fk_crm_attachment_links_enquiry_id_enquiries"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crm_attachment_links")),
        sa.UniqueConstraint("enquiry_id", "url", name="uq_crm_attachment_link"),
    )
    with op.batch_alter_table("crm_attachment_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_crm_attachment_links_enquiry_id"), ["enquiry_id"],
                              unique=False)
    postgres = op.get_bind().dialect.name == "postgresql"
    op.execute(_QUEUE_POSTGRES if postgres else _QUEUE_SQLITE)


def downgrade() -> None:
    op.execute("DELETE FROM outbox WHERE kind = 'add_attachment'")
    with op.batch_alter_table("crm_attachment_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crm_attachment_links_enquiry_id"))
    op.drop_table("crm_attachment_links")
    with op.batch_alter_table("attachments") as batch:
        batch.drop_column("crm_ref")
