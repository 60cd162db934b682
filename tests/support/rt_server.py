"""A real Request Tracker 5 for the tests, and a service officer who works tickets in it.

The first test that asks for RT runs ``scripts/rt5-start.sh``: RT is installed from
Debian's packages if need be (apt-get update first), and this test session gets an RT of
its own: a fresh SQLite database with the bridge's account provisioned by
``rt_initialdata.pl``, on a free loopback port, its files under
``/var/lib/crm-bridge-rt/sessions/<pytest pid>``. Several sessions on one machine (CI
jobs, engineers running the suite side by side) therefore never wipe or restart each
other's RT. The server is stopped when the session ends; one left behind by a session
that was killed is stopped by the next. Later tests in the session reuse it.

When RT cannot be started the test FAILS with the script's words: it is never skipped,
because these tests are what prove the rt connector works.
"""

from __future__ import annotations

import atexit
import base64
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

__all__ = ["RtOfficer", "RtServer", "rt_server"]

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "scripts" / "rt5-start.sh"
INITDATA = Path(__file__).with_name("rt_initialdata.pl")
SESSIONS = Path(os.environ.get("CRM_BRIDGE_TEST_RT_SESSIONS", "/var/lib/crm-bridge-rt/sessions"))

BRIDGE_USER = "crm-bridge"
BRIDGE_PASSWORD = "bridge-password"  # set by rt_initialdata.pl
ROOT = ("root", "password")


@dataclass(frozen=True)
class RtServer:
    url: str
    token: str  # the crm-bridge account's auth token
    start_seconds: float
    state: Path | None = None  # the session's RT folder (tokens of the other accounts)

    @property
    def api(self) -> str:
        return f"{self.url}/REST/2.0"

    def token_of(self, user: str) -> str:
        """The auth token rt_initialdata.pl made for ``user`` (crm-bridge-partial, ...)."""
        assert self.state is not None, "this RT was not started by rt_server()"
        return (self.state / f"{user}.token").read_text(encoding="utf-8").strip()

    @contextmanager
    def officer(self) -> Iterator[RtOfficer]:
        officer = RtOfficer(self)
        try:
            yield officer
        finally:
            officer.close()


_started: RtServer | None = None
_failure: str | None = None


# "pid url token": one RT per process even if this module is ever loaded twice (under two
# import paths), as a second start would wipe the first one's database mid-session.
_STARTED_ENV = "CRM_BRIDGE_TEST_RT_STARTED"


def rt_server() -> RtServer:
    """The session's RT, started on first use; fails the calling test if it cannot be."""
    global _started, _failure
    if _started is None and _failure is None:
        pid, _, rest = os.environ.get(_STARTED_ENV, "").partition(" ")
        if pid == str(os.getpid()):
            url, _, token = rest.partition(" ")
            _started = RtServer(url, token, 0.0, SESSIONS / f"session-{pid}")
        else:
            try:
                _started = _start()
                os.environ[_STARTED_ENV] = f"{os.getpid()} {_started.url} {_started.token}"
            except RuntimeError as exc:
                _failure = str(exc)
    if _failure is not None:
        pytest.fail(_failure, pytrace=False)
    assert _started is not None
    return _started


def _script(state: Path, port: int, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", str(SCRIPT), *args], capture_output=True, text=True,
                          timeout=1200, check=False,
                          env={**os.environ, "RT_PORT": str(port), "RT_STATE_DIR": str(state),
                               **env})


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_abandoned() -> None:
    """Stop the RT of any earlier session whose pytest process is gone."""
    for state in SESSIONS.glob("session-*"):
        owner = state.name.removeprefix("session-")
        if owner.isdigit() and not _alive(int(owner)):
            _script(state, 0, "stop")
            shutil.rmtree(state, ignore_errors=True)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def _start() -> RtServer:
    if os.geteuid() != 0:
        raise RuntimeError(f"{SCRIPT.name} installs and runs RT and must run as root; "
                           "run the tests as root (as CI does)")
    SESSIONS.mkdir(parents=True, exist_ok=True)
    SESSIONS.chmod(0o755)  # www-data (RT) must reach its folder below
    _reap_abandoned()
    state = SESSIONS / f"session-{os.getpid()}"
    port = _free_port()
    began = time.monotonic()
    try:
        done = _script(state, port, RT_FRESH="1", RT_INITDATA=str(INITDATA))
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"{SCRIPT} did not finish in 20 minutes") from None
    atexit.register(_stop, state)
    if done.returncode != 0:
        raise RuntimeError(f"RT could not be started by {SCRIPT} (exit {done.returncode}):\n"
                           f"{done.stderr[-3000:]}")
    url = done.stdout.strip().splitlines()[-1]
    token = (state / "crm-bridge.token").read_text(encoding="utf-8").strip()
    return RtServer(url, token, time.monotonic() - began, state)


def _stop(state: Path) -> None:
    _script(state, 0, "stop")
    shutil.rmtree(state, ignore_errors=True)


class RtOfficer:
    """A service officer (RT's root) working tickets in RT's own API, as in RT's web pages."""

    def __init__(self, server: RtServer) -> None:
        self.api = server.api
        self.session = requests.Session()
        self.session.auth = ROOT

    def close(self) -> None:
        self.session.close()

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        with self.session.request(method, f"{self.api}/{path}", timeout=30, **kwargs) as answer:
            assert answer.status_code < 300, (method, path, answer.status_code, answer.text)
            return answer.json() if answer.content else None

    def set_status(self, ticket: str, status: str) -> None:
        self._call("PUT", f"ticket/{ticket}", json={"Status": status})

    def reply(self, ticket: str, text: str, *, html: bool = False,
              files: dict[str, bytes] | None = None) -> None:
        body: dict[str, Any] = {"Content": text,
                                "ContentType": "text/html" if html else "text/plain"}
        if files:
            body["Attachments"] = [
                {"FileName": name, "FileType": "application/octet-stream",
                 "FileContent": base64.b64encode(data).decode()}
                for name, data in files.items()]
        self._call("POST", f"ticket/{ticket}/correspond", json=body)

    def ticket(self, ticket: str) -> dict[str, Any]:
        found: dict[str, Any] = self._call("GET", f"ticket/{ticket}")
        return found

    def custom_fields(self, ticket: str) -> dict[str, list[str]]:
        return {cf["name"]: cf["values"] for cf in self.ticket(ticket)["CustomFields"]}

    def tickets_with(self, cf_name: str, value: str) -> list[str]:
        found = self._call("GET", "tickets",
                           params={"query": f"'CF.{{{cf_name}}}' = '{value}'", "per_page": 100})
        return [str(item["id"]) for item in found["items"]]

    def files(self, ticket: str) -> list[tuple[str, bytes]]:
        """(file name, content) of every file attached to the ticket, oldest first."""
        found = self._call("GET", f"ticket/{ticket}/attachments",
                           params={"fields": "Filename", "per_page": 100})
        return [(part["Filename"],
                 base64.b64decode(self._call("GET", f"attachment/{part['id']}")["Content"]))
                for part in sorted(found["items"], key=lambda part: int(part["id"]))
                if part.get("Filename")]

    def comments(self, ticket: str) -> list[str]:
        """The text of every comment on the ticket, oldest first."""
        history = self._call("GET", f"ticket/{ticket}/history",
                             params={"fields": "Type", "per_page": 100})
        texts = []
        for txn in history["items"]:
            if txn["Type"] != "Comment":
                continue
            parts = self._call("GET", f"transaction/{txn['id']}/attachments",
                               params={"fields": "ContentType,Filename"})
            for part in parts["items"]:
                if part["ContentType"] == "text/plain" and not part["Filename"]:
                    content = self._call("GET", f"attachment/{part['id']}")["Content"]
                    texts.append(base64.b64decode(content).decode())
        return texts
