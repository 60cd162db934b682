"""End to end with a real RT5: a council configured for `rt`, driven through the CLI.

connector check → setup → enquiry add → sync → the ticket in RT, with its custom fields →
the service replies and resolves in RT → sync → the enquiry is closed, with the reply kept
as its response.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cli_support import Council, add_args, invoke, make_council
from click.testing import Result
from support.flaky_proxy import flaky_proxy
from support.rt_server import RtServer, rt_server
from support.smtp import MailServer, mail_server, point_config_at

from crm_bridge.app import Bridge
from crm_bridge.store.outbox import enqueue

LOCAL_CONNECTOR = """connector:
  type: local
  # local: the SQLite file holding the cases (beside this file if relative).
  path: local-crm.db
"""


class RtCouncil:
    """A council folder from `crm-bridge init`, switched to RT, its queues named for this test."""

    def __init__(self, council: Council, server: RtServer, login: str) -> None:
        self.council = council
        self.server = server
        self.suffix = uuid.uuid4().hex[:6]
        text = council.config.read_text(encoding="utf-8")
        assert text.count(LOCAL_CONNECTOR) == 1, "the example's connector section changed"
        text = text.replace(LOCAL_CONNECTOR,
                            f"connector:\n  type: rt\n  url: {server.url}\n  {login}\n")
        text = re.sub(r"(?m)^(\s+crm_target: .+)$", rf"\1 {self.suffix}", text)
        council.config.write_text(text, encoding="utf-8")

    def run(self, *args: str, env: dict[str, str] | None = None) -> Result:
        return invoke(["--config", str(self.council.config), *args],
                      env={"RT_TOKEN": self.server.token, **(env or {})})

    def ok(self, *args: str) -> Result:
        result = self.run(*args)
        assert result.exit_code == 0, (args, result.output, result.exception)
        return result

    def show(self, reference: str) -> dict[str, Any]:
        shown: dict[str, Any] = json.loads(self.ok("enquiry", "show", reference,
                                                   "--json").stdout)
        return shown


@pytest.fixture
def mail() -> Iterator[MailServer]:
    with mail_server() as server:
        yield server


@pytest.fixture
def council(tmp_path: Path, mail: MailServer) -> RtCouncil:
    made = make_council(tmp_path)
    point_config_at(made.config, mail)
    return RtCouncil(made, rt_server(), "token: ${RT_TOKEN}")


def test_an_enquiry_reaches_rt_and_the_services_reply_comes_back(council: RtCouncil) -> None:
    roads = f"Roads {council.suffix}"
    before = council.run("connector", "check")
    assert before.exit_code == 1
    assert f"PROBLEM  queue '{roads}': missing (used by roads): run `crm-bridge connector " \
           "setup`" in before.output

    made = council.ok("connector", "setup")
    assert f"created  queue '{roads}': created" in made.output
    assert council.ok("connector", "check").output.endswith(
        "ready: the bridge can open cases in the CRM\n")

    added = json.loads(council.ok("enquiry", "add", *add_args(), "--json").stdout)
    council.ok("sync")
    sent = council.show(added["reference"])
    assert sent["status"] == "sent" and sent["crm_ref"]

    with council.server.officer() as officer:
        assert officer.tickets_with("Enquiry ID", added["id"]) == [sent["crm_ref"]]
        assert officer.custom_fields(sent["crm_ref"]) == {
            "Enquiry reference": [added["reference"]], "Enquiry ID": [added["id"]],
            "Elected member": ["cllr-morag-kinnaird"], "Ward": ["clacks-west"],
            "Enquiry category": ["pothole"], "Response due": [added["target_date"]],
        }
        in_queue = officer._call("GET", "tickets", params={"query": f"Queue = '{roads}'"})
        assert [str(t["id"]) for t in in_queue["items"]] == [sent["crm_ref"]]

        officer.reply(sent["crm_ref"], "We inspected the road and will fill the pothole "
                                       "on Monday 9 November.")
        officer.set_status(sent["crm_ref"], "resolved")

    council.ok("sync")
    done = council.show(added["reference"])
    assert done["status"] == "closed"  # resolved, as the shipped mapping says
    assert done["response"] == ("We inspected the road and will fill the pothole on "
                                "Monday 9 November.")
    events = [h["event"] for h in done["history"]]
    assert events.count("response") == 1

    again = council.ok("sync", "--json")
    assert json.loads(again.stdout)["updated"] == 0
    assert council.show(added["reference"])["history"] == done["history"]


def test_a_ticket_resolved_without_a_reply_closes_the_enquiry_with_no_response(
        council: RtCouncil) -> None:
    council.ok("connector", "setup")
    added = json.loads(council.ok("enquiry", "add", *add_args(), "--json").stdout)
    council.ok("sync")
    ticket = council.show(added["reference"])["crm_ref"]
    with council.server.officer() as officer:
        officer.set_status(ticket, "resolved")
    council.ok("sync")
    done = council.show(added["reference"])
    assert done["status"] == "closed" and done["response"] is None


def test_a_members_follow_up_becomes_a_comment_on_the_ticket(
        council: RtCouncil, monkeypatch: pytest.MonkeyPatch) -> None:
    council.ok("connector", "setup")
    added = json.loads(council.ok("enquiry", "add", *add_args(), "--json").stdout)
    monkeypatch.setenv("RT_TOKEN", council.server.token)
    bridge = Bridge.open(council.council.config)
    try:
        with bridge.engine.begin() as conn:
            enqueue(conn, added["id"], "add_note",  # as the portal's "add a note" does
                    {"text": "The constituent says a cyclist fell here on Friday.",
                     "author": "Morag Kinnaird", "kind": "follow_up"}, datetime.now(UTC))
    finally:
        bridge.close()
    council.ok("sync")
    ticket = council.show(added["reference"])["crm_ref"]
    with council.server.officer() as officer:
        assert officer.comments(ticket) == [
            "Follow-up from Morag Kinnaird:\n\nThe constituent says a cyclist fell here on "
            "Friday."]


def test_check_says_when_rt_is_down_or_refuses_the_login(council: RtCouncil) -> None:
    wrong = council.run("connector", "check", env={"RT_TOKEN": "1-27-not-a-real-token"})
    assert wrong.exit_code == 1
    assert "PROBLEM  connector 'rt': refused the bridge: RT refused GET /rt (HTTP 401): the " \
           "token or password was not accepted" in wrong.output

    text = council.council.config.read_text(encoding="utf-8")
    council.council.config.write_text(text.replace(council.server.url, "http://127.0.0.1:9"),
                                      encoding="utf-8")
    down = council.run("connector", "check")
    assert down.exit_code == 1
    assert "PROBLEM  connector 'rt': cannot be reached: RT at http://127.0.0.1:9 cannot be " \
           "reached" in down.output


def test_check_flags_a_secret_typed_into_the_config_file(council: RtCouncil) -> None:
    council.council.edit("config.yaml", "  token: ${RT_TOKEN}\n",
                         f"  token: {council.server.token}\n")
    line = council.council.line_of("config.yaml", f"token: {council.server.token}")
    result = council.run("connector", "check")
    assert result.exit_code == 1
    assert f"PROBLEM  connector.token (config.yaml line {line}): the secret is written in the " \
           "file: set it in the environment and write token: ${VARIABLE} instead" in result.output
    assert council.server.token not in result.output


def test_an_unset_token_variable_is_a_config_error_naming_the_line(
        council: RtCouncil, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RT_TOKEN", raising=False)
    result = invoke(["--config", str(council.council.config), "connector", "check"])
    assert result.exit_code == 2
    assert "RT_TOKEN" in result.output


def test_check_on_the_local_connector_says_the_case_store_answers(tmp_path: Path) -> None:
    council = make_council(tmp_path)
    result = council.ok("connector", "check")
    assert result.output == ("ok       connector 'local': answers\n"
                             "ok       photos: the CRM takes photos: each goes to its case on "
                             "the sync after the case opens\n"
                             "ready: the bridge can open cases in the CRM\n")
    assert council.ok("connector", "setup").output.startswith(
        "ok       connector 'local': answers; it has nothing to set up\n")


def _sync_until(council: RtCouncil, done: Callable[[], bool], most: int) -> int:
    """Runs of `sync` until ``done()``; how many it took (at most ``most``)."""
    for run in range(1, most + 1):
        council.run("sync")
        if done():
            return run
    raise AssertionError(f"not done after {most} runs of sync")


def test_behind_a_proxy_failing_30_percent_of_calls_nothing_is_lost_or_doubled(
        tmp_path: Path, mail: MailServer) -> None:
    """Three calls in ten fail (refused before RT sees them, a 502, or RT's answer lost
    after it did the work). Every enquiry gets one ticket, every reply comes back once,
    and once nothing is left each run succeeds."""
    server = rt_server()
    with flaky_proxy(server.url) as proxy:
        made = make_council(tmp_path)
        point_config_at(made.config, mail)
        for old, new in (("    initial_wait: 0.5", "    initial_wait: 0.01"),
                         ("    max_wait: 10", "    max_wait: 0.05"),
                         ("    requeue_after: 60", "    requeue_after: 0")):
            made.edit("config.yaml", old, new)  # retries at once: runs follow each other
        council = RtCouncil(made, replace(server, url=proxy.url), "token: ${RT_TOKEN}")
        council.ok("connector", "setup")
        added = [json.loads(council.ok("enquiry", "add", *add_args(
            description=f"Pothole number {n} on Main Street, deep"), "--json").stdout)
            for n in range(6)]
        proxy.failing = True

        def shown() -> list[dict[str, Any]]:
            return [council.show(a["reference"]) for a in added]

        _sync_until(council, lambda: all(e["crm_ref"] for e in shown()), most=10)
        tickets = [e["crm_ref"] for e in shown()]
        with server.officer() as officer:
            for enquiry, ticket in zip(added, tickets, strict=True):
                assert officer.tickets_with("Enquiry ID", enquiry["id"]) == [ticket]
                officer.reply(ticket, f"Filled on Monday ({enquiry['reference']}).")
                officer.set_status(ticket, "resolved")

        _sync_until(council, lambda: all(e["status"] == "closed" for e in shown()), most=10)
        for enquiry, done in zip(added, shown(), strict=True):
            assert done["response"] == f"Filled on Monday ({enquiry['reference']})."
            assert [h["event"] for h in done["history"]].count("response") == 1

        quiet = [council.run("sync", "--json") for _ in range(5)]
        assert [r.exit_code for r in quiet] == [0] * 5, [r.output for r in quiet]
        assert all(json.loads(r.stdout)["updated"] == 0 for r in quiet)
        assert set(proxy.tally.failed) == {"refused", "bad_gateway", "lost_answer"}
        assert proxy.tally.calls >= 30
