"""`sync` through the open311 connector against the GeoReport v2 double failing 30% of its
calls (refused, 500, 429, dropped after the write), on SQLite and PostgreSQL, in JSON and
XML: every enquiry ends with exactly one request, the one it records, and every officer's
change comes back once."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from support.constants import NOW
from support.open311_double import FAULTS, Open311Double, open311_double
from sync.council import FAST_RETRY, configure

from crm_bridge.app import Bridge
from crm_bridge.models import Enquiry, Status
from crm_bridge.store.enquiries import get_enquiry
from crm_bridge.store.migrate import upgrade
from crm_bridge.sync.runner import run_sync

pytestmark = pytest.mark.timeout(300)

KEY_VARIABLE = "OPEN311_API_KEY"
ENQUIRIES = 24


@pytest.fixture(params=["json", "xml"])
def double(request: pytest.FixtureRequest) -> Iterator[tuple[Open311Double, str]]:
    with open311_double(fail_share=0.3, seed=2026, tokens=request.param == "xml",
                        token_pending=1) as made:
        yield made, request.param
        assert not made.problems, made.problems


@pytest.fixture
def bridge(config_file: Path, store_url: str, double: tuple[Open311Double, str],
           monkeypatch: pytest.MonkeyPatch) -> Iterator[Bridge]:
    server, fmt = double
    monkeypatch.setenv(KEY_VARIABLE, server.api_key)
    configure(config_file, replace={"connector": {
        "type": "open311", "url": server.url, "api_key": f"${{{KEY_VARIABLE}}}",
        "jurisdiction_id": server.jurisdiction_id, "format": fmt, "timeout_seconds": 2}},
        sync={"retry": dict(FAST_RETRY)}, reminders={"enabled": False})
    mapping = config_file.parent / "mappings" / "open311.yaml"
    data = yaml.safe_load(mapping.read_text(encoding="utf-8"))
    data["services"] = dict.fromkeys(data["services"], "POT")  # the double's code
    mapping.write_text(yaml.safe_dump(data), encoding="utf-8")
    from crm_bridge.store.engine import make_engine

    engine = make_engine(store_url)
    upgrade(engine)
    engine.dispose()
    opened = Bridge.open(config_file)
    yield opened
    opened.close()


def _stored(bridge: Bridge, enquiry: Enquiry) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, enquiry.reference)
    assert found is not None
    return found


def _sync_until(bridge: Bridge, done: Callable[[], bool], start: int) -> int:
    for run in range(start, start + 60):
        run_sync(bridge.engine, bridge.connector(), bridge.mapping(), bridge.config,
                 now=NOW + timedelta(minutes=run), only=("push", "pull"))
        if done():
            return run + 1
    raise AssertionError("sync had not settled after 60 runs")


def test_faults_never_make_a_second_request_or_lose_a_change(
        bridge: Bridge, double: tuple[Open311Double, str],
        log: Callable[..., Enquiry]) -> None:
    server, _ = double
    logged = [log(description=f"Pothole number {n}") for n in range(ENQUIRIES)]

    runs = _sync_until(bridge, lambda: all(_stored(bridge, e).crm_ref for e in logged), 0)

    marked = {e.id: [r.id for r in server.state.requests.values()
                     if f"[crm-bridge {e.id}]" in r.description] for e in logged}
    assert all(len(ids) == 1 for ids in marked.values()), marked
    for enquiry in logged:
        ref = _stored(bridge, enquiry).crm_ref
        assert ref is not None
        [request_id] = marked[enquiry.id]
        assert ref in (request_id, *(f"token:{t}" for t, r in server.state.tokens.items()
                                     if r == request_id))

    for request_id in list(server.state.requests):
        server.state.act(request_id, "fixed", f"Filled: request {request_id}.")
    _sync_until(bridge, lambda: all(_stored(bridge, e).status is Status.RESPONDED
                                    for e in logged), runs)
    for enquiry in logged:
        after = _stored(bridge, enquiry)
        [request_id] = marked[enquiry.id]
        assert after.response == f"Filled: request {request_id}."
        assert [h.event for h in after.history].count("response") == 1
    assert set(server.injected) == set(FAULTS), server.injected
