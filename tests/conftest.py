"""Shared fixtures: a council folder, a state store on SQLite and on a real PostgreSQL, a Bridge.

The PostgreSQL tests need the server at 127.0.0.1:5432 (trust auth, user postgres, database
``test``; override with $CRM_BRIDGE_TEST_POSTGRES). Each test gets a database of its own,
dropped afterwards. A server that cannot be reached fails the test: it is never skipped,
because CI must prove the bridge works on PostgreSQL.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, make_url, text
from sqlalchemy.exc import OperationalError

from crm_bridge.app import Bridge
from crm_bridge.intake import EnquiryDraft, draft_from, log_enquiry
from crm_bridge.models import Enquiry
from crm_bridge.store.engine import make_engine
from crm_bridge.store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "config.example.yaml"
EXAMPLE_STORE_LINE = "url: sqlite:///crm-bridge.db"

POSTGRES_ADMIN_URL = os.environ.get(
    "CRM_BRIDGE_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)

from support.constants import DRAFT_DEFAULTS, NOW  # noqa: E402  (shared with test modules)
from support.tls import TlsFiles, make_ca  # noqa: E402


@pytest.fixture(scope="session")
def test_ca(tmp_path_factory: pytest.TempPathFactory) -> TlsFiles:
    """A CA and a 127.0.0.1 certificate it signed, for the tests' TLS servers."""
    return make_ca(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def council_dir(tmp_path: Path) -> Path:
    """A council's folder: the example config as config.yaml, and the shipped mappings."""
    shutil.copy(EXAMPLE, tmp_path / "config.yaml")
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    return tmp_path


@contextmanager
def _postgres_database(template: str | None = None) -> Iterator[str]:
    """A new database (a copy of ``template`` if given), dropped on the way out."""
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT",
                          connect_args={"connect_timeout": 5})
    name = f"crm_bridge_t_{uuid.uuid4().hex}"
    copy_of = f' TEMPLATE "{template}"' if template else ""
    try:
        unreachable = None
        try:
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"{copy_of}'))
        except OperationalError as exc:
            unreachable = str(exc.orig).strip()
        if unreachable is not None:
            pytest.fail(
                f"PostgreSQL is not reachable at {POSTGRES_ADMIN_URL}: {unreachable}\n"
                "Start the server (trust auth for user postgres, database 'test') or point "
                "$CRM_BRIDGE_TEST_POSTGRES at one: these tests are not optional.",
                pytrace=False,
            )
        yield admin.url.set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def _upgraded(url: str) -> None:
    engine = make_engine(url)
    try:
        upgrade(engine)
    finally:
        engine.dispose()


@pytest.fixture(scope="session")
def postgres_template() -> Iterator[str]:
    """A database upgraded once per run; each test's upgraded store is a copy of it, which
    takes a fraction of the time of running every migration again."""
    with _postgres_database() as url:
        _upgraded(url)
        yield make_url(url).database or ""


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The state store, on each back end: a SQLite file in tmp_path, or a PostgreSQL database
    of the test's own. Empty, except that for a test using ``bridge`` the PostgreSQL database
    is a copy of ``postgres_template``, already at head (the bridge fixture upgrades it all
    the same, finding nothing to do)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'bridge.db'}"
        return
    template = (request.getfixturevalue("postgres_template")
                if "bridge" in request.fixturenames else None)
    with _postgres_database(template) as url:
        yield url


@pytest.fixture
def raw_engine(store_url: str) -> Iterator[Engine]:
    """An engine on the empty store (no schema), disposed afterwards."""
    engine = make_engine(store_url)
    yield engine
    engine.dispose()


@pytest.fixture
def config_file(council_dir: Path, store_url: str) -> Path:
    """council_dir's config.yaml pointing at the parametrised store."""
    path = council_dir / "config.yaml"
    text_ = path.read_text(encoding="utf-8")
    assert text_.count(EXAMPLE_STORE_LINE) == 1, "the example's store url has changed"
    path.write_text(text_.replace(EXAMPLE_STORE_LINE, f"url: {store_url}"), encoding="utf-8")
    return path


@pytest.fixture
def bridge(config_file: Path, store_url: str) -> Iterator[Bridge]:
    """A Bridge on the store upgraded to head, with the local connector in the council folder."""
    _upgraded(store_url)
    opened = Bridge.open(config_file)
    yield opened
    opened.close()


@pytest.fixture
def draft() -> Callable[..., EnquiryDraft]:
    """A valid draft (Kirsty Dalgleish, Clackmannanshire North, a pothole) with changes."""

    def make(**changes: Any) -> EnquiryDraft:
        return draft_from({**DRAFT_DEFAULTS, **changes})

    return make


@pytest.fixture
def log(bridge: Bridge, draft: Callable[..., EnquiryDraft]) -> Callable[..., Enquiry]:
    """Log an enquiry through intake as the portal does, at ``now`` (default NOW)."""

    def make(now: datetime = NOW, **changes: Any) -> Enquiry:
        return log_enquiry(bridge.engine, bridge.config, bridge.router, draft(**changes), now)

    return make
