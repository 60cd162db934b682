"""The rt connector's translation of every failure, fired at it over real HTTP.

RT itself will not answer 500 or 429 on demand, so these come from a loopback
server that answers with the failure (tests/support/http_faults.py); refused
connections use a port nobody listens on. What the admin reads is asserted too.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from pathlib import Path

import pytest
import yaml
from support.http_faults import Fault, FaultServer, fault_server

from connectors.base import ConnectorContext
from connectors.rt import RtConnector, RtSettings
from connectors.rt_client import retry_after_seconds
from connectors.rt_mapping import RtMapping
from crm_bridge.errors import AuthError, ConnectorError, PermanentError, TransientError

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
    made = RtConnector(RtSettings(url=faults.url, token=TOKEN, timeout_seconds=0.5),
                       ConnectorContext(tmp_path, _mapping()))
    yield made
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
