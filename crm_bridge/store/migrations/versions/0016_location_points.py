"""duplicates: a location written as 'latitude, longitude' kept as a point, indexed

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05

enquiries gains ``latitude`` and ``longitude``, filled from the location when it is a
'latitude, longitude' pair (``crm_bridge.places.coordinates``), and an index on them, so
the duplicate check reads the enquiries within ``duplicates.distance_metres`` of a point in
one index range, in any ward. Existing rows are filled in here. Like the location they come
from, they are personal data: purge and erasure remove them, rectification rewrites them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_bridge.places import coordinates

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def _backfill() -> None:
    conn = op.get_bind()
    table = sa.table("enquiries", sa.column("id"), sa.column("location"),
                     sa.column("purged_at"), sa.column("latitude"), sa.column("longitude"))
    c = table.c
    statement = (sa.update(table).where(c.id == sa.bindparam("_id"))
                 .values(latitude=sa.bindparam("lat"), longitude=sa.bindparam("long")))
    last = ""
    while True:  # a chunk at a time, by id, so a large store is never all in memory
        rows = conn.execute(sa.select(c.id, c.location)
                            .where(c.purged_at.is_(None), c.location.like("%,%"), c.id > last)
                            .order_by(c.id).limit(5000)).all()
        if not rows:
            return
        points = [(r.id, coordinates(r.location)) for r in rows]
        found = [{"_id": i, "lat": p[0], "long": p[1]} for i, p in points if p is not None]
        if found:
            conn.execute(statement, found)
        last = rows[-1].id


def upgrade() -> None:
    op.add_column("enquiries", sa.Column("latitude", sa.Float()))
    op.add_column("enquiries", sa.Column("longitude", sa.Float()))
    op.create_index("ix_enquiries_point", "enquiries", ["latitude", "longitude"])
    _backfill()


def downgrade() -> None:
    op.drop_index("ix_enquiries_point", table_name="enquiries")
    for name in ("longitude", "latitude"):
        # In place (SQLite 3.35+ too): a batch copy of the table would leave the full-text
        # index (migration 0015) pointing at the old rowids.
        op.execute(f"ALTER TABLE enquiries DROP COLUMN {name}")
