"""The rt connector's translation of every failure, fired at it over real HTTP.

RT itself will not answer 500 or 429 on demand, so these come from a loopback
server that answers with the failure (tests/support/http_faults.py); refused
connections use a port nobody listens on. What the admin reads is asserted too.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import yaml
from cli_support import add_args, invoke, make_council
from support.connector_kit import make_enquiry
from support.http_faults import Fault, FaultServer, fault_server

from connectors.base import ConnectorContext, Note
from connectors.rt import RtConnector, RtSettings
from connectors.rt_client import retry_after_seconds
from connectors.rt_mapping import RtMapping
from crm_bridge.errors import AuthError, ConnectorError, PermanentError, TransientError
from crm_bridge.models import ServiceDestination

REPO = Path(__file__).resolve().parents[1]
TOKEN = "1-27-0123456789abcdef0123456789abcdef"


def _mapping() -> RtMapping:
    data = yaml.safe_load((REPO / "mappings" / "rt.yaml").read_text(encoding="utf-8"))
    return RtMapping.model_validate(data)


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


@pytest.fixture
def connector(faults: FaultServer, tmp_path: Path) -> Iterator[RtConnector]:
    """One try per call: each failure reaches the caller as RT gave it (the reads asked
    again are tested below)."""
    made = RtConnector(RtSettings(url=faults.url, token=TOKEN, timeout_seconds=0.5,
                                  read_attempts=1),
                       ConnectorContext(tmp_path, _mapping()))
    yield made
    made.close()


def test_a_read_is_asked_again_but_a_write_and_a_call_rt_did_not_answer_are_not(
        faults: FaultServer, tmp_path: Path) -> None:
    made = RtConnector(RtSettings(url=faults.url, token=TOKEN, timeout_seconds=0.5,
                                  read_attempts=3, read_retry_wait=0.01,
                                  pause_after_timeout_seconds=0),
                       ConnectorContext(tmp_path, _mapping()))
    try:
        faults.answer(Fault(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}))
        with pytest.raises(TransientError, match="HTTP 502"):
            made.health()
        assert [s.method for s in faults.seen] == ["GET"] * 3
        faults.seen.clear()
        with pytest.raises(TransientError, match="HTTP 502"):
            made.client.comment("7", "A cyclist fell here on Friday.")
        assert [s.method for s in faults.seen] == ["POST"]
        faults.seen.clear()
        faults.answer(Fault(503, b"", {"Retry-After": "120"}))  # longer than it waits
        with pytest.raises(TransientError):
            made.health()
        assert len(faults.seen) == 1
        faults.seen.clear()
        faults.answer(Fault(200, _json({"Version": "5.0.3"}), delay=1.5))
        with pytest.raises(TransientError, match="did not answer GET /rt"):
            made.health()
        assert len(faults.seen) == 1
    finally:
        made.close()


def _json(data: object) -> bytes:
    return json.dumps(data).encode()


FAILURES = [
    pytest.param(Fault(500, _json({"message": "Internal Server Error"})), TransientError,
                 "HTTP 500", id="500"),
    pytest.param(Fault(502, b"<html><body>Bad gateway</body></html>",
                       {"Content-Type": "text/html"}), TransientError,
                 "HTTP 502 (text/html, 37 bytes)", id="502"),
    pytest.param(Fault(503, b"", {"Retry-After": "7"}), TransientError, "HTTP 503", id="503"),
    pytest.param(Fault(429, _json({"message": "Too many requests"})), TransientError,
                 "HTTP 429 (application/json", id="429"),
    pytest.param(Fault(401, _json({"message": "Unauthorized"})), AuthError,
                 "the token or password was not accepted", id="401"),
    pytest.param(Fault(403, _json({"message": "No permission to create tickets in the queue "
                                              "'Roads'"})), AuthError,
                 "No permission to create tickets in the queue 'Roads'", id="403"),
    pytest.param(Fault(400, _json({"message": "Invalid value for Response due"})),
                 PermanentError, "Invalid value for Response due", id="400"),
    pytest.param(Fault(404, _json({"message": "Not Found"})), PermanentError, "Not Found",
                 id="404"),
    pytest.param(Fault(422, _json({"message": "Unprocessable"})), PermanentError,
                 "Unprocessable", id="422"),
    pytest.param(Fault(200, b"<html>RT is starting</html>"), TransientError, "not JSON",
                 id="200-not-json"),
    pytest.param(Fault(200, _json({"Plugins": []})), TransientError, "Version",
                 id="200-wrong-json"),
    pytest.param(Fault(200, _json({"Version": "5.0.3"}), delay=1.5), TransientError,
                 "did not answer GET /rt within 0.5 s", id="hang"),
]


@pytest.mark.parametrize(("fault", "error", "words"), FAILURES)
def test_each_failure_becomes_the_error_sync_acts_on(
        faults: FaultServer, connector: RtConnector, fault: Fault,
        error: type[ConnectorError], words: str) -> None:
    faults.answer(fault)
    with pytest.raises(ConnectorError) as raised:
        connector.health()
    assert isinstance(raised.value, error)
    assert words in str(raised.value)


def test_retry_after_reaches_sync_in_seconds_or_as_a_date(
        faults: FaultServer, connector: RtConnector) -> None:
    faults.answer(Fault(503, b"", {"Retry-After": "7"}))
    with pytest.raises(TransientError) as raised:
        connector.health()
    assert raised.value.retry_after == 7.0

    when = datetime.now(UTC) + timedelta(seconds=30)
    faults.answer(Fault(429, b"", {"Retry-After": format_datetime(when, usegmt=True)}))
    with pytest.raises(TransientError) as raised:
        connector.health()
    assert raised.value.retry_after is not None and 25 <= raised.value.retry_after <= 30
    assert retry_after_seconds("soon") is None


def test_refused_connection_is_transient_and_names_the_crm(tmp_path: Path) -> None:
    from support.connector_kit import closed_port

    url = f"http://127.0.0.1:{closed_port()}"
    made = RtConnector(RtSettings(url=url, token=TOKEN), ConnectorContext(tmp_path, _mapping()))
    try:
        with pytest.raises(TransientError, match="cannot be reached"):
            made.health()
    finally:
        made.close()


def test_the_token_is_sent_to_rt_and_never_logged_or_shown(
        faults: FaultServer, connector: RtConnector, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    faults.answer(Fault(200, _json({"Version": "5.0.3"})))
    connector.health()
    assert faults.seen[-1].headers["Authorization"] == f"token {TOKEN}"
    assert TOKEN not in caplog.text
    lines = [r.getMessage() for r in caplog.records if r.name == "connectors.rt_client"]
    assert len(lines) == 1 and lines[0].startswith("RT GET /rt -> 200 (")
    settings = connector.settings
    assert TOKEN not in repr(settings) and TOKEN not in str(settings.model_dump())
    password = RtSettings(url=faults.url, username="crm-bridge", password="s3cret-pw")
    assert "s3cret-pw" not in repr(password)


@pytest.mark.parametrize(("settings", "words"), [
    ({"url": "http://rt", "token": ""}, "give token: ${RT_TOKEN}"),
    ({"url": "http://rt", "username": "crm-bridge"}, "give token: ${RT_TOKEN}"),
    ({"url": "http://rt", "token": "t", "username": "u", "password": "p"}, "not both"),
    ({"url": "rt.council.example", "token": "t"}, "must start with https://"),
])
def test_settings_refuse_a_missing_or_doubled_login_in_plain_words(
        settings: dict[str, str], words: str) -> None:
    with pytest.raises(ValueError, match=words.replace("$", r"\$").replace("{", r"\{")):
        RtSettings.model_validate(settings)


def test_the_base_url_may_be_given_with_the_api_path() -> None:
    settings = RtSettings(url="https://rt.example/REST/2.0/", token="t")
    assert settings.url == "https://rt.example"


# -- an RT that takes the connection and never answers ---------------------------------------


class Silent:
    """A loopback port that accepts every connection and never sends a byte."""

    def __init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[socket.socket] = []
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.held.append(conn)

    @property
    def accepted(self) -> int:
        return len(self.held)

    def close(self) -> None:
        self.listener.close()
        for conn in self.held:
            conn.close()
        self.thread.join(timeout=5)


@pytest.fixture
def silent() -> Iterator[Silent]:
    made = Silent()
    yield made
    made.close()


ROADS = ServiceDestination(id="roads", name="Roads", crm_target="Roads", response_days=10,
                           contact="roads@example.gov.uk")


def _silent_connector(silent: Silent, tmp_path: Path, **settings: float) -> RtConnector:
    return RtConnector(RtSettings(url=silent.url, token=TOKEN, timeout_seconds=0.5,
                                  connect_timeout_seconds=0.5, **settings),
                       ConnectorContext(tmp_path, _mapping()))


def test_the_default_timeouts_are_bounded() -> None:
    settings = RtSettings(url="https://rt.example", token="t")
    assert (settings.connect_timeout_seconds, settings.timeout_seconds) == (10, 30)
    assert settings.pause_after_timeout_seconds == 300


def test_an_rt_that_never_answers_is_a_transient_error_and_is_then_left_alone(
        silent: Silent, tmp_path: Path) -> None:
    connector = _silent_connector(silent, tmp_path)
    try:
        with pytest.raises(TransientError) as first:
            connector.create_case(make_enquiry(ROADS), ROADS)
        assert "did not answer GET /queue/Roads within 0.5 s" in str(first.value)
        assert first.value.retry_after == 300  # longer than sync waits: not retried this run

        for call in (connector.health, lambda: connector.add_note("7", Note("x", "y")),
                     lambda: list(connector.fetch_updates(None))):
            with pytest.raises(TransientError, match="not calling it again") as later:
                call()
            assert later.value.retry_after is not None and 0 < later.value.retry_after <= 300
    finally:
        connector.close()
    assert silent.accepted == 1


def test_with_no_pause_each_call_waits_for_its_own_timeout(silent: Silent,
                                                          tmp_path: Path) -> None:
    connector = _silent_connector(silent, tmp_path, pause_after_timeout_seconds=0)
    try:
        for _ in range(2):
            with pytest.raises(TransientError, match="did not answer GET /rt") as raised:
                connector.health()
            assert raised.value.retry_after is None
    finally:
        connector.close()
    assert silent.accepted == 2


def test_a_sync_against_an_rt_that_never_answers_calls_it_once(
        silent: Silent, tmp_path: Path) -> None:
    """Three enquiries to push and a pull: one call waits for its timeout, and the rest of
    the run gives up at once, keeping every enquiry for a later run."""
    council = make_council(tmp_path)
    council.edit("config.yaml", "connector:\n  type: local\n  # local: the SQLite file holding "
                 "the cases (beside this file if relative).\n  path: local-crm.db\n",
                 f"connector:\n  type: rt\n  url: {silent.url}\n  token: ${{RT_TOKEN}}\n"
                 "  timeout_seconds: 0.5\n  connect_timeout_seconds: 0.5\n")
    env = {"RT_TOKEN": TOKEN}
    added = []
    for _ in range(3):
        result = invoke(["--config", str(council.config), "enquiry", "add", *add_args(),
                         "--json"], env=env)
        assert result.exit_code == 0, result.output
        added.append(json.loads(result.stdout)["reference"])
    synced = invoke(["--config", str(council.config), "sync"], env=env)
    assert synced.exit_code != 0
    assert "did not answer" in synced.output
    assert silent.accepted == 1
    for reference in added:
        shown = invoke(["--config", str(council.config), "enquiry", "show", reference,
                        "--json"], env=env)
        assert json.loads(shown.stdout)["status"] == "logged"
