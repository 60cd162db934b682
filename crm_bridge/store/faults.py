"""The store's faults in words: a server that cannot be reached, a file that cannot be
opened or written. Translated once, at the engine (SQLAlchemy's ``handle_error`` event),
into ``StoreUnavailable`` naming the store (never its password) and the fix, so every
command, the portal and sync say the same one line instead of a driver traceback.

A SQLite store whose folder or file this user cannot write is opened read-only (reads
work; a write is refused with that one line) rather than failing at the first pragma.
"""

from __future__ import annotations

import os
import pwd
import weakref
from pathlib import Path

from sqlalchemy import Engine, event
from sqlalchemy.engine import ExceptionContext, make_url

from crm_bridge.errors import StoreUnavailable

__all__ = ["fault", "read_only_reason", "read_only_url", "shown", "sqlite_file", "watch"]

# SQLite's extended result codes (Python's sqlite_errorname) that mean the file, its folder
# or the disk is the problem, not the statement.
_SQLITE_OPEN = ("SQLITE_CANTOPEN", "SQLITE_IOERR",
                "SQLITE_PERM", "SQLITE_AUTH")


def sqlite_file(url: str) -> Path | None:
    """The file of a ``sqlite:///path`` URL; None for memory, URI forms and servers."""
    parsed = make_url(url)
    database = parsed.database
    if parsed.get_backend_name() != "sqlite" or not database or database == ":memory:":
        return None
    if database.startswith("file:"):
        return None
    return Path(database)


def shown(url: str) -> str:
    """The store as an admin may see it: a SQLite path, or server, port, database and user
    (never the password)."""
    path = sqlite_file(url)
    if path is not None:
        return str(path)
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return parsed.render_as_string(hide_password=True)
    user = f"{parsed.username}@" if parsed.username else ""
    return (f"postgresql://{user}{parsed.host or 'localhost'}:{parsed.port or 5432}"
            f"/{parsed.database or ''}")


def read_only_reason(path: Path) -> str | None:
    """Why this process cannot write the SQLite store at ``path`` (which exists), or None.

    A WAL database can be written in a read-only folder only while its -wal and -shm files
    exist and are writable; any other write needs the folder too.
    """
    if not os.access(path, os.W_OK):
        return f"the file {path} is not writable"
    folder = path.parent
    if os.access(folder, os.W_OK):
        return None
    sides = [Path(f"{path}-wal"), Path(f"{path}-shm")]
    if all(side.exists() and os.access(side, os.W_OK) for side in sides):
        return None
    return f"its folder {folder} is not writable"


def read_only_url(path: Path) -> str:
    """A URL that opens ``path`` read-only.

    With no -shm file no WAL writer is active, and a reader in a folder it cannot write
    could not create one, so the file is opened as immutable (SQLite's only way to read a
    WAL database there); otherwise it shares the existing -shm read-only.
    """
    immutable = "" if Path(f"{path}-shm").exists() else "&immutable=1"
    return f"sqlite:///file:{path.resolve()}?mode=ro{immutable}&uri=true"


def watch(engine: Engine, store: str, read_only: str | None = None) -> None:
    """Translate ``engine``'s store faults into ``StoreUnavailable``.

    ``store`` is how the store is named in messages; ``read_only`` why it was opened so.
    """
    _WATCHED[engine] = (store, read_only)

    def translate(context: ExceptionContext) -> None:
        if context.is_pre_ping:  # the pool reconnects; a failure there comes back here
            return
        if (context.dialect.name != "sqlite" and context.connection is not None
                and not context.is_disconnect):
            return  # a statement's own error: not the store's reachability
        error = fault(engine, context.original_exception)
        if error is not None:
            raise error from context.original_exception

    event.listen(engine, "handle_error", translate)


def fault(engine: Engine, original: BaseException) -> StoreUnavailable | None:
    """``original`` (a driver error on ``engine``) as a store fault, or None if it is not one.

    Also for statements run straight on the driver, which ``handle_error`` does not see.
    On PostgreSQL only errors from connecting or a dropped connection may be passed here.
    """
    store, read_only = _WATCHED.get(engine, (shown(str(engine.url)), None))
    if engine.dialect.name == "sqlite":
        name = str(getattr(original, "sqlite_errorname", ""))
        if name.startswith("SQLITE_READONLY"):
            why = read_only or _folder_reason(store)
            return StoreUnavailable(
                f"the store {store} is read-only for user {_user()} ({why}): nothing "
                "was changed; make the file and its folder writable for that user "
                "(ownership, permissions, or a read-write mount)")
        if name.startswith("SQLITE_NOTADB"):
            return StoreUnavailable(
                f"the store {store} is not a SQLite database: check the path in its URL "
                "(store.url for the state store)")
        if name.startswith("SQLITE_FULL"):
            return StoreUnavailable(
                f"the disk holding the store {store} is full: nothing more was written; free "
                "some space and run the command again")
        if name.startswith(_SQLITE_OPEN):
            return StoreUnavailable(
                f"cannot open the store {store}: {original}: check that the file and its "
                f"folder exist and that user {_user()} may read and write them")
        return None
    reason = _first_line(str(original))
    return StoreUnavailable(
        f"cannot reach the state store {store}: {reason}: check that PostgreSQL is running "
        "there and that store.url names the right host, port, database and role (and that "
        "its password variable is set)")


_WATCHED: weakref.WeakKeyDictionary[Engine, tuple[str, str | None]] = (
    weakref.WeakKeyDictionary())


def _first_line(message: str) -> str:
    """psycopg's connect errors, without the "connection failed: ..." preamble."""
    line = message.strip().splitlines()[0] if message.strip() else "no answer"
    for noise in ("connection failed: ", "FATAL:  "):
        line = line.replace(noise, "")
    return line.strip()


def _folder_reason(store: str) -> str:
    path = Path(store)
    if path.parent.is_dir() and not os.access(path.parent, os.W_OK):
        return f"its folder {path.parent} is not writable"
    return "the file or its folder is not writable"


def _user() -> str:
    try:
        return pwd.getpwuid(os.geteuid()).pw_name
    except KeyError:
        return str(os.geteuid())
