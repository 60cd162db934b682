"""`crm-bridge user …` and `crm-bridge serve`: accounts from the command line, and a portal that
refuses to start without its session secret or its built assets."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner, Result
from sqlalchemy import select

from crm_bridge.cli import cli
from crm_bridge.portal.accounts import verify_password
from crm_bridge.store.engine import make_engine
from crm_bridge.store.tables import users
from portal.portal_support import council, free_socket


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return council(tmp_path)


def run(config: Path, *args: str, input: str | None = None,
        env: dict[str, str | None] | None = None) -> Result:
    return CliRunner().invoke(cli, ["--config", str(config), *args], input=input,
                              env={"CRM_BRIDGE_CONFIG": None, **(env or {})})


def stored_hash(config: Path, username: str) -> str:
    engine = make_engine(f"sqlite:///{config.parent / 'crm-bridge.db'}")
    try:
        with engine.connect() as conn:
            return str(conn.execute(select(users.c.password_hash)
                                    .where(users.c.username == username)).scalar_one())
    finally:
        engine.dispose()


def test_add_list_passwd(config: Path) -> None:
    added = run(config, "user", "add", "Kirsty", "--role", "member", "--member",
                "cllr-kirsty-dalgleish", "--password-stdin", input="first password\n")
    assert added.exit_code == 0, added.output
    assert "kirsty (member) ready" in added.output
    first = stored_hash(config, "kirsty")
    assert first.startswith("$argon2") and "first password" not in first
    assert verify_password(first, "first password")

    listed = run(config, "user", "list")
    assert "kirsty" in listed.output and "Kirsty Dalgleish" in listed.output

    changed = run(config, "user", "passwd", "kirsty", "--password-stdin",
                  input="second password\n")
    assert changed.exit_code == 0, changed.output
    assert verify_password(stored_hash(config, "kirsty"), "second password")
    assert not verify_password(stored_hash(config, "kirsty"), "first password")


@pytest.mark.parametrize(("args", "stdin", "message"), [
    (["--role", "member"], "long enough pw\n", "needs --member"),
    (["--role", "member", "--member", "cllr-kirsty-dalgleis"], "long enough pw\n",
     "did you mean 'cllr-kirsty-dalgleish'"),
    (["--role", "staff", "--member", "cllr-kirsty-dalgleish"], "long enough pw\n",
     "only member accounts"),
    (["--role", "staff"], "short\n", "at least 10 characters"),
    (["--role", "staff"], "\n", "no password"),
])
def test_add_refuses_bad_input(config: Path, args: list[str], stdin: str, message: str) -> None:
    result = run(config, "user", "add", "someone", *args, "--password-stdin", input=stdin)
    assert result.exit_code == 2
    assert message in result.output


def test_add_twice_needs_replace(config: Path) -> None:
    assert run(config, "user", "add", "ops", "--role", "admin", "--password-stdin",
               input="admin password 1\n").exit_code == 0
    again = run(config, "user", "add", "ops", "--role", "admin", "--password-stdin",
                input="admin password 2\n")
    assert again.exit_code == 2 and "already exists" in again.output
    no_group = run(config, "user", "add", "ops", "--role", "staff", "--replace",
                   "--password-stdin", input="admin password 2\n")
    assert no_group.exit_code == 2
    assert "--group" in no_group.output and "members-services, mp-office" in no_group.output
    replaced = run(config, "user", "add", "ops", "--role", "staff", "--replace",
                   "--group", "members-services", "--password-stdin",
                   input="admin password 2\n")
    assert replaced.exit_code == 0
    assert "ops (staff, staff group members-services) ready" in replaced.output
    assert verify_password(stored_hash(config, "ops"), "admin password 2")


def test_passwd_for_unknown_user(config: Path) -> None:
    result = run(config, "user", "passwd", "ghost", "--password-stdin", input="whatever pw 1\n")
    assert result.exit_code == 2 and "no user 'ghost'" in result.output


def test_serve_refuses_without_a_secret(config: Path) -> None:
    result = run(config, "serve", env={"CRM_BRIDGE_SESSION_SECRET": None})
    assert result.exit_code == 2
    assert "CRM_BRIDGE_SESSION_SECRET" in result.output
    short = run(config, "serve", env={"CRM_BRIDGE_SESSION_SECRET": "too-short"})
    assert short.exit_code == 2 and "at least 32 characters" in short.output


def test_serve_runs_the_portal(config: Path) -> None:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "CRM_BRIDGE_SESSION_SECRET": "s" * 40}
    env.pop("CRM_BRIDGE_CONFIG", None)
    command = [str(Path(sys.executable).parent / "crm-bridge"), "--config", str(config), "serve",
               "--port", str(port)]
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 120  # only stops a hang: a busy machine starts slowly
        while True:
            try:
                page = requests.get(f"http://127.0.0.1:{port}/sign-in", timeout=2)
                break
            except requests.ConnectionError:
                assert process.poll() is None, process.communicate()[0]
                if time.monotonic() > deadline:
                    pytest.fail("serve did not start", pytrace=False)
                time.sleep(0.1)
        assert page.status_code == 200 and "Clackmannanshire Council" in page.text
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0]
    assert "Clackmannanshire" in output
