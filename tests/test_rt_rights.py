"""The bridge's RT account: the rights docs/rt.md lists are enough, its way of making the
token works, and `connector check` names each missing right, against a real RT5.

The session's RT (tests/support/rt_initialdata.pl) gives the 'crm-bridge' account exactly
the documented rights, and three more accounts a right or more fewer.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
import yaml
from support.connector_kit import make_enquiry
from support.rt_server import BRIDGE_PASSWORD, BRIDGE_USER, RtServer, rt_server

from connectors import rt_setup
from connectors.base import ConnectorContext, Finding
from connectors.rt import RtConnector, RtSettings
from connectors.rt_mapping import RtMapping
from crm_bridge.models import ServiceDestination

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "rt.md"
INITDATA = REPO / "tests" / "support" / "rt_initialdata.pl"


def _documented_rights() -> list[str]:
    section = DOC.read_text(encoding="utf-8").split("## The bridge's RT account", 1)[1]
    section = section.split("\n## ", 1)[0]
    return re.findall(r"(?m)^\| `(\w+)` \|", section)


def _granted(user: str) -> set[str]:
    """The rights rt_initialdata.pl grants ``user`` directly (qw(...) after its name)."""
    text = INITDATA.read_text(encoding="utf-8")
    found = re.search(rf"UserId => '{re.escape(user)}', Right => \$_ }} }} qw\(([^)]*)\)", text)
    assert found, f"no rights for {user} in {INITDATA.name}"
    return set(found.group(1).split())


def test_the_test_account_holds_exactly_the_documented_rights() -> None:
    """So every RT test below runs with the documented list and nothing more."""
    documented = _documented_rights()
    assert "ManageAuthTokens" in documented
    assert len(documented) == len(set(documented))
    assert set(documented) == _granted(BRIDGE_USER)
    assert set(documented) == set(rt_setup.RIGHTS)


class RtWeb:
    """RT's own web pages, as the IT admin uses them to make the bridge's token."""

    def __init__(self, server: RtServer) -> None:
        self.url = server.url
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def log_in(self, user: str, password: str) -> None:
        with self.session.post(f"{self.url}/NoAuth/Login.html",
                               data={"user": user, "pass": password}, timeout=30) as page:
            assert page.status_code == 200

    def make_token(self, password: str, description: str) -> tuple[str | None, str]:
        """Settings → Auth Tokens → Create: the token RT shows, and the page's words."""
        tokens = f"{self.url}/Prefs/AuthTokens.html"
        with self.session.get(tokens, timeout=30) as page:
            assert page.status_code == 200
            owner = re.search(r'name="Owner" value="(\d+)"', page.text)
        assert owner, "the Auth Tokens page has no Create form"
        with self.session.post(tokens, timeout=30, headers={"Referer": tokens},
                               data={"Owner": owner.group(1), "Password": password,
                                     "Description": description, "Create": "Create"}) as page:
            text = html.unescape(page.text)
        made = re.search(r'"(\S+)" is your new authentication token', text)
        return (made.group(1) if made else None), " ".join(text.split())


@pytest.fixture
def server() -> RtServer:
    return rt_server()


@pytest.fixture
def web(server: RtServer) -> Iterator[RtWeb]:
    made = RtWeb(server)
    yield made
    made.close()


def _mapping() -> RtMapping:
    data = yaml.safe_load((REPO / "mappings" / "rt.yaml").read_text(encoding="utf-8"))
    return RtMapping.model_validate(data)


def _connector(server: RtServer, token: str, tmp_path: Path) -> RtConnector:
    return RtConnector(RtSettings(url=server.url, token=token),
                       ConnectorContext(tmp_path, _mapping()))


def _destination() -> ServiceDestination:
    return ServiceDestination(id="roads", name="Roads", crm_target=f"Rights {uuid.uuid4().hex[:8]}",
                              response_days=10, contact="roads@example.gov.uk")


def test_the_documented_token_steps_work_with_just_the_documented_rights(
        server: RtServer, web: RtWeb, tmp_path: Path) -> None:
    web.log_in(BRIDGE_USER, BRIDGE_PASSWORD)
    token, _ = web.make_token(BRIDGE_PASSWORD, "crm-bridge sync")
    assert token is not None

    destination = _destination()
    connector = _connector(server, token, tmp_path)
    try:
        assert all(f.ok for f in connector.setup([destination]))
        case = connector.create_case(make_enquiry(destination), destination)
        assert connector.create_case(make_enquiry(destination), destination).id != case.id
        findings = connector.check([destination])
    finally:
        connector.close()
    assert [f for f in findings if not f.ok] == []


def test_without_manage_auth_tokens_rt_refuses_the_token(web: RtWeb) -> None:
    """What the docs' old list led to: the gap the test account's rights now close."""
    web.log_in("crm-bridge-partial", "partial-password")
    token, words = web.make_token("partial-password", "crm-bridge sync")
    assert token is None
    assert "Unable to create a new authentication token" in words


def _problems(findings: list[Finding]) -> list[str]:
    return [f"{f.subject}: {f.detail}" for f in findings if not f.ok]


def test_check_names_each_missing_right_and_its_queue(server: RtServer, tmp_path: Path) -> None:
    destination = _destination()
    queue = destination.crm_target
    bridge = _connector(server, server.token, tmp_path)
    try:
        assert all(f.ok for f in bridge.setup([destination]))
        bridge.create_case(make_enquiry(destination), destination)
    finally:
        bridge.close()

    checked = {}
    for user in ("crm-bridge-unseen", "crm-bridge-partial"):
        connector = _connector(server, server.token_of(user), tmp_path)
        try:
            checked[user] = _problems(connector.check([destination]))
        finally:
            connector.close()

    lacks = "the bridge's RT account lacks {} on queue '" + queue + "'"
    assert len(checked["crm-bridge-unseen"]) == 1
    assert lacks.format("SeeQueue") in checked["crm-bridge-unseen"][0]
    assert len(checked["crm-bridge-partial"]) == 2
    assert lacks.format("CreateTicket") in checked["crm-bridge-partial"][0]
    assert lacks.format("CommentOnTicket") in checked["crm-bridge-partial"][1]


def test_a_ticket_opened_without_its_enquiry_id_is_reported_with_the_right(
        server: RtServer, tmp_path: Path) -> None:
    """Without SetInitialCustomField RT opens the ticket and drops the enquiry id in silence:
    a retry could not find it. check names the ticket and the missing right."""
    destination = _destination()
    bridge = _connector(server, server.token, tmp_path)
    try:
        assert all(f.ok for f in bridge.setup([destination]))
    finally:
        bridge.close()
    lacking = _connector(server, server.token_of("crm-bridge-nocf"), tmp_path)
    try:
        ticket = lacking.create_case(make_enquiry(destination), destination).id
        problems = _problems(lacking.check([destination]))
    finally:
        lacking.close()
    assert problems == [
        f"ticket #{ticket} in queue '{destination.crm_target}': the bridge opened it without "
        "the enquiry id: the bridge's RT account lacks SetInitialCustomField on queue "
        f"'{destination.crm_target}': grant it in RT (Admin → Queues → {destination.crm_target}"
        " → User Rights, or Admin → Global → User Rights); RT drops custom field values the "
        "account may not set, so a retry cannot find the ticket and opens another"]
