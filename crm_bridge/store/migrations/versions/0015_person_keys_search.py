"""person keys for search and constituent history; saved searches; the search index widened

Revision ID: 0015
Revises: 0010
Create Date: 2026-12-05

enquiries gains the constituent's details as keys that compare as people write them
(``crm_bridge.personkeys``): ``email_key``, ``phone_key``, ``name_key`` (words sorted),
``postcode_key`` (compact) and ``outcode_key`` (with the date received), each indexed
(name with postcode, for "the same person"), and ``name_sound`` (Soundex codes of the
name's words: candidates for a misspelt name). Existing rows are filled in here. They are
personal data: rectification rewrites them, purge and erasure remove them.

search_tokens: a search's words kept server-side for 30 minutes under a random token, so
the pages of results link by token and no name, postcode or e-mail goes in a URL.

SQLite: migration 0006's full-text index (``enquiries_fts``) is made again with the
constituent's address, ``name_key`` and ``name_sound`` added, with its triggers.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_bridge.personkeys import keys_of

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

_KEYS = (("email_key", 320), ("phone_key", 20), ("name_key", 200), ("postcode_key", 8),
         ("outcode_key", 4), ("name_sound", 200))
_INDEXES = {"ix_enquiries_email_key": ["email_key"], "ix_enquiries_phone_key": ["phone_key"],
            "ix_enquiries_name_postcode": ["name_key", "postcode_key"],
            "ix_enquiries_postcode_key": ["postcode_key"],
            "ix_enquiries_outcode_key": ["outcode_key", "received_at"]}
# Written out in full (no string building), as in 0006: the statements are the schema.
_FTS = (
    "CREATE VIRTUAL TABLE enquiries_fts USING fts5("
    "reference, constituent_name, description, location, constituent_address, name_key, "
    "name_sound, content='enquiries', content_rowid='rowid', tokenize='trigram')",
    "INSERT INTO enquiries_fts(enquiries_fts) VALUES('rebuild')",
    """CREATE TRIGGER enquiries_fts_insert AFTER INSERT ON enquiries BEGIN
        INSERT INTO enquiries_fts(rowid, reference, constituent_name, description, location,
                constituent_address, name_key, name_sound)
            VALUES (new.rowid, new.reference, new.constituent_name, new.description,
                new.location, new.constituent_address, new.name_key, new.name_sound);
    END""",
    """CREATE TRIGGER enquiries_fts_delete AFTER DELETE ON enquiries BEGIN
        INSERT INTO enquiries_fts(enquiries_fts, rowid, reference, constituent_name,
                description, location, constituent_address, name_key, name_sound)
            VALUES ('delete', old.rowid, old.reference, old.constituent_name,
                old.description, old.location, old.constituent_address, old.name_key,
                old.name_sound);
    END""",
    """CREATE TRIGGER enquiries_fts_update AFTER UPDATE OF reference, constituent_name,
            description, location, constituent_address, name_key, name_sound ON enquiries BEGIN
        INSERT INTO enquiries_fts(enquiries_fts, rowid, reference, constituent_name,
                description, location, constituent_address, name_key, name_sound)
            VALUES ('delete', old.rowid, old.reference, old.constituent_name,
                old.description, old.location, old.constituent_address, old.name_key,
                old.name_sound);
        INSERT INTO enquiries_fts(rowid, reference, constituent_name, description, location,
                constituent_address, name_key, name_sound)
            VALUES (new.rowid, new.reference, new.constituent_name, new.description,
                new.location, new.constituent_address, new.name_key, new.name_sound);
    END""",
)
_FTS_0006 = (
    "CREATE VIRTUAL TABLE enquiries_fts USING fts5("
    "reference, constituent_name, description, location, "
    "content='enquiries', content_rowid='rowid', tokenize='trigram')",
    "INSERT INTO enquiries_fts(enquiries_fts) VALUES('rebuild')",
    "CREATE TRIGGER enquiries_fts_insert AFTER INSERT ON enquiries BEGIN "
    "INSERT INTO enquiries_fts(rowid, reference, constituent_name, description, location) "
    "VALUES (new.rowid, new.reference, new.constituent_name, new.description, new.location);"
    " END",
    "CREATE TRIGGER enquiries_fts_delete AFTER DELETE ON enquiries BEGIN "
    "INSERT INTO enquiries_fts(enquiries_fts, rowid, reference, constituent_name, "
    "description, location) VALUES ('delete', old.rowid, old.reference, "
    "old.constituent_name, old.description, old.location); END",
    "CREATE TRIGGER enquiries_fts_update AFTER UPDATE OF reference, constituent_name, "
    "description, location ON enquiries BEGIN "
    "INSERT INTO enquiries_fts(enquiries_fts, rowid, reference, constituent_name, "
    "description, location) VALUES ('delete', old.rowid, old.reference, "
    "old.constituent_name, old.description, old.location); "
    "INSERT INTO enquiries_fts(rowid, reference, constituent_name, description, location) "
    "VALUES (new.rowid, new.reference, new.constituent_name, new.description, new.location);"
    " END",
)


def _drop_fts() -> None:
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS enquiries_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS enquiries_fts")


def _backfill() -> None:
    conn = op.get_bind()
    table = sa.table("enquiries", sa.column("id"), sa.column("constituent_name"),
                     sa.column("constituent_email"), sa.column("constituent_phone"),
                     sa.column("constituent_postcode"), sa.column("purged_at"),
                     *(sa.column(name) for name, _ in _KEYS))
    c = table.c
    statement = (sa.update(table).where(c.id == sa.bindparam("_id"))
                 .values({name: sa.bindparam(name) for name, _ in _KEYS}))
    last = ""
    while True:  # a chunk at a time, by id, so a large store is never all in memory
        rows = conn.execute(sa.select(c.id, c.constituent_name, c.constituent_email,
                                      c.constituent_phone, c.constituent_postcode)
                            .where(c.purged_at.is_(None), c.id > last)
                            .order_by(c.id).limit(2000)).all()
        if not rows:
            return
        conn.execute(statement, [
            {"_id": r.id, **keys_of(r.constituent_name, r.constituent_email,
                                    r.constituent_phone, r.constituent_postcode).columns()}
            for r in rows])
        last = rows[-1].id


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, length in _KEYS:
        op.add_column("enquiries", sa.Column(name, sa.String(length)))
    if sqlite:
        _drop_fts()  # filled once at the end, not row by row through the triggers
    _backfill()
    for index, columns in _INDEXES.items():
        op.create_index(index, "enquiries", columns)
    if sqlite:
        for statement in _FTS:
            op.execute(statement)
    op.create_table(
        "search_tokens",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("terms", sa.JSON, nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["session_id"], ["portal_sessions.id"],
                                name="fk_search_tokens_session_id_portal_sessions",
                                ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id", name="pk_search_tokens"),
    )
    op.create_index("ix_search_tokens_session_id", "search_tokens", ["session_id"])
    op.create_index("ix_search_tokens_expires_at", "search_tokens", ["expires_at"])


def downgrade() -> None:
    op.drop_table("search_tokens")
    sqlite = op.get_bind().dialect.name == "sqlite"
    if sqlite:
        _drop_fts()
    for index in _INDEXES:
        op.drop_index(index, table_name="enquiries")
    with op.batch_alter_table("enquiries") as batch:
        for name, _ in _KEYS:
            batch.drop_column(name)
    if sqlite:
        for statement in _FTS_0006:
            op.execute(statement)
