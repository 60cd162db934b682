"""The embedded case store: a small CRM in a SQLite file, so the bridge runs with no CRM at all.

It behaves like the real ones the bridge talks to: cases in queues, an
external reference that makes creation idempotent, notes, statuses
(new → open → resolved → closed), files put on a case, and a change feed that service
officers' work appears in.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import (
    Column,
    Engine,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    bindparam,
    delete,
    select,
    update,
)
from sqlalchemy.dialects.sqlite import insert

from crm_bridge.errors import NotFoundError, PermanentError
from crm_bridge.store.engine import make_engine
from crm_bridge.store.types import UtcDateTime

__all__ = ["ANONYMISED", "CASE_STATUSES", "CaseEvent", "CaseFile", "LocalCase",
           "LocalCaseStore"]

CASE_STATUSES = ("new", "open", "resolved", "closed")
ANONYMISED = "(personal data removed)"

_meta = MetaData()
_cases = Table(
    "cases",
    _meta,
    Column("number", Integer, primary_key=True, autoincrement=True),
    Column("external_ref", String(100), nullable=False, unique=True),
    Column("queue", String(100), nullable=False, index=True),
    Column("title", String(300), nullable=False),
    Column("body", Text, nullable=False),
    Column("status", String(20), nullable=False, index=True),
    Column("due", String(10)),
    Column("response", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)
_events = Table(
    "case_events",
    _meta,
    Column("seq", Integer, primary_key=True, autoincrement=True),
    Column("number", Integer, ForeignKey("cases.number"), nullable=False, index=True),
    Column("at", UtcDateTime(), nullable=False),
    Column("kind", String(20), nullable=False),  # created | note | status | response
    Column("actor", String(200), nullable=False),
    Column("body", Text, nullable=False, default=""),
    Column("status", String(20)),
)
# Files put on a case (photos the bridge passed on). ``key`` is the sender's key for the
# file: a second put with the same key is the first one again (a retry after a lost reply).
_files = Table(
    "case_files",
    _meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("number", Integer, ForeignKey("cases.number"), nullable=False, index=True),
    Column("key", String(200), nullable=False, unique=True),
    Column("filename", String(200), nullable=False),
    Column("content_type", String(100), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("actor", String(200), nullable=False),
    Column("at", UtcDateTime(), nullable=False),
)


# Built once and executed with parameters, so SQLAlchemy reuses their compiled form.
# Opening a case returns the new row, so the caller needs no second read.
_OPEN_CASE = (insert(_cases).on_conflict_do_nothing(index_elements=["external_ref"])
              .returning(*_cases.c))
_CASE_BY_EXTERNAL_REF = select(_cases).where(_cases.c.external_ref == bindparam("external_ref"))
_ADD_EVENT = _events.insert()


def case_id(number: int) -> str:
    return f"LOC-{number:06d}"


def case_number(case_ref: str) -> int:
    prefix, _, digits = case_ref.partition("-")
    if prefix != "LOC" or not digits.isdigit():
        raise NotFoundError(f"'{case_ref}' is not a local case reference (like LOC-000042)")
    return int(digits)


@dataclass(frozen=True)
class LocalCase:
    case_ref: str
    external_ref: str
    queue: str
    title: str
    body: str
    status: str
    due: str | None
    response: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class CaseEvent:
    seq: int
    case_ref: str
    external_ref: str
    at: datetime
    kind: str
    actor: str
    body: str
    status: str | None


@dataclass(frozen=True)
class CaseFile:
    file_ref: str
    case_ref: str
    filename: str
    content_type: str
    sha256: str
    data: bytes
    actor: str
    at: datetime


def file_id(case_ref: str, number: int) -> str:
    return f"{case_ref}/file/{number}"


def _now() -> datetime:
    return datetime.now(UTC)


class LocalCaseStore:
    """The case store itself; the connector and the officer commands both work through it."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.engine: Engine = make_engine(f"sqlite:///{path}")
        _meta.create_all(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    def create(
        self, external_ref: str, queue: str, title: str, body: str, due: str | None = None,
        at: datetime | None = None,
    ) -> tuple[LocalCase, bool]:
        """Open a case, or return the one already opened for ``external_ref`` (created=False)."""
        if not title.strip() or not body.strip():
            raise PermanentError("a case needs a title and a body")
        when = at or _now()
        with self.engine.begin() as conn:
            row = conn.execute(_OPEN_CASE, {
                "external_ref": external_ref, "queue": queue, "title": title[:300],
                "body": body, "status": "new", "due": due, "created_at": when,
                "updated_at": when,
            }).one_or_none()
            created = row is not None
            if row is None:  # opened before: the existing case, as it is now
                row = conn.execute(_CASE_BY_EXTERNAL_REF, {"external_ref": external_ref}).one()
            else:
                conn.execute(_ADD_EVENT, {"number": row.number, "at": when, "kind": "created",
                                          "actor": "bridge", "body": "", "status": "new"})
        return _case(row), created

    def find(self, external_ref: str) -> LocalCase | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(_cases).where(_cases.c.external_ref == external_ref)).first()
        return _case(row) if row else None

    def get(self, case_ref: str) -> LocalCase:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(_cases).where(_cases.c.number == case_number(case_ref))
            ).first()
        if row is None:
            raise NotFoundError(f"no local case {case_ref}")
        return _case(row)

    def queue(self, queue: str | None = None, include_done: bool = False) -> list[LocalCase]:
        query = select(_cases).order_by(_cases.c.due, _cases.c.number)
        if queue:
            query = query.where(_cases.c.queue == queue)
        if not include_done:
            query = query.where(_cases.c.status.in_(("new", "open")))
        with self.engine.connect() as conn:
            return [_case(row) for row in conn.execute(query)]

    def add_note(self, case_ref: str, text: str, actor: str, at: datetime | None = None) -> None:
        number = case_number(self.get(case_ref).case_ref)
        with self.engine.begin() as conn:
            conn.execute(_events.insert().values(
                number=number, at=at or _now(), kind="note", actor=actor, body=text))

    def add_file(self, case_ref: str, key: str, filename: str, content_type: str, data: bytes,
                 sha256: str, actor: str, at: datetime | None = None) -> tuple[str, bool]:
        """Put a file on the case; the file already put with ``key`` (created=False) if any."""
        number = case_number(self.get(case_ref).case_ref)
        with self.engine.begin() as conn:
            row = conn.execute(
                insert(_files).on_conflict_do_nothing(index_elements=["key"])
                .returning(_files.c.id),
                {"number": number, "key": key, "filename": filename[:200],
                 "content_type": content_type, "sha256": sha256, "data": data,
                 "actor": actor, "at": at or _now()}).one_or_none()
            if row is not None:
                return file_id(case_id(number), row.id), True
            found = conn.execute(select(_files.c.id, _files.c.number)
                                 .where(_files.c.key == key)).one()
        if found.number != number:
            raise PermanentError(f"file key '{key}' was used for {case_id(found.number)}")
        return file_id(case_id(found.number), found.id), False

    def files(self, case_ref: str) -> list[CaseFile]:
        """The files on the case, oldest first."""
        number = case_number(case_ref)
        with self.engine.connect() as conn:
            rows = conn.execute(select(_files).where(_files.c.number == number)
                                .order_by(_files.c.id)).all()
        return [CaseFile(file_id(case_id(number), r.id), case_id(number), r.filename,
                         r.content_type, r.sha256, bytes(r.data), r.actor, r.at) for r in rows]

    def set_status(
        self, case_ref: str, status: str, actor: str, response: str | None = None,
        at: datetime | None = None,
    ) -> LocalCase:
        """Move a case on; a response is recorded with the status it comes with."""
        if status not in CASE_STATUSES:
            allowed = ', '.join(CASE_STATUSES)
            raise PermanentError(f"unknown status '{status}': use one of {allowed}")
        number = case_number(case_ref)
        when = at or _now()
        values: dict[str, object] = {"status": status, "updated_at": when}
        if response is not None:
            values["response"] = response
        by_number = select(_cases).where(_cases.c.number == number)
        with self.engine.begin() as conn:  # checked and changed under the one write lock
            row = conn.execute(by_number).first()
            if row is None:
                raise NotFoundError(f"no local case {case_ref}")
            if row.status == "closed":
                raise PermanentError(f"{case_ref} is closed")
            conn.execute(update(_cases).where(_cases.c.number == number).values(**values))
            conn.execute(_events.insert().values(
                number=number, at=when, kind="response" if response is not None else "status",
                actor=actor, body=response or "", status=status))
            return _case(conn.execute(by_number).one())

    def anonymise(self, case_ref: str, at: datetime | None = None) -> None:
        """Remove the case's text, response, files and every event's text; keep its queue,
        status and dates. Overwritten on disk (secure_delete), not only unlinked."""
        number = case_number(self.get(case_ref).case_ref)
        with self.engine.begin() as conn:
            conn.exec_driver_sql("PRAGMA secure_delete=ON")
            conn.execute(update(_cases).where(_cases.c.number == number).values(
                title=f"{case_id(number)} (anonymised)", body=ANONYMISED, response=None,
                updated_at=at or _now()))
            conn.execute(update(_events).where(_events.c.number == number).values(body=""))
            conn.execute(delete(_files).where(_files.c.number == number))
        # The write-ahead log still holds earlier images of the pages: fold it in and empty it.
        raw = self.engine.raw_connection()
        try:
            raw.driver_connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # type: ignore[union-attr]
        finally:
            raw.close()

    def events_since(self, seq: int, kinds: tuple[str, ...] = ("status", "response"),
                     batch: int = 1000) -> Iterator[CaseEvent]:
        """Changes after ``seq``, oldest first, read in batches."""
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(_events, _cases.c.external_ref)
                    .join(_cases, _cases.c.number == _events.c.number)
                    .where(_events.c.seq > seq, _events.c.kind.in_(kinds))
                    .order_by(_events.c.seq).limit(batch)
                ).all()
            for row in rows:
                seq = row.seq
                yield CaseEvent(row.seq, case_id(row.number), row.external_ref, row.at,
                                row.kind, row.actor, row.body, row.status)
            if len(rows) < batch:
                return


def _case(row: object) -> LocalCase:
    m = row._mapping  # type: ignore[attr-defined]
    return LocalCase(case_id(m["number"]), m["external_ref"], m["queue"], m["title"], m["body"],
                     m["status"], m["due"], m["response"], m["created_at"], m["updated_at"])
