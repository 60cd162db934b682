"""The logging boundary on its own: which records pass, and what is replaced in them."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import pytest
from pydantic import BaseModel, SecretStr

from crm_bridge.logsafe import SafeLogFilter, install_logging, redact, register_secrets


@pytest.fixture
def written() -> Iterator[tuple[io.StringIO, logging.Logger]]:
    """A logger tree whose handler carries the filter, as the CLI's does."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SafeLogFilter())
    top = logging.getLogger("logsafe_test")
    top.addHandler(handler)
    top.setLevel(logging.DEBUG)
    top.propagate = False
    yield stream, top
    top.removeHandler(handler)


def test_libraries_debug_lines_are_dropped_and_the_bridges_kept(
    written: tuple[io.StringIO, logging.Logger], monkeypatch: pytest.MonkeyPatch
) -> None:
    stream, top = written
    # Records are judged by their logger's name: these stand for zeep's and the bridge's.
    monkeypatch.setattr("crm_bridge.logsafe.BRIDGE_LOGGERS", ("logsafe_test.crm_bridge",))
    top.getChild("zeep.transports").debug("HTTP Post to %s:\n%s", "http://fl", "<Envelope/>")
    top.getChild("zeep.transports").info("a library's INFO line")
    top.getChild("crm_bridge.sync").debug("push ENQ-2026-000001 claimed")
    assert stream.getvalue().splitlines() == ["a library's INFO line",
                                              "push ENQ-2026-000001 claimed"]


def test_secrets_and_contact_details_are_replaced_in_messages_and_tracebacks(
    written: tuple[io.StringIO, logging.Logger]
) -> None:
    stream, top = written

    class Settings(BaseModel):
        nested: dict[str, SecretStr]

    register_secrets(Settings(nested={"token": SecretStr("tok-55aa-secret")}))
    top.warning("retrying with %s for %s", "tok-55aa-secret", "jo.bloggs@example.com")
    try:
        raise ValueError("reply quoted 01259 450000 and FK10 1EB")
    except ValueError:
        top.exception("failed at https://bridge:pa55word@crm.example/api?token=abc123")
    text = stream.getvalue()
    for gone in ("tok-55aa-secret", "jo.bloggs", "01259 450000", "FK10 1EB", "pa55word",
                 "abc123"):
        assert gone not in text
    assert "retrying with [redacted] for [e-mail]" in text
    assert "reply quoted [phone] and [postcode]" in text  # the traceback's last line


def test_references_ids_and_timings_are_left_alone() -> None:
    line = ("push ENQ-2026-000123 -> LOC-000001 (12 ms) id 3f2a9c1e-0b7d-4c55-9a7e-2d0f7b8e6a11 "
            "at 2026-11-03T10:00:00+00:00 from 127.0.0.1:8025, 2000 rows")
    assert redact(line) == line


def test_install_logging_filters_handlers_already_there(monkeypatch: pytest.MonkeyPatch) -> None:
    root = logging.getLogger()
    stream = io.StringIO()
    existing = logging.StreamHandler(stream)
    monkeypatch.setattr(root, "handlers", [existing])
    install_logging(2, environ={"CRM_TOKEN": "env-token-9988"})
    assert any(isinstance(f, SafeLogFilter) for f in existing.filters)
    logging.getLogger("crm_bridge.test").warning("token env-token-9988 refused")
    assert stream.getvalue() == "token [redacted] refused\n"
