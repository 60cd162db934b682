"""Bad input at the command line: refused with exit 2 and one line on stderr that names the
file and line (or the flag) and says what to do, never a traceback, and nothing written.

"Nothing written" is checked byte for byte: every file under the council folder (config,
mappings, the state store) hashes the same after the refused command as before, and no
file appears.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path

import pytest
from cli_support import (
    Council,
    add_args,
    copy_council,
    invoke,
    make_council,
    parse_json,
    run_process,
)
from click.testing import Result

STATUSES = "logged, sent, acknowledged, in_progress, responded, closed, failed_to_send"


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Council:
    return make_council(tmp_path_factory.mktemp("template"))


@pytest.fixture
def council(template: Council, tmp_path: Path) -> Council:
    made = copy_council(template, tmp_path)
    made.add()  # one enquiry already there, so 'unchanged' is not trivially 'empty'
    return made


@contextmanager
def nothing_written(council: Council) -> Iterator[None]:
    counts, files = council.counts(), council.snapshot()
    yield
    assert council.counts() == counts
    assert council.snapshot() == files


def refused(result: Result, line: str, code: int = 2) -> None:
    """Exit ``code``, exactly ``line`` on stderr, nothing on stdout, no uncaught exception."""
    assert result.exit_code == code, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception  # not a crash
    assert "Traceback" not in result.output
    assert result.stderr == line + "\n"
    assert result.stdout == ""


# --- the config file --------------------------------------------------------------------


def test_malformed_yaml_names_the_line(council: Council) -> None:
    council.edit("config.yaml", "  port: 25\n", "  port: 25\n   security: none\n")
    line = council.line_of("config.yaml", "   security: none")
    with nothing_written(council):
        result = council.cli("check-config")
    refused(result, f"error: {council.config}:{line} not valid YAML: "
                    "mapping values are not allowed here")


def test_unclosed_quote_names_the_line_it_opened_on(council: Council) -> None:
    council.edit("config.yaml", "  name: Clackmannanshire Council",
                 '  name: "Clackmannanshire Council')
    opened = council.line_of("config.yaml", '"Clackmannanshire Council')
    with nothing_written(council):
        result = council.cli("enquiry", "add", *add_args())
    # YAML notices the quote only where the scalar it opened breaks down (the file's end, or
    # the next double quote, in a comment or not): the message names the line it opened on.
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    noticed = re.fullmatch(rf"error: {re.escape(str(council.config))}:(\d+) not valid YAML: "
                           rf".+ \(while (?:scanning a quoted scalar|parsing a block mapping) "
                           rf"on line {opened}\)\n", result.stderr)
    assert noticed is not None, result.stderr
    assert int(noticed.group(1)) > opened


def test_unknown_key_did_you_mean(council: Council) -> None:
    council.edit("config.yaml", "  timezone: Europe/London", "  timezon: Europe/London")
    line = council.line_of("config.yaml", "timezon: Europe/London")
    with nothing_written(council):
        result = council.cli("check-config")
    refused(result, f"error: {council.config}:{line} council.timezon: unknown key 'timezon' "
                    "(did you mean 'timezone'?)")


def test_missing_environment_variable(council: Council) -> None:
    council.edit("config.yaml", "  password: ${SMTP_PASSWORD:-}",
                 "  password: ${SMTP_PASSWORD_MISSING}")
    line = council.line_of("config.yaml", "SMTP_PASSWORD_MISSING")
    with nothing_written(council):
        result = invoke(["--config", str(council.config), "sync"],
                        env={"SMTP_PASSWORD_MISSING": None})
    refused(result, f"error: {council.config}:{line} smtp.password: environment variable "
                    "SMTP_PASSWORD_MISSING is not set: export SMTP_PASSWORD_MISSING=... before "
                    "running, or write ${SMTP_PASSWORD_MISSING:-default}")
    # Set, the same file is fine.
    assert invoke(["--config", str(council.config), "check-config"],
                  env={"SMTP_PASSWORD_MISSING": "s3cret"}).exit_code == 0


def test_impossible_closure_day(council: Council) -> None:
    council.edit("config.yaml", "    - 2026-12-29\n", "    - 2026-02-30\n")
    line = council.line_of("config.yaml", "2026-02-30")
    with nothing_written(council):
        result = council.cli("check-config")
    refused(result, f"error: {council.config}:{line} calendar.closure_days[0]: '2026-02-30' is "
                    "not a real date (day is out of range for month): write YYYY-MM-DD")


@pytest.mark.parametrize("command", [["check-config"], ["sync"], ["officer", "queue"]])
def test_connector_typo_did_you_mean(council: Council, command: list[str]) -> None:
    council.edit("config.yaml", "  type: local\n", "  type: locl\n")
    line = council.line_of("config.yaml", "type: locl")
    with nothing_written(council):
        result = council.cli(*command)
    refused(result, f"error: {council.config}:{line} connector.type: unknown connector 'locl' "
                    "(did you mean 'local'?)")


def test_unknown_connector(council: Council) -> None:
    council.edit("config.yaml", "  type: local\n", "  type: lagn\n")
    line = council.line_of("config.yaml", "type: lagn")
    with nothing_written(council):
        result = council.cli("check-config")
    assert result.exit_code == 2
    # Which connectors are offered depends on those installed; the line and the name do not.
    assert result.stderr.startswith(
        f"error: {council.config}:{line} connector.type: unknown connector 'lagn' (")
    assert result.stderr.count("\n") == 1
    assert result.stderr.endswith("(did you mean 'lagan'?)\n")


def test_missing_config_file_says_how_to_give_one(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "config.yaml"
    hint = ("no such file: pass --config PATH, set CRM_BRIDGE_CONFIG, "
            "or create one with 'crm-bridge init DIR'")
    refused(invoke(["--config", str(missing), "enquiry", "list"]), f"error: {missing}: {hint}")
    refused(invoke(["sync"], env={"CRM_BRIDGE_CONFIG": str(missing)}),
            f"error: {missing}: {hint}")
    # Neither given: ./config.yaml, as a real process in an empty folder.
    done = run_process(["check-config"], cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr == f"error: config.yaml: {hint}\n"
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_store_not_upgraded_says_run_db_upgrade(council: Council) -> None:
    council.store.unlink()
    message = (f"error: the state store {council.store} does not exist yet: run 'crm-bridge db "
               "upgrade' to create it (or correct store.url if it is elsewhere)")
    with nothing_written(council):
        refused(council.cli("sync"), message)
        refused(council.cli("enquiry", "add", *add_args()), message)
        refused(council.cli("enquiry", "list"), message)
    assert not council.store.exists()  # looking for the schema did not create an empty file


# --- enquiry add ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "line"),
    [
        pytest.param({"category": "pothol"},
                     "error: --category: unknown category 'pothol' (did you mean 'pothole'?)",
                     id="unknown-category"),
        pytest.param({"member": "cllr-morag-kinaird"},
                     "error: --member: unknown member 'cllr-morag-kinaird' "
                     "(did you mean 'cllr-morag-kinnaird'?)",
                     id="unknown-member"),
        pytest.param({"ward": "clacks-wset"},
                     "error: --ward: unknown ward 'clacks-wset' (did you mean 'clacks-west'?)",
                     id="unknown-ward"),
        pytest.param({"ward": "clacks-north"},
                     "error: --ward: Morag Kinnaird is a councillor for 'clacks-west', "
                     "not 'clacks-north'",
                     id="councillor-outside-own-ward"),
        pytest.param({"received": "2026-02-30"},
                     "error: --received: '2026-02-30' is not a date and time like "
                     "2026-07-01T09:30 or 2026-07-01",
                     id="impossible-date"),
        pytest.param({"received": (date.today() + timedelta(days=30)).isoformat()},
                     "error: --received: is in the future: give when the enquiry was received",
                     id="future-date"),
        pytest.param({"postcode": "FK10 ZZZ9"},
                     "error: --postcode: must be a UK postcode like FK10 1EB",
                     id="bad-postcode"),
        pytest.param({"consent": None},
                     "error: --consent: say --consent or --no-consent: the constituent's answer "
                     "to 'Share with the other councillors for Clackmannanshire West (Alasdair "
                     "Baird, Fiona Rennie and Euan Lochhead)?'",
                     id="no-consent-without-a-terminal"),
        pytest.param({"description": None},
                     "error: --description: is required: pass it as a flag (or run in a "
                     "terminal to be asked)",
                     id="missing-flag-without-a-terminal"),
    ],
)
def test_enquiry_add_refused(council: Council, changes: dict[str, str | None],
                             line: str) -> None:
    with nothing_written(council):
        result = council.cli("enquiry", "add", *add_args(**changes))
    refused(result, line)


def test_refused_enquiry_uses_no_reference_number(council: Council) -> None:
    council.cli("enquiry", "add", *add_args(category="pothol"))
    second = parse_json(council.ok("enquiry", "add", *add_args(), "--json").stdout)
    assert second["reference"].endswith("-000002")


# --- enquiry list, show, retry -------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "line"),
    [
        pytest.param(["enquiry", "list", "--status", "bogus"],
                     f"error: --status: unknown status 'bogus': use one of {STATUSES}",
                     id="unknown-status"),
        pytest.param(["enquiry", "list", "--member", "cllr-iain-tenant"],
                     "error: --member: unknown member 'cllr-iain-tenant' "
                     "(did you mean 'cllr-iain-tennant'?)",
                     id="unknown-member-filter"),
        pytest.param(["enquiry", "list", "--category", "potholes"],
                     "error: --category: unknown category 'potholes' (did you mean 'pothole'?)",
                     id="unknown-category-filter"),
        pytest.param(["enquiry", "show", "ENQ-2026-999999"],
                     "error: no enquiry 'ENQ-2026-999999': check the reference "
                     "(like ENQ-2026-000123)",
                     id="show-unknown-reference"),
        pytest.param(["enquiry", "retry", "ENQ-2026-999999"],
                     "error: no enquiry 'ENQ-2026-999999': check the reference "
                     "(like ENQ-2026-000123)",
                     id="retry-unknown-reference"),
    ],
)
def test_enquiry_queries_refused(council: Council, args: list[str], line: str) -> None:
    with nothing_written(council):
        refused(council.cli(*args), line)


# --- a real process: exit codes and stderr as a shell or cron sees them ----------------------


@pytest.mark.parametrize(
    ("edit", "args", "expected"),
    [
        pytest.param(None, ["enquiry", "add", *add_args(member="cllr-nobody")],
                     "error: --member: unknown member 'cllr-nobody'", id="unknown-member"),
        pytest.param(("  timezone: Europe/London", "  timezone: Europe/Londn"),
                     ["check-config"], "council.timezone: unknown timezone 'Europe/Londn'",
                     id="bad-timezone"),
    ],
)
def test_refusals_as_a_real_process(council: Council, edit: tuple[str, str] | None,
                                    args: list[str], expected: str) -> None:
    if edit:
        council.edit("config.yaml", *edit)
    with nothing_written(council):
        done = run_process(["--config", str(council.config), *args], cwd=council.root)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ")
    assert expected in done.stderr


# --- sync with a failure: exit 1, and the failure is there to find -------------------------------


def test_sync_exits_1_when_the_crm_rejects_an_enquiry(council: Council) -> None:
    council.ok("sync")  # the fixture's enquiry goes through
    council.edit("mappings/local.yaml", 'title: "{reference}: {category}"',
                 'title: "{reference}: {nonsense}"')
    reference = council.add(member="cllr-iain-tennant", category="street-lighting")

    done = run_process(["--config", str(council.config), "sync"], cwd=council.root)
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    assert ", failed 1," in done.stdout
    assert reference in done.stderr  # the log names the enquiry that failed

    listed = parse_json(council.ok("enquiry", "list", "--status", "failed_to_send",
                                   "--json").stdout)
    assert [row["reference"] for row in listed] == [reference]
    reason = "mapping title uses an unknown field 'nonsense'"
    assert listed[0]["failure_reason"] == reason
    shown = council.ok("enquiry", "show", reference).stdout
    assert shown.startswith(f"{reference}  [failed_to_send]")
    assert f"failed to send: {reason}\n" in shown

    # A failed item is not retried by itself: the next sync has nothing to do and exits 0.
    assert "pushed 0," in council.ok("sync").stdout

    # Mend the mapping, retry, and it goes.
    council.edit("mappings/local.yaml", "{nonsense}", "{category}")
    council.ok("enquiry", "retry", reference)
    assert "pushed 1," in council.ok("sync").stdout
    assert parse_json(council.ok("enquiry", "show", reference, "--json").stdout)[
        "status"] == "sent"
