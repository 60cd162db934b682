"""Schema migrations through Alembic, run from the bridge's own CLI (`crm-bridge db upgrade`).

Every command checks the store's revision before it works (``ensure_current``). That check
reads Alembic's version table with plain SQL and compares it with ``HEAD_REVISION``, so a
cron ``sync`` does not import Alembic and parse every migration script just to start; only
``db upgrade`` and ``db status`` load Alembic.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, column, inspect, select, table

from crm_bridge.errors import ConfigError

if TYPE_CHECKING:
    from alembic.config import Config

__all__ = ["HEAD_REVISION", "current_revision", "ensure_current", "head_revision",
           "missing_store", "upgrade"]

HEAD_REVISION = "0016"
"""The newest migration's revision: a new migration must change it (a test compares it with
the head Alembic finds in ``migrations/versions``)."""

_SCRIPTS = Path(__file__).with_name("migrations")
_VERSION_TABLE = table("alembic_version", column("version_num"))


def _alembic_config() -> Config:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    return config


def head_revision() -> str:
    """The head revision as Alembic finds it among the migration scripts."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The revision recorded in the store (None for a store without Alembic's table)."""
    with engine.connect() as connection:
        if not inspect(connection).has_table(_VERSION_TABLE.name):
            return None
        heads = connection.execute(select(_VERSION_TABLE.c.version_num)).scalars().all()
    if len(heads) > 1:
        raise ConfigError(f"the state store's alembic_version table holds {len(heads)} "
                          "revisions where it should hold one: the schema was changed outside "
                          "'crm-bridge db upgrade'")
    return heads[0] if heads else None


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str]:
    """Bring the schema to ``revision``; returns (before, after)."""
    from alembic import command

    before = current_revision(engine)
    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
    return before, head_revision() if revision == "head" else revision


def ensure_current(engine: Engine) -> None:
    """Refuse to work on a store whose schema is missing or behind the code."""
    missing = missing_store(engine, creating=False)
    if missing is not None:
        raise ConfigError(missing)
    current = current_revision(engine)
    if current != HEAD_REVISION:
        state = "has no tables" if current is None else f"is at revision {current}"
        raise ConfigError(
            f"the state store {state}; run 'crm-bridge db upgrade' to bring it up to date"
        )


def missing_store(engine: Engine, creating: bool) -> str | None:
    """Why a SQLite store's file cannot be used (or, ``creating``, made): None if it can.

    Connecting would create a missing file empty, so a command refused for want of
    `db upgrade` (or a misspelt store path) would leave a stray file behind; and in a
    folder that does not exist SQLite can only say "unable to open database file".
    """
    url = engine.url
    database = url.database
    if (url.get_backend_name() != "sqlite" or database in (None, "", ":memory:")
            or database.startswith("file:") or Path(database).exists()):
        return None
    path = Path(database)
    folder = path.parent
    if not folder.is_dir():
        state = "is not a folder" if folder.exists() else "does not exist"
        return (f"store.url: the state store's folder {folder} {state}: create it "
                f"(mkdir -p {folder}) and run 'crm-bridge db upgrade', or correct store.url")
    if creating:
        return None
    return (f"the state store {path} does not exist yet: run 'crm-bridge db upgrade' to "
            "create it (or correct store.url if it is elsewhere)")
