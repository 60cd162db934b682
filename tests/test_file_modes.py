"""Files holding personal data or secrets come out owner-only (0600, folders 0700) whatever
the umask: the store (and its -wal and -shm), the local CRM's database, the .eml files of
the mail folder, and the config `init` writes."""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli_support import ADD, CRM_BRIDGE
from sqlalchemy import text

from connectors.local_store import LocalCaseStore
from crm_bridge.reminders.folder import FolderMailer
from crm_bridge.store.engine import make_engine

MESSAGE = b"Subject: Heads-up\r\nTo: roads@clacks.example.gov.uk\r\n\r\nENQ-2026-000001\r\n"


@contextmanager
def permissive_umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def loose(root: Path) -> dict[str, str]:
    """Every file or folder under ``root`` that someone other than its owner may read."""
    return {str(p.relative_to(root)): oct(mode(p)) for p in [root, *root.rglob("*")]
            if mode(p) & 0o077}


def test_the_cli_writes_owner_only_files_under_an_open_umask(tmp_path: Path) -> None:
    council = tmp_path / "council"
    env = {k: v for k, v in os.environ.items() if k != "CRM_BRIDGE_CONFIG"}
    config = str(council / "config.yaml")

    def run(*args: str) -> None:
        done = subprocess.run([CRM_BRIDGE, *args], env=env, capture_output=True, text=True,
                              timeout=120, umask=0o000, check=False)
        assert done.returncode == 0, f"{args}: {done.stderr}"

    run("init", str(council))
    text_of = (council / "config.yaml").read_text(encoding="utf-8")
    (council / "config.yaml").write_text(
        text_of.replace("  transport: smtp\n", "  transport: folder\n", 1), encoding="utf-8")
    run("--config", config, "enquiry", "add", *ADD)
    run("--config", config, "sync")
    run("--config", config, "notify", "test", "someone@clacks.example.gov.uk")

    assert sorted(p.name for p in (council / "mail").glob("*.eml")), "no mail was written"
    for name in ("crm-bridge.db", "local-crm.db", "config.yaml"):
        assert (council / name).exists(), name
    assert loose(council) == {}


def test_the_store_and_its_journal_files_are_owner_only_at_creation(tmp_path: Path) -> None:
    with permissive_umask(0o000):
        engine = make_engine(f"sqlite:///{tmp_path / 'store.db'}")
        try:
            with engine.begin() as conn:
                conn.execute(text("CREATE TABLE t (x TEXT)"))
                conn.execute(text("INSERT INTO t VALUES ('Jean Paterson')"))
            with engine.connect() as conn:  # held open: the -wal and -shm files exist
                assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
                files = {p.name: mode(p) for p in tmp_path.iterdir()}
        finally:
            engine.dispose()
    assert files == {"store.db": 0o600, "store.db-wal": 0o600, "store.db-shm": 0o600}


def test_an_existing_store_keeps_the_mode_its_owner_chose(tmp_path: Path) -> None:
    path = tmp_path / "store.db"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (x TEXT)"))
    engine.dispose()
    path.chmod(0o640)  # e.g. a backup group the council set up
    engine = make_engine(f"sqlite:///{path}")
    with engine.connect() as conn:
        conn.execute(text("SELECT * FROM t")).all()
    engine.dispose()
    assert mode(path) == 0o640


def test_the_local_crm_and_the_mail_folder_are_owner_only(tmp_path: Path) -> None:
    with permissive_umask(0o000):
        store = LocalCaseStore(tmp_path / "local-crm.db")
        store.close()
        mailer = FolderMailer(tmp_path / "mail" / "outbox")
        mailer.send("members-enquiries@clacks.example.gov.uk",
                    ["roads@clacks.example.gov.uk"], MESSAGE)
    assert mode(tmp_path / "local-crm.db") == 0o600
    assert mode(tmp_path / "mail" / "outbox") == 0o700
    assert [mode(p) for p in (tmp_path / "mail" / "outbox").iterdir()] == [0o600]
