"""Nothing personal and nothing secret in the log at -vv, libraries' debug output included.

The demo, and a council on each connector against its test server (the embedded local
CRM, the REST stand-in, the Lagan FL double under both token and WS-Security username
auth, the Open311 double with every contact field allowed to leave, a real RT 5), are
driven through the installed `crm-bridge -vv` as real processes: enquiries logged, sent,
pulled back, a test message sent through an SMTP server that wants STARTTLS and a login.
Every line they write to stderr is then searched for each constituent's name, e-mail,
phone, address, postcode and description, as the store holds them, and for every secret
the council was configured with (and Lagan's session tokens).
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cli_support import CRM_BRIDGE, make_council
from support.crm_standin import CrmStandin, crm_standin
from support.lagan_double import LaganDouble, lagan_double
from support.open311_double import open311_double
from support.rt_server import rt_server
from support.smtp import MailServer, mail_server, point_config_at
from support.tls import TlsFiles
from sync.council import TOKEN_VARIABLE, configure, use_rest

pytestmark = pytest.mark.timeout(900)

SECRETS = {
    "SMTP_PASSWORD": "smtp-Kx81-correct-horse-battery",
    "LAGAN_PASSWORD": "lagan-Qz77-staple-sponge",
    "OPEN311_API_KEY": "open311-Vb52-lantern-gravel",
    "CRM_BRIDGE_SESSION_SECRET": "session-" + "9f3a" * 10,
}
SMTP_LOGIN = "crm-bridge"

PEOPLE = [
    {"name": "Morven Achterlonie", "address": "7 Quarry Brae, Tillicoultry",
     "postcode": "FK13 6AB", "email": "morven.achterlonie@example.net",
     "phone": "01259 450321",
     "description": "Fly-tipped mattress blocking the lane behind Quarry Brae since Tuesday"},
    {"name": "Eilidh Drummond-Baxter", "address": "Flat 2, 41 Mar Street, Alloa",
     "postcode": "FK10 1HR", "email": "eilidh.db@example.org", "phone": "07700 900461",
     "description": "Streetlight flickering outside 41 Mar Street; her son walks home late"},
]


@dataclass
class Logged:
    """Every stderr line of every command run, and the values that must not be in them."""

    lines: list[str] = field(default_factory=list)
    secrets: set[str] = field(default_factory=set)

    def run(self, config: Path | None, *args: str, env: dict[str, str]) -> str:
        argv = [CRM_BRIDGE, "-vv", *(["--config", str(config)] if config else []), *args]
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=600,
                              stdin=subprocess.DEVNULL, check=False)
        self.lines += done.stderr.splitlines()
        assert done.returncode == 0, f"{args}: exit {done.returncode}\n{done.stderr[-3000:]}"
        return done.stdout


def environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "CRM_BRIDGE_CONFIG"}
    return {**env, **SECRETS, **extra}


def personal_data(store: Path) -> set[str]:
    """Each constituent detail the store holds (and the start of each long one)."""
    with sqlite3.connect(store) as conn:
        rows = conn.execute("SELECT constituent_name, constituent_email, constituent_phone, "
                            "constituent_address, constituent_postcode, description "
                            "FROM enquiries").fetchall()
    found: set[str] = set()
    for row in rows:
        for value in row:
            if value and len(value.strip()) >= 5:
                found.add(value.strip())
                if len(value) > 30:
                    found.add(value[:24])
    return found


def leaks(lines: list[str], needles: set[str]) -> list[tuple[str, str]]:
    lowered = [(line, line.lower()) for line in lines]
    return [(needle, line) for needle in sorted(needles) for line, low in lowered
            if needle.lower() in low]


def test_the_demo_at_debug_level_logs_no_personal_data(tmp_path: Path) -> None:
    logged = Logged(secrets=set(SECRETS.values()))
    directory = tmp_path / "demo"
    logged.run(None, "demo", "--dir", str(directory), "--enquiries", "120", "--months", "3",
               "--json", env=environment())
    people = personal_data(directory / "crm-bridge.db")
    assert len(people) > 300  # the demo's constituents, each with several details
    assert any(" INFO crm_bridge." in line for line in logged.lines), logged.lines[:20]
    assert leaks(logged.lines, people | logged.secrets) == []


# --- a council on each connector --------------------------------------------------------


@dataclass
class Council:
    config: Path
    env: dict[str, str]
    secrets: set[str]
    double: LaganDouble | None = None
    before_sync: tuple[str, ...] = ()


def _mail_login(config: Path, mail: MailServer, ca: TlsFiles) -> None:
    point_config_at(config, mail, timeout=5, edits={
        "  # username: crm-bridge": f"  username: {SMTP_LOGIN}",
        "  # ca_file: council-ca.pem": f"  ca_file: {ca.ca_file}",
    })


@pytest.fixture
def mail(test_ca: TlsFiles) -> Iterator[MailServer]:
    with mail_server(login=(SMTP_LOGIN, SECRETS["SMTP_PASSWORD"]),
                     tls=test_ca.server_context()) as server:
        yield server


@pytest.fixture(params=["local", "rest", "lagan-token", "lagan-username_token", "open311",
                        "rt"])
def council(request: pytest.FixtureRequest, tmp_path: Path, mail: MailServer,
            test_ca: TlsFiles) -> Iterator[Council]:
    kind: str = request.param
    made = make_council(tmp_path)
    _mail_login(made.config, mail, test_ca)
    with ExitStack() as stack:
        if kind == "local":
            yield Council(made.config, environment(), set(SECRETS.values()))
        elif kind == "rest":
            crm: CrmStandin = stack.enter_context(crm_standin())
            use_rest(made.config, crm, timeout=5, reminders={"enabled": True})
            env = environment(**{TOKEN_VARIABLE: crm.token})
            yield Council(made.config, env, {*SECRETS.values(), crm.token})
        elif kind.startswith("lagan"):
            auth = kind.partition("-")[2]
            double = stack.enter_context(lagan_double(auth=auth,
                                                      password=SECRETS["LAGAN_PASSWORD"]))
            configure(made.config, replace={"connector": {
                "type": "lagan", "url": double.url, "auth": auth, "username": double.username,
                "password": "${LAGAN_PASSWORD}", "timeout_seconds": 10}})
            yield Council(made.config, environment(), set(SECRETS.values()), double=double)
        elif kind == "open311":
            server311 = stack.enter_context(open311_double(
                api_key=SECRETS["OPEN311_API_KEY"]))
            configure(made.config, replace={"connector": {
                "type": "open311", "url": server311.url, "api_key": "${OPEN311_API_KEY}",
                "jurisdiction_id": server311.jurisdiction_id, "timeout_seconds": 10,
                "contact_fields": ["email", "first_name", "last_name", "phone"]}})
            # the shipped mapping sends the example's Roads (potholes) to the double's POT
            yield Council(made.config, environment(), set(SECRETS.values()))
        else:
            server = rt_server()
            suffix = uuid.uuid4().hex[:6]  # this test's own queues in the shared RT
            text = re.sub(r"(?m)^(\s+crm_target: .+)$", rf"\1 {suffix}",
                          made.config.read_text(encoding="utf-8"))
            made.config.write_text(text, encoding="utf-8")
            configure(made.config, replace={"connector": {
                "type": "rt", "url": server.url, "token": "${RT_TOKEN}"}})
            env = environment(RT_TOKEN=server.token)
            yield Council(made.config, env, {*SECRETS.values(), server.token},
                          before_sync=("connector", "setup"))


def test_a_sync_at_debug_level_logs_no_personal_data_and_no_secret(
    council: Council, mail: MailServer
) -> None:
    logged = Logged(secrets=council.secrets)
    if council.before_sync:
        logged.run(council.config, *council.before_sync, env=council.env)
    for person in PEOPLE:
        logged.run(council.config, "enquiry", "add", "--member", "cllr-morag-kinnaird",
                   "--category", "pothole", "--channel", "surgery", "--consent",
                   "--logged-by", "members.services", "--location", "Main Street, Alloa",
                   *[arg for key, value in person.items() for arg in (f"--{key}", value)],
                   env=council.env)
    logged.run(council.config, "sync", env=council.env)
    logged.run(council.config, "sync", env=council.env)  # the cases come back in the pull
    logged.run(council.config, "notify", "test", "members.services@clacks.example.gov.uk",
               env=council.env)

    assert len(mail.take()) == 1  # the login over STARTTLS happened
    people = personal_data(council.config.parent / "crm-bridge.db")
    assert {p["email"] for p in PEOPLE} <= people
    secrets = set(council.secrets)
    if council.double is not None:
        secrets |= council.double._tokens  # FL session tokens handed out in these runs
    assert any("create_case ENQ-" in line for line in logged.lines), logged.lines[-40:]
    assert leaks(logged.lines, people | secrets) == []
