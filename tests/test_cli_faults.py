"""Faults around the store and odd input, as an admin meets them: each ends in one line naming
the problem and the fix, never a traceback; the exit code says what kind of fault it is
(2 configuration or input, 3 the store cannot be reached, opened or written, 1 unexpected);
and under ``--json`` a JSON object with ``ok: false`` is printed for cron monitoring.

Every command runs as a real process, as cron and a shell run it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from cli_support import CRM_BRIDGE, Council, add_args, copy_council, make_council, run_process
from conftest import _postgres_database
from support.smtp import free_port

from crm_bridge.store.migrate import head_revision


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Council:
    made = make_council(tmp_path_factory.mktemp("template"))
    made.add()  # one enquiry already there, so a read has something to show
    made.ok("sync")  # and sent to the local CRM, whose file now exists too
    return made


@pytest.fixture
def council(template: Council, tmp_path: Path) -> Council:
    return copy_council(template, tmp_path)


def cli(council: Council, *args: str, env: dict[str, str] | None = None,
        ) -> subprocess.CompletedProcess[str]:
    return run_process(["--config", str(council.config), *args], cwd=council.root, env=env)


def one_line(done: subprocess.CompletedProcess[str], code: int, *words: str) -> str:
    """Exit ``code``, a single ``error:`` line on stderr holding ``words``, no traceback."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    for word in words:
        assert word in done.stderr, (word, done.stderr)
    return done.stderr


def json_failure(done: subprocess.CompletedProcess[str], code: int, kind: str) -> dict[str, Any]:
    """The JSON object a failed ``--json`` command prints on stdout."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    data: dict[str, Any] = json.loads(done.stdout)
    assert data["ok"] is False and data["kind"] == kind and data["exit_code"] == code
    assert done.stderr == f"error: {data['error']}\n"
    return data


@contextmanager
def nothing_written(folder: Path) -> Iterator[None]:
    before = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    yield
    after = {p: p.read_bytes() for p in folder.rglob("*") if p.is_file()}
    assert after == before


def set_store(council: Council, url: str) -> None:
    council.edit("config.yaml", "  url: sqlite:///crm-bridge.db\n", f'  url: "{url}"\n')


# --- a read-only store ------------------------------------------------------------------------


@contextmanager
def read_only_folder(council: Council) -> Iterator[Council]:
    """The council folder, read-only for the user the commands run as (see ``as_reader``)."""
    if os.geteuid() != 0:
        council.root.chmod(0o555)
    try:
        yield council
    finally:
        council.root.chmod(0o755)


def as_reader(council: Council, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the CLI where it cannot write the council folder.

    A mode bit stops nothing for root, so as root the folder is bind-mounted read-only in a
    mount namespace of the command's own (as a store on a read-only mount is).
    """
    env = {k: v for k, v in os.environ.items() if k != "CRM_BRIDGE_CONFIG"}
    argv = [CRM_BRIDGE, "--config", str(council.config), *args]
    if os.geteuid() == 0:
        argv = ["unshare", "--mount", "--", "sh", "-c",
                'mount --bind -o ro "$0" "$0" && exec "$@"', str(council.root), *argv]
    done = subprocess.run(argv, cwd=council.root, env=env, capture_output=True, text=True,
                          timeout=60, stdin=subprocess.DEVNULL, check=False)
    if "mount:" in done.stderr or "unshare:" in done.stderr:
        pytest.fail(f"cannot make a read-only mount as root here: {done.stderr}")
    return done


def test_a_read_only_store_still_reads_and_refuses_writes_in_one_line(council: Council) -> None:
    with read_only_folder(council) as locked, nothing_written(locked.root):
        status = as_reader(locked, "db", "status", "--json")
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["up_to_date"] is True
        checked = as_reader(locked, "check-config")
        assert checked.returncode == 0, checked.stderr

        # Every read of personal data is audited: one that cannot be recorded is not shown.
        listed = json_failure(as_reader(locked, "enquiry", "list", "--json"), 3,
                              "store_unavailable")
        assert listed["error"].startswith("not shown: every read of personal data is "
                                          "recorded in the audit log, and the store ")
        assert "read-only" in listed["error"]

        added = as_reader(locked, "enquiry", "add", *add_args())
        one_line(added, 3, f"the store {locked.store} is read-only for user ",
                 "is not writable): nothing was changed; make the file and its folder "
                 "writable for that user")
        synced = json_failure(as_reader(locked, "sync", "--json"), 3, "store_unavailable")
        assert "read-only" in synced["error"]


# --- a store folder or file that does not exist ------------------------------------------------


def test_a_missing_store_folder_is_named_and_nothing_is_created(council: Council) -> None:
    set_store(council, "sqlite:///gone/crm-bridge.db")
    folder = council.root / "gone"
    fix = f"create it (mkdir -p {folder}) and run 'crm-bridge db upgrade', or correct store.url"
    with nothing_written(council.root):
        for command in (["db", "status"], ["db", "upgrade"], ["enquiry", "list"]):
            one_line(cli(council, *command), 2,
                     f"store.url: the state store's folder {folder} does not exist", fix)
        data = json_failure(cli(council, "db", "status", "--json"), 2, "config")
        assert str(folder) in data["error"]
    assert not folder.exists()


def test_a_file_where_the_store_folder_should_be(council: Council) -> None:
    set_store(council, "sqlite:///blocker/crm-bridge.db")
    (council.root / "blocker").write_text("not a folder", encoding="utf-8")
    with nothing_written(council.root):
        one_line(cli(council, "db", "upgrade"), 2,
                 f"the state store's folder {council.root / 'blocker'} is not a folder")


def test_db_status_reports_a_store_not_yet_created_without_creating_it(
        council: Council) -> None:
    council.store.unlink()
    done = cli(council, "db", "status")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (f"no store yet at {council.store}, code needs {head_revision()}: "
                           "run 'crm-bridge db upgrade' to create it\n")
    assert json.loads(cli(council, "db", "status", "--json").stdout)["exists"] is False
    assert not council.store.exists()
    assert cli(council, "db", "upgrade").returncode == 0
    assert json.loads(cli(council, "db", "status", "--json").stdout)["up_to_date"] is True


@pytest.mark.parametrize(("url", "code", "words"), [
    ("postgresql://crm@db:fivefourthreetwo/crm", 2,
     "store.url: is not a usable URL (invalid literal for int() with base 10: "
     "'fivefourthreetwo'): e.g. postgresql://USER@HOST:5432/DATABASE"),
    ("sqlite:///", 2, "store.url: name the file: sqlite:///crm-bridge.db (beside this file)"),
    ("sqlite:///config.yaml", 3, "is not a SQLite database: check the path in its URL"),
])
def test_a_store_url_that_cannot_work_is_named(council: Council, url: str, code: int,
                                               words: str) -> None:
    set_store(council, url)
    with nothing_written(council.root):
        one_line(cli(council, "enquiry", "list"), code, words)


# --- PostgreSQL that cannot be reached ------------------------------------------------------------


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A real, empty PostgreSQL database of this test's own (the server must be running)."""
    with _postgres_database() as url:
        yield url


@pytest.mark.postgres
@pytest.mark.parametrize("fault", ["port", "database", "role"])
def test_unreachable_postgres_is_one_line_and_exit_3(council: Council, postgres_url: str,
                                                      fault: str) -> None:
    from sqlalchemy import make_url

    real = make_url(postgres_url)
    wrong = {"port": real.set(port=free_port()),
             "database": real.set(database="crm_bridge_no_such_db"),
             "role": real.set(username="crm_bridge_no_such_role")}[fault]
    set_store(council, f"postgresql://{wrong.username}:${{STORE_PASSWORD}}@{wrong.host}:"
                       f"{wrong.port}/{wrong.database}")
    env = {"STORE_PASSWORD": "s3cret-Pw"}
    shown = f"postgresql://{wrong.username}@{wrong.host}:{wrong.port}/{wrong.database}"
    for command in (["enquiry", "list"], ["sync"], ["db", "upgrade"]):
        done = cli(council, *command, env=env)
        line = one_line(done, 3, f"cannot reach the state store {shown}",
                        "check that PostgreSQL is running there")
        assert "s3cret-Pw" not in line
    data = json_failure(cli(council, "sync", "--json", env=env), 3, "store_unavailable")
    assert shown in data["error"] and "s3cret-Pw" not in json.dumps(data)


# --- the config file: a YAML alias bomb ------------------------------------------------------

LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
council: *i
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("command", [["check-config"], ["sync", "--json"]])
def test_a_yaml_alias_bomb_is_refused(council: Council, command: list[str]) -> None:
    council.config.write_text(LAUGHS, encoding="utf-8")
    done = cli(council, *command)
    one_line(done, 2, f"{council.config}:6 f: expands to more than 100000 values",
             "YAML aliases (*name)", "write the values out instead")
    if "--json" in command:
        assert json.loads(done.stdout)["kind"] == "config"


def test_yaml_nested_past_the_bound_is_refused(council: Council) -> None:
    council.config.write_text("council: " + "[" * 100 + "]" * 100 + "\n", encoding="utf-8")
    one_line(cli(council, "check-config"), 2, f"{council.config}:1 council: is nested more "
             "than 64 levels deep")


# --- enquiry add --received -------------------------------------------------------------------


@pytest.mark.parametrize("received", ["0001-01-01T00:00Z", "0001-01-02", "1899-06-01",
                                      "1999-12-31T23:59"])
def test_received_before_the_floor_is_refused(council: Council, received: str) -> None:
    with nothing_written(council.root):
        done = cli(council, "enquiry", "add", *add_args(received=received), "--json")
    data = json_failure(done, 2, "input")
    assert data["error"] == ("--received: is before 2000-01-01, the earliest accepted: give "
                             "when the enquiry was received")


def test_received_help_names_the_timezone_and_the_range(council: Council) -> None:
    done = cli(council, "enquiry", "add", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())
    assert "A time with no offset (+01:00, Z) is read in the council's timezone" in text
    assert "from 2000-01-01 up to now" in text
    accepted = cli(council, "enquiry", "add", *add_args(received="2000-01-01"))
    assert accepted.returncode == 0, accepted.stderr
    assert accepted.stdout.startswith("ENQ-2000-000001 logged")


# --- an unexpected error -------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_the_debug_log_holds_no_personal_data(
        council: Council) -> None:
    # A store changed by hand: the schema's revision is right but a column is gone.
    council.sql("ALTER TABLE enquiries RENAME COLUMN constituent_phone TO phone_was")
    args = add_args(name="Hamish Unusualname", phone="07700 900123")
    with nothing_written(council.root):
        done = cli(council, "enquiry", "add", *args, "--json")
    data = json_failure(done, 1, "unexpected")
    assert data["error"].startswith("unexpected OperationalError (sqlite3.OperationalError) at "
                                    "crm_bridge/")
    assert "run it again with -vv" in data["error"]
    verbose = cli(council, "-vv", "enquiry", "add", *args)
    assert verbose.returncode == 1 and "Traceback" not in verbose.stderr
    assert "DEBUG crm_bridge.cli.failure: unexpected OperationalError" in verbose.stderr
    assert "crm_bridge/intake.py" in verbose.stderr  # where it failed
    for personal in ("Hamish", "Unusualname", "07700"):
        assert personal not in verbose.stderr + verbose.stdout


# --- init: a config that runs as it is, on SQLite or PostgreSQL -------------------------------


def commands_run(config: Path, cwd: Path) -> list[subprocess.CompletedProcess[str]]:
    base: Sequence[str] = ["--config", str(config)]
    return [run_process([*base, *args], cwd=cwd) for args in (
        ["check-config"], ["enquiry", "add", *add_args(received="2026-01-05")], ["sync"])]


def test_init_writes_a_config_that_runs_as_it_is(tmp_path: Path) -> None:
    made = run_process(["init", "trial"], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    config = tmp_path / "trial" / "config.yaml"
    for done in commands_run(config, tmp_path):
        assert done.returncode == 0, (done.args, done.stdout, done.stderr)
        assert done.stderr == ""
    # The enquiry is long overdue: the service's reminder went into mail/, as the file says.
    assert list((tmp_path / "trial" / "mail").glob("*.eml"))
    assert "transport: folder" in config.read_text(encoding="utf-8")


@pytest.mark.postgres
def test_init_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    made = run_process(["init", "council", "--store", postgres_url], cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    config = tmp_path / "council" / "config.yaml"
    assert f'  url: "{postgres_url}"\n' in config.read_text(encoding="utf-8")
    assert not (tmp_path / "council" / "crm-bridge.db").exists()
    status = run_process(["--config", str(config), "db", "status", "--json"], cwd=tmp_path)
    assert json.loads(status.stdout)["up_to_date"] is True
    for done in commands_run(config, tmp_path):
        assert done.returncode == 0, (done.args, done.stdout, done.stderr)


@pytest.mark.parametrize(("store", "code", "words"), [
    ("mysql://db/x", 2, "error: --store: 'mysql://db/x' is not a store URL"),
    ("postgresql://crm:hunter2@127.0.0.1/crm", 2,
     "error: --store: the password would be written into config.yaml"),
    ("postgresql://postgres@127.0.0.1", 2, "error: --store: name the server and the database"),
    ("postgresql://postgres@127.0.0.1:{port}/crm", 3,
     "error: cannot reach the state store postgresql://postgres@127.0.0.1:{port}/crm"),
])
def test_init_refuses_a_bad_store_before_writing_anything(tmp_path: Path, store: str,
                                                          code: int, words: str) -> None:
    port = free_port()
    done = run_process(["init", "council", "--store", store.format(port=port)], cwd=tmp_path)
    assert done.returncode == code, done.stderr
    assert done.stderr.startswith(words.format(port=port)) and done.stderr.count("\n") == 1
    assert "hunter2" not in done.stderr
    assert list(tmp_path.iterdir()) == []


# --- usage errors and the exit code list ---------------------------------------------------------


def test_a_usage_error_under_json_is_a_json_object_too(council: Council) -> None:
    done = cli(council, "enquiry", "list", "--limit", "0", "--json")
    assert done.returncode == 2
    data = json.loads(done.stdout)
    assert data == {"ok": False, "kind": "usage", "exit_code": 2,
                    "error": "Invalid value for '--limit': 0 is not in the range 1<=x<=100000."}
    assert "Traceback" not in done.stderr
    unknown = cli(council, "sync", "--jsn", "--json")
    assert unknown.returncode == 2
    # Refused while the command line was still being read: --json is honoured all the same.
    assert json.loads(unknown.stdout)["error"] == "No such option '--jsn'. Did you mean '--json'?"


def test_help_lists_the_exit_codes(tmp_path: Path) -> None:
    done = run_process(["--help"], cwd=tmp_path)
    text = " ".join(done.stdout.split())
    assert "Exit codes: 0 done 1 some items failed (sync)" in text
    assert "2 configuration or usage error" in text
    assert "3 the state store cannot be reached, opened or written" in text
