"""The back end's own INSERT, for ``ON CONFLICT`` upserts, without loading the other one.

SQLAlchemy's PostgreSQL dialect takes longer to import than a cron ``sync`` on SQLite takes
to run, so it is imported only for a PostgreSQL store.
"""

from __future__ import annotations

from typing import Any

__all__ = ["insert_for"]


def insert_for(dialect: str) -> Any:
    """``insert`` of ``dialect`` ("postgresql"; anything else is SQLite)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert

        return postgresql_insert
    from sqlalchemy.dialects.sqlite import insert as sqlite_insert

    return sqlite_insert
