"""`crm-bridge demo`: what someone trying the bridge notices after running it.

The demo's figures are checked against the store through the CLI a user would
use (`enquiry list --json`, `enquiry show --json`, `sync`), never against the
demo's own internals.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections import Counter
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests
from click.testing import CliRunner, Result
from portal.portal_support import Client, free_socket

from connectors.local_store import LocalCaseStore
from crm_bridge.cli import cli
from crm_bridge.demo import MARKER

CRM_BRIDGE = Path(sys.executable).parent / "crm-bridge"
LONDON = ZoneInfo("Europe/London")
SMALL = ["--enquiries", "150", "--months", "6"]
OPEN = {"logged", "sent", "acknowledged", "in_progress", "failed_to_send"}


def run(*args: str) -> Result:
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, f"{args}: exit {result.exit_code}\n{result.output}"
    return result


def run_json(*args: str) -> Any:
    return json.loads(run(*args, "--json").stdout)


def demo_json(directory: Path, *extra: str) -> dict[str, Any]:
    figures: dict[str, Any] = run_json("demo", "--dir", str(directory), *extra)
    return figures


def listed(directory: Path) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = run_json("--config", str(directory / "config.yaml"),
                                          "enquiry", "list", "--limit", "100000")
    return rows


def local_day(instant: str) -> date:
    return datetime.fromisoformat(instant).astimezone(LONDON).date()


def store_figures(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The demo's headline figures, recounted from `enquiry list --json`."""
    answered = [r for r in rows if r["responded_at"]]
    on_time = [r for r in answered
               if local_day(r["responded_at"]) <= date.fromisoformat(r["target_date"])]
    return {
        "logged": len(rows),
        "sent": sum(1 for r in rows if r["crm_ref"]),
        "answered": len(answered),
        "answered_on_time": len(on_time),
        "answered_late": len(answered) - len(on_time),
        "closed": sum(1 for r in rows if r["status"] == "closed"),
        "awaiting_close": sum(1 for r in rows if r["status"] == "responded"),
        "still_open": sum(1 for r in rows if r["status"] in OPEN),
        "overdue": sum(1 for r in rows if r["overdue"]),
    }


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    directory = tmp_path_factory.mktemp("demo") / "council"
    return directory, demo_json(directory, *SMALL)


def test_every_enquiry_logged_was_sent_to_the_crm(small: tuple[Path, dict[str, Any]]) -> None:
    directory, figures = small
    rows = listed(directory)
    assert len(rows) == figures["logged"] == figures["sent"] == 150
    assert all(r["crm_ref"] and r["crm_ref"].startswith("LOC-") for r in rows)
    assert not any(r["status"] in ("logged", "failed_to_send") for r in rows)
    assert figures["failed_to_send"] == 0


def test_the_figures_printed_are_the_stores(small: tuple[Path, dict[str, Any]]) -> None:
    directory, figures = small
    rows = listed(directory)
    recount = store_figures(rows)
    assert {key: figures[key] for key in recount} == recount
    assert figures["closed"] + figures["awaiting_close"] + figures["still_open"] == len(rows)
    by_service = {s["service"]: s for s in figures["by_service"]}
    for service, entry in by_service.items():
        mine = [r for r in rows if r["service_id"] == service]
        assert entry["enquiries"] == len(mine)
        assert entry["answered"] == sum(1 for r in mine if r["responded_at"])
    assert sum(s["enquiries"] for s in by_service.values()) == len(rows)


def test_some_overdue_some_late_some_closed(small: tuple[Path, dict[str, Any]]) -> None:
    directory, figures = small
    assert figures["overdue"] > 0
    assert figures["answered_late"] > 0
    assert figures["closed"] > 0
    assert figures["answered_on_time"] > figures["answered_late"]
    overdue = run_json("--config", str(directory / "config.yaml"), "enquiry", "list",
                       "--overdue", "--limit", "100000")
    assert len(overdue) == figures["overdue"]
    today = datetime.now(LONDON).date()
    assert all(date.fromisoformat(r["target_date"]) < today for r in overdue)
    assert all(r["status"] in OPEN for r in overdue)


def test_one_enquiry_shows_the_whole_lifecycle(small: tuple[Path, dict[str, Any]]) -> None:
    directory, figures = small
    reference = figures["example"]["reference"]
    shown = run_json("--config", str(directory / "config.yaml"), "enquiry", "show", reference)
    steps = [h["status"] for h in shown["history"] if h["status"]]
    wanted = ["logged", "sent", "in_progress", "responded", "closed"]
    assert [s for s in steps if s in wanted] == wanted
    assert shown["response"] and shown["crm_ref"]
    times = [h["at"] for h in shown["history"]]
    assert times == sorted(times)
    assert local_day(shown["responded_at"]) <= date.fromisoformat(shown["target_date"])


def test_linked_duplicates_make_one_crm_case_and_both_get_its_answer(
        small: tuple[Path, dict[str, Any]]) -> None:
    """Members' services run the duplicate check on each repeated problem before it is sent
    and link what it finds: every planted duplicate is found, and each pair is one CRM case
    whose answer both enquiries get."""
    directory, figures = small
    linked = figures["linked"]
    assert 0 < linked["checked"] <= figures["raised_with_a_second_ward_member"]
    assert linked["pairs"] == linked["checked"], "every planted duplicate found and linked"
    assert linked["one_case"] == linked["pairs"] == linked["cases"]
    rows = listed(directory)
    by_case: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_case.setdefault(row["crm_ref"], []).append(row)
    shared = [pair for pair in by_case.values() if len(pair) > 1]
    assert len(shared) == linked["pairs"]
    assert all(len(pair) == 2 for pair in shared)
    crm = LocalCaseStore(directory / "local-crm.db")
    try:
        assert len(crm.queue(include_done=True)) == len(rows) - linked["one_case"]
        for first, second in shared:
            shown = run_json("--config", str(directory / "config.yaml"), "enquiry", "show",
                             first["reference"])
            assert shown["linked"] == [second["reference"]]
            own = [crm.find(r["id"]) for r in (first, second)]
            assert sum(case is not None for case in own) == 1, "one case for the pair"
            notes = [e.body for e in crm.events_since(0, kinds=("note",))
                     if e.case_ref == first["crm_ref"]]
            added = second if own[0] is not None else first
            assert any(n.startswith("Linked enquiry") and added["reference"] in n
                       for n in notes)
            assert first["status"] == second["status"]
            assert first["response"] == second["response"]
    finally:
        crm.close()


def test_sync_after_the_demo_has_nothing_to_push(small: tuple[Path, dict[str, Any]]) -> None:
    directory, _ = small
    report = run_json("--config", str(directory / "config.yaml"), "sync")
    assert report["ok"] is True
    assert report["pushed"] == 0 and report["notes"] == 0 and report["updated"] == 0
    assert report["failed"] == 0 and report["deferred"] == 0


def test_same_seed_same_figures_and_another_seed_differs(tmp_path: Path) -> None:
    first = demo_json(tmp_path / "a", "--enquiries", "80", "--months", "4")
    again = demo_json(tmp_path / "a", "--enquiries", "80", "--months", "4")  # over the old one
    elsewhere = demo_json(tmp_path / "b", "--enquiries", "80", "--months", "4")
    other = demo_json(tmp_path / "c", "--enquiries", "80", "--months", "4", "--seed", "7")

    def same(figures: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in figures.items() if k not in ("seconds", "config")}

    assert same(first) == same(again) == same(elsewhere)
    assert same(other) != same(first)
    assert len(listed(tmp_path / "a")) == 80  # the rerun started from an empty store


def test_refuses_a_folder_that_is_not_a_demo(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_text("council: {name: Real Council}\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["demo", "--dir", str(tmp_path), *SMALL])
    assert result.exit_code == 2
    assert "config.yaml" in result.output and "demo" in result.output
    assert (tmp_path / "config.yaml").read_text(encoding="utf-8").startswith("council: {name")
    assert not (tmp_path / MARKER).exists()


def test_the_command_prints_a_plain_summary(tmp_path: Path) -> None:
    """As a user runs it: a real process, default text output, checked against the store."""
    # The timeout only stops a hang; how long the demo takes is measured in bench/.
    done = subprocess.run([str(CRM_BRIDGE), "demo", "--dir", "tmp", *SMALL], cwd=tmp_path,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    figures = store_figures(listed(tmp_path / "tmp"))
    assert f"{figures['logged']} enquiries logged" in out
    assert "every enquiry has a CRM case" in out
    linked = re.search(r"(\d+) of them found by the duplicate check and linked by members' "
                       r"services\n    before the second was sent: (\d+) pairs on one CRM case "
                       r"each \((\d+) cases\)", out)
    assert linked is not None, out
    pairs = len([c for c in Counter(r["crm_ref"] for r in listed(tmp_path / "tmp")).values()
                 if c == 2])
    assert [int(n) for n in linked.groups()] == [pairs, pairs, pairs]
    assert "not found by the check" not in out
    answered = re.search(r"(\d+) answered by the service: (\d+) on time \(\d+%\), (\d+) late",
                         out)
    assert answered is not None
    assert [int(n) for n in answered.groups()] == [
        figures["answered"], figures["answered_on_time"], figures["answered_late"]]
    assert f"{figures['closed']} closed" in out
    assert f"{figures['still_open']} still waiting for an answer; {figures['overdue']} of them " \
           "are overdue now" in out
    assert "By service" in out and "Roads and transportation" in out
    assert "One enquiry from start to finish" in out
    for command in ("enquiry list --overdue", "officer queue", "sync"):
        assert f"crm-bridge --config tmp/config.yaml {command}" in out
    assert (tmp_path / "tmp" / MARKER).exists()
    assert "Portal accounts (username / password)" in out
    for line in ("kirsty / demo-member-1", "iain   / demo-member-2", "staff  / demo-staff-1",
                 "admin  / demo-admin-1"):
        assert line in out
    # It ends with the path of the last complete half-year's scrutiny report.
    report = Path(out.splitlines()[-1])
    assert re.fullmatch(r"scrutiny-20\d\dH[12]\.html", report.name), out
    assert (tmp_path / report).read_text(encoding="utf-8").count("<svg") == 4


def test_the_demo_accounts_sign_in_to_the_portal(small: tuple[Path, dict[str, Any]]) -> None:
    """What `make demo` does next: serve the demo council and sign in with a printed account."""
    directory, figures = small
    accounts = {a["username"]: a for a in figures["accounts"]}
    assert set(accounts) == {"kirsty", "iain", "staff", "admin"}
    listed_users = {u["username"]: u for u in run_json(
        "--config", str(directory / "config.yaml"), "user", "list")}
    assert listed_users["kirsty"]["member_id"] == "cllr-kirsty-dalgleish"
    assert {name: u["role"] for name, u in listed_users.items()} == {
        "kirsty": "member", "iain": "member", "staff": "staff", "admin": "admin"}
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    env = {**os.environ, "CRM_BRIDGE_SESSION_SECRET": "s" * 40}
    process = subprocess.Popen([str(CRM_BRIDGE), "--config", str(directory / "config.yaml"),
                                "serve", "--port", str(port)], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        client = Client(f"http://127.0.0.1:{port}")
        deadline = time.monotonic() + 300  # only stops a hang: a busy machine starts slowly
        while True:
            try:
                client.get("/sign-in")
                break
            except requests.ConnectionError:
                if process.poll() is not None or time.monotonic() > deadline:
                    pytest.fail("the portal did not start", pytrace=False)
                time.sleep(0.2)
        kirsty = accounts["kirsty"]
        assert client.sign_in("kirsty", kirsty["password"]).status_code == 303
        mine = client.get("/")
        assert mine.status_code == 200 and "ENQ-" in mine.text
        assert Client(client.base_url).sign_in("kirsty", "wrong-password").status_code != 303
    finally:
        process.terminate()
        process.wait(timeout=60)


def test_the_default_demo_is_realistic(tmp_path: Path) -> None:
    figures = demo_json(tmp_path / "council")
    logged, answered = figures["logged"], figures["answered"]
    assert logged == figures["sent"] == 600
    rows = listed(tmp_path / "council")
    assert len(rows) == 600 and all(r["crm_ref"] for r in rows)
    mail = list((tmp_path / "council" / "mail").glob("*.eml"))
    assert len(mail) == sum(figures["emails"].values()) > 0
    assert 0.12 <= figures["answered_late"] / answered <= 0.25
    assert 0.02 <= figures["overdue"] / logged <= 0.06
    assert figures["closed"] > 0.75 * logged
    assert figures["raised_with_a_second_ward_member"] > 0
    assert {"roads", "waste", "lighting", "housing-repairs"} <= {
        s["service"] for s in figures["by_service"]}


def test_the_demos_repeated_problems_are_found_as_duplicates(
        small: tuple[Path, dict[str, Any]]) -> None:
    """The demo has neighbours raise a problem again with another councillor of the ward
    ("Also reported to me: …"); the duplicate check finds the first report of each."""
    directory, _ = small
    rows = listed(directory)
    leads = ("A neighbour has raised this too: ", "Also reported to me: ",
             "Second resident in touch about this: ")
    repeats = [(r, r["description"].split(": ", 1)[1]) for r in rows
               if r["description"].startswith(leads)]
    assert repeats
    for repeat, text in repeats:
        firsts = {r["reference"] for r in rows if r["description"] == text
                  and r["location"] == repeat["location"]}
        found = run_json("--config", str(directory / "config.yaml"), "enquiry",
                         "duplicates", repeat["reference"])
        listed_refs = {m["reference"] for m in found["matches"]}
        assert firsts & listed_refs, (repeat["reference"], found)
