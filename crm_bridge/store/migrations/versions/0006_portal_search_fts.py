"""portal search: a trigram full-text index over the enquiries' searchable text (SQLite)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03

The portal's free-text search is a substring match (LIKE '%words%') over the reference, the
constituent's name, the description and the location. Without an index SQLite reads every
row in the searcher's scope to test it; with 100,000 enquiries that was most of a search's
time. ``enquiries_fts`` is an FTS5 table with the trigram tokenizer (substring matching,
case folded), external content (it indexes ``enquiries`` and stores no copy of the text),
kept in step by the three triggers below. The portal uses it to narrow the rows it then
still tests with the same LIKE, so results are exactly what they were.

Rows are keyed by the enquiries table's rowid. Should the rowids ever change (a VACUUM of a
table without an INTEGER PRIMARY KEY may renumber them), rebuild the index with
``INSERT INTO enquiries_fts(enquiries_fts) VALUES('rebuild')``.

PostgreSQL is untouched: search there stays ILIKE (a pg_trgm GIN index would serve it).
The table and its shadow tables are not in ``tables.py`` (SQLAlchemy cannot describe a
virtual table); tests/test_migrations.py leaves them out of its comparison by name.
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# Written out in full (no string building): the statements are the schema.
_STATEMENTS = (
    "CREATE VIRTUAL TABLE enquiries_fts USING fts5("
    "reference, constituent_name, description, location, "
    "content='enquiries', content_rowid='rowid', tokenize='trigram')",
    "INSERT INTO enquiries_fts(enquiries_fts) VALUES('rebuild')",
    """CREATE TRIGGER enquiries_fts_insert AFTER INSERT ON enquiries BEGIN
        INSERT INTO enquiries_fts(rowid, reference, constituent_name, description, location)
            VALUES (new.rowid, new.reference, new.constituent_name, new.description, new.location);
    END""",
    """CREATE TRIGGER enquiries_fts_delete AFTER DELETE ON enquiries BEGIN
        INSERT INTO enquiries_fts(enquiries_fts, rowid,
                reference, constituent_name, description, location)
            VALUES ('delete', old.rowid,
                old.reference, old.constituent_name, old.description, old.location);
    END""",
    """CREATE TRIGGER enquiries_fts_update
        AFTER UPDATE OF reference, constituent_name, description, location ON enquiries BEGIN
        INSERT INTO enquiries_fts(enquiries_fts, rowid,
                reference, constituent_name, description, location)
            VALUES ('delete', old.rowid,
                old.reference, old.constituent_name, old.description, old.location);
        INSERT INTO enquiries_fts(rowid, reference, constituent_name, description, location)
            VALUES (new.rowid, new.reference, new.constituent_name, new.description, new.location);
    END""",
)


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for statement in _STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for trigger in ("insert", "delete", "update"):
        op.execute(f"DROP TRIGGER IF EXISTS enquiries_fts_{trigger}")
    op.execute("DROP TABLE IF EXISTS enquiries_fts")
