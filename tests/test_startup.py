"""What `crm-bridge` loads to start: --version and --help load no command, a sync with nothing
to do loads no portal, CRM client, Alembic, holidays or Jinja2, and a run that overlaps
another gives way before it opens the CRM connector. (Speed itself is bench/startup.py's.)"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click
import pytest
from cli_support import run_process
from sqlalchemy import update
from support.constants import DRAFT_DEFAULTS

from crm_bridge.app import Bridge
from crm_bridge.cli import cli
from crm_bridge.cli.lazy import LazyGroup
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.reminders.digest import digest_context
from crm_bridge.reminders.render import Renderer
from crm_bridge.store.locks import held
from crm_bridge.store.tables import enquiries
from crm_bridge.workdays import WorkingCalendar

pytestmark = pytest.mark.timeout(120)

assert isinstance(cli, LazyGroup)
COMMANDS = cli.lazy

# Runs the CLI's main() in a fresh interpreter, then prints (last line) the exit code and
# which of the given module prefixes were imported.
_PROBE = """
import json, sys
prefixes = json.loads(sys.argv[1])
sys.argv = ["crm-bridge", *sys.argv[2:]]
from crm_bridge.cli import main
try:
    main()
    code = 0
except SystemExit as exit:
    code = exit.code
loaded = sorted(name for name in sys.modules
                if any(name == p or name.startswith(p + ".") for p in prefixes))
print(json.dumps({"code": code, "loaded": loaded}))
"""

HEAVY = ["fastapi", "starlette", "zeep", "lxml", "requests", "sqlalchemy", "alembic",
         "pydantic", "holidays", "jinja2", "connectors", "crm_bridge.portal"]
"""Nothing of these is needed to print the version or the command list."""

NOT_FOR_SYNC = ["fastapi", "starlette", "zeep", "lxml", "alembic", "mako", "holidays",
                "jinja2", "sqlalchemy.dialects.postgresql", "crm_bridge.portal",
                "connectors.lagan", "connectors.rt", "connectors.rest", "connectors.open311"]
"""A sync on SQLite through the local connector with nothing to do needs none of these."""


def probe(args: list[str], prefixes: list[str], cwd: Path) -> tuple[int, str, list[str]]:
    env = {k: v for k, v in os.environ.items() if k != "CRM_BRIDGE_CONFIG"}
    done = subprocess.run([sys.executable, "-c", _PROBE, json.dumps(prefixes), *args],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=60,
                          check=False)
    assert "Traceback" not in done.stderr, done.stderr
    *output, last = done.stdout.splitlines()
    result = json.loads(last)
    return result["code"], "\n".join(output), result["loaded"]


@pytest.fixture
def council(tmp_path: Path) -> Path:
    made = run_process(["init", "council"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    return tmp_path / "council" / "config.yaml"


def test_version_loads_no_command_portal_crm_client_or_sql_dialect(tmp_path: Path) -> None:
    code, output, loaded = probe(["--version"], HEAVY, tmp_path)
    assert code == 0
    assert output.startswith("crm-bridge, version ")
    assert loaded == []


def test_help_lists_every_command_without_loading_one(tmp_path: Path) -> None:
    code, output, loaded = probe(["--help"], HEAVY, tmp_path)
    assert code == 0
    assert loaded == []
    listed = output.split("Commands:\n", 1)[1].split()
    for name in COMMANDS:
        assert name in listed
    assert "Send new enquiries and notes to the CRM" in output


def test_a_commands_own_help_loads_no_portal_or_crm_client(tmp_path: Path) -> None:
    code, output, loaded = probe(["sync", "--help"], NOT_FOR_SYNC, tmp_path)
    assert code == 0
    assert "--only [push|pull|overdue|reminders]" in output
    assert loaded == []


def test_every_help_line_is_the_commands_own() -> None:
    """The list --help prints is written down beside each command's module: it must say
    what the command itself says, and every entry must load."""
    context = click.Context(cli)
    for name, lazy in COMMANDS.items():
        command = cli.get_command(context, name)
        assert command is not None, name
        assert command.get_short_help_str(1000) == lazy.help, name
    assert sorted(cli.list_commands(context)) == sorted(COMMANDS)
    enquiry = cli.get_command(context, "enquiry")
    assert isinstance(enquiry, click.Group)
    assert "extend" in enquiry.list_commands(context)


def test_a_sync_with_nothing_to_do_runs_without_the_portal_alembic_or_holidays(
    council: Path,
) -> None:
    code, output, loaded = probe(["--config", str(council), "sync"], NOT_FOR_SYNC,
                                 council.parent)
    assert code == 0, output
    assert output.startswith(
        "sync: pushed 0, notes 0, updated 0, failed 0, retry later 0, overdue 0 (")
    assert loaded == []
    again = run_process(["--config", str(council), "sync", "--json"], cwd=council.parent)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["ok"] is True


def test_an_overlapping_run_says_who_holds_the_lock_and_opens_no_connector(
    council: Path,
) -> None:
    """The case store of the `local` connector is made when the connector opens: a run that
    gives way first leaves none behind."""
    case_store = council.parent / "local-crm.db"
    assert not case_store.exists()
    since = datetime.now(UTC)
    bridge = Bridge.open(council)
    try:
        with held(bridge.engine, "sync", since):
            plain = run_process(["--config", str(council), "sync"], cwd=council.parent)
            as_json = run_process(["--config", str(council), "sync", "--json"],
                                  cwd=council.parent)
    finally:
        bridge.close()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout == (f"another sync is running (pid {os.getpid()} on "
                            f"{socket.gethostname()}, since "
                            f"{since.isoformat(timespec='seconds')})\n")
    assert plain.stderr == ""
    assert as_json.returncode == 0, as_json.stderr
    report = json.loads(as_json.stdout)
    assert report["ok"] is True
    assert sorted(report["skipped"]) == ["overdue", "pull", "push", "reminders"]
    assert not case_store.exists()
    # Once the holder has finished, the next run does the work.
    after = run_process(["--config", str(council), "sync"], cwd=council.parent)
    assert after.returncode == 0, after.stderr
    assert after.stdout.startswith("sync: pushed 0,")
    assert case_store.exists()


def test_a_digest_of_refused_enquiries_alone_still_ends_its_week_after_the_holidays(
    council: Path,
) -> None:
    """The digest looks bank holidays up only when it has something to say; when all it has
    is an enquiry the CRM refused, its "due this week (by ...)" line still counts them."""
    now = datetime(2026, 12, 24, 9, tzinfo=ZoneInfo("Europe/London"))  # a Thursday
    bridge = Bridge.open(council)
    try:
        config = bridge.config
        calendar = WorkingCalendar(config.council.timezone, config.calendar.bank_holidays,
                                   config.calendar.closure_days)
        renderer = Renderer.for_config(config, bridge.loaded.base_dir)
        with bridge.engine.connect() as conn:
            quiet = digest_context(conn, config, calendar, renderer, now.date(), now)
        assert quiet["empty"] is True

        draft = draft_from({**DRAFT_DEFAULTS, "received_at": now})
        enquiry = log_enquiry(bridge.engine, config, bridge.router, draft, now=now)
        with bridge.engine.begin() as conn:
            conn.execute(update(enquiries).where(enquiries.c.id == str(enquiry.id))
                         .values(status="failed_to_send", failure_reason="no such queue"))
            context = digest_context(conn, config, calendar, renderer, now.date(), now)
    finally:
        bridge.close()
    assert context["empty"] is False
    assert (context["refused_count"], context["due_count"], context["overdue_count"]) == (
        1, 0, 0)
    # Christmas, Boxing Day's substitute, the council's closure days 29-31 December, New
    # Year's Day, 2 January's substitute and a weekend each: the fourth working day is the 8th.
    assert context["horizon"] == date(2027, 1, 8)
    assert "DUE THIS WEEK (by Friday 8 January 2027): 0" in renderer.render("digest",
                                                                             context).text
