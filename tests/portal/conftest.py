"""Fixtures for the portal tests: the live portal and signed-in clients (see portal_support)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn

from crm_bridge.app import Bridge
from crm_bridge.portal import create_app
from portal.portal_support import (
    SECRET,
    USERS,
    Client,
    Seeded,
    council,
    free_socket,
    seed,
)


@pytest.fixture(scope="session")
def portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """The live portal (uvicorn in a thread), its bridge and the seeded references."""
    root = tmp_path_factory.mktemp("council")
    bridge = Bridge.open(council(root))
    refs, ids = seed(bridge)
    app = create_app(bridge, SECRET)
    sock = free_socket()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off",
                                           access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("the portal did not start", pytrace=False)
        time.sleep(0.02)
    try:
        yield Seeded(f"http://127.0.0.1:{port}", bridge, refs, ids)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()
        app.state.portal.store.close()
        bridge.close()


@pytest.fixture(scope="session")
def clients(portal: Seeded) -> Iterator[dict[str, Client]]:
    """One signed-in client per seeded user, shared by the session's tests."""
    made = {}
    for username in USERS:
        client = Client(portal.base_url)
        assert client.sign_in(username).status_code == 303, username
        made[username] = client
    yield made
    for client in made.values():
        client.close()


@pytest.fixture
def anonymous(portal: Seeded) -> Iterator[Client]:
    client = Client(portal.base_url)
    yield client
    client.close()
