"""How the open311 connector reads a failing server: GeoReport's ``[{code, description}]``
errors (JSON and XML), refused keys, a URL with no endpoint, busy and broken servers, and
XML that tries to use a DTD. Failures a real server will not give on demand come from the
double's faults or a loopback server answering with them (tests/support/http_faults.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from support.connector_kit import closed_port, make_enquiry
from support.http_faults import Fault, FaultServer, fault_server
from support.open311_double import open311_double
from support.open311_kit import POTHOLES, connect, site_mapping

from connectors.base import ConnectorContext, Note
from connectors.open311 import Open311Connector, Open311Settings
from crm_bridge.errors import AuthError, MisconfiguredError, PermanentError, TransientError


@pytest.fixture
def faults() -> Iterator[FaultServer]:
    with fault_server() as server:
        yield server


def _on(server: FaultServer, fmt: str = "json") -> Open311Connector:
    return Open311Connector(Open311Settings(url=server.url, api_key=SecretStr("k"), format=fmt,
                                            updates="servicerequestupdates"),
                            ConnectorContext(Path("."), site_mapping()))


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_refused_request_says_why_in_the_servers_words(fmt: str) -> None:
    with open311_double() as server:
        crm = connect(server, format=fmt)
        with pytest.raises(PermanentError) as refused:
            crm.add_note("424242", Note("x", "cllr-x"))
        assert "Service request 424242 not found (code 400)" in str(refused.value)


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_wrong_api_key_is_an_auth_error(fmt: str) -> None:
    with open311_double() as server:
        crm = connect(server, format=fmt, api_key=SecretStr("wrong"))
        with pytest.raises(AuthError, match="api_key"):
            crm.create_case(make_enquiry(POTHOLES), POTHOLES, fresh=True)
        assert server.state.requests == {}


def test_no_endpoint_at_the_url_is_misconfigured() -> None:
    with open311_double() as server:
        crm = connect(server, url=server.url.replace("/open311/v2", "/georeport"))
        with pytest.raises(MisconfiguredError, match=r"check connector\.url"):
            crm.health()


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_failing_server_is_transient(faults: FaultServer, status: int) -> None:
    faults.answer(Fault(status, b"<html>oops</html>", {"Content-Type": "text/html"}))
    with pytest.raises(TransientError, match=f"HTTP {status}"):
        _on(faults).health()


def test_429_carries_the_retry_after(faults: FaultServer) -> None:
    faults.answer(Fault(429, b"[]", {"Retry-After": "120"}))
    with pytest.raises(TransientError) as busy:
        _on(faults).health()
    assert busy.value.retry_after == 120


def test_401_and_403_stop_the_run(faults: FaultServer) -> None:
    for status in (401, 403):
        faults.answer(Fault(status, json.dumps([{"code": status,
                                                 "description": "jurisdiction not allowed"}]
                                               ).encode()))
        with pytest.raises(AuthError, match="jurisdiction not allowed"):
            _on(faults).health()


def test_a_garbled_answer_is_transient(faults: FaultServer) -> None:
    faults.answer(Fault(200, b'[{"service_code": "PO'))
    with pytest.raises(TransientError, match="not JSON"):
        _on(faults).health()


def test_xml_with_an_external_entity_is_not_read(faults: FaultServer) -> None:
    faults.answer(Fault(200, b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM '
                             b'"file:///etc/passwd">]><services><service><service_code>&x;'
                             b'</service_code></service></services>',
                        {"Content-Type": "text/xml"}))
    with pytest.raises(TransientError, match="not XML"):
        _on(faults, "xml").health()


def test_an_unreachable_server_is_transient() -> None:
    crm = Open311Connector(Open311Settings(url=f"http://127.0.0.1:{closed_port()}/open311/v2"),
                           ConnectorContext(Path("."), site_mapping()))
    with pytest.raises(TransientError, match="connection refused"):
        crm.health()


@pytest.mark.parametrize("fault", ["refused", "500", "429", "drop"])
def test_each_fault_on_a_read_is_transient(fault: str) -> None:
    with open311_double() as server:
        crm = connect(server)
        server.fail_next("GET services", fault)
        with pytest.raises(TransientError):
            crm.health()
        crm.health()  # and the next call goes through


def test_an_error_list_sent_with_200_is_a_refusal(faults: FaultServer) -> None:
    """Some servers answer a refused create with HTTP 200 and the error list."""
    faults.answer(Fault(200, json.dumps([{"code": "BAD_LOCATION",
                                          "description": "Outside the council area"}]).encode()))
    with pytest.raises(PermanentError, match="Outside the council area"):
        _on(faults).create_case(make_enquiry(POTHOLES), POTHOLES, fresh=True)
