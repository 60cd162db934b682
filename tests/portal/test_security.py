"""Security behaviour over real HTTP: headers, cookies, CSRF, throttling, sessions ending,
redirects, uploads, and trusted-header single sign-on (off by default, proxy-only)."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import requests
import uvicorn

from crm_bridge.app import Bridge
from crm_bridge.portal import create_app
from crm_bridge.portal.accounts import UserRole, create_user
from crm_bridge.portal.security import TrustedProxy
from portal.portal_support import PASSWORD, SECRET, Client, Seeded, council, csrf_of, free_socket


def test_security_headers_on_pages_and_assets(portal: Seeded, anonymous: Client) -> None:
    for path in ("/sign-in", "/static/vendor/portal.css", "/api/openapi.json"):
        headers = anonymous.get(path).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "'unsafe-inline'" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
        assert "strict-transport-security" not in headers  # plain HTTP here
    assert anonymous.get("/sign-in").headers["cache-control"] == "no-store"


def test_session_cookie_flags_and_secure_behind_https(portal: Seeded) -> None:
    client = Client(portal.base_url)
    page = client.get("/sign-in", headers={"X-Forwarded-Proto": "https"})
    assert "Secure" in page.headers["set-cookie"]
    # requests keeps Secure cookies for HTTPS: hand the pre-session cookie back by hand.
    pre = page.headers["set-cookie"].split(";")[0].split("=", 1)[1]
    response = client.post("/sign-in", headers={"X-Forwarded-Proto": "https"},
                           cookies={"crm_bridge_pre": pre}, data={
        "csrf_token": csrf_of(page.text), "username": "iain", "password": PASSWORD})
    cookie = response.headers["set-cookie"]
    assert response.status_code == 303
    assert "crm_bridge_session=" in cookie
    for flag in ("HttpOnly", "SameSite=Lax", "Secure", "Path=/"):
        assert flag in cookie
    assert "strict-transport-security" in response.headers
    client.close()


def test_posts_need_the_csrf_token_and_this_origin(portal: Seeded,
                                                   clients: dict[str, Client]) -> None:
    client = clients["kirsty"]
    ref = portal.refs["own_private"]
    assert client.post(f"/enquiries/{ref}/notes", data={"note": "x"}).status_code == 403
    assert client.post(f"/enquiries/{ref}/notes", data={"note": "x", "csrf_token": "0" * 64}
                       ).status_code == 403
    assert client.post(f"/enquiries/{ref}/notes", data={"note": "x", "csrf_token": client.csrf},
                       headers={"Origin": "https://evil.example"}).status_code == 403
    assert client.post(f"/api/enquiries/{ref}/notes", json={"text": "x"}).status_code == 403
    other = clients["iain"]  # a valid token, but another session's
    assert client.post(f"/enquiries/{ref}/notes", data={"note": "x", "csrf_token": other.csrf}
                       ).status_code == 403
    assert client.post(f"/enquiries/{ref}/notes", data={"note": "ok", "csrf_token": client.csrf},
                       headers={"Origin": portal.base_url}).status_code == 303


def test_sign_in_is_throttled_per_username(portal: Seeded) -> None:
    client = Client(portal.base_url)
    for _ in range(5):
        page = client.get("/sign-in")
        wrong = client.post("/sign-in", data={"csrf_token": csrf_of(page.text),
                                              "username": "throttled", "password": "wrong-guess"})
        assert wrong.status_code == 400
        assert "Enter a correct username and password" in wrong.text
    page = client.get("/sign-in")
    right = client.post("/sign-in", data={"csrf_token": csrf_of(page.text),
                                          "username": "throttled", "password": PASSWORD})
    assert right.status_code == 429
    assert "tried too many times" in right.text
    # Other users still sign in from the same address: its limit is looser.
    assert Client(portal.base_url).sign_in("angus").status_code == 303
    client.close()


def test_unknown_user_and_wrong_password_read_the_same(anonymous: Client) -> None:
    texts = []
    for username in ("nobody-here", "kirsty"):
        page = anonymous.get("/sign-in")
        response = anonymous.post("/sign-in", data={"csrf_token": csrf_of(page.text),
                                                    "username": username, "password": "nope1234"})
        texts.append(response.text.replace(username, "U"))
    assert texts[0] == texts[1]


def test_sign_out_ends_the_session_on_the_server(portal: Seeded) -> None:
    client = Client(portal.base_url)
    assert client.sign_in("iain").status_code == 303
    token = client.cookies["crm_bridge_session"]
    assert client.post("/sign-out", data={"csrf_token": client.csrf}).status_code == 303
    replay = requests.get(portal.base_url + "/", cookies={"crm_bridge_session": token},
                          allow_redirects=False, timeout=10)
    assert replay.status_code == 303 and replay.headers["location"].startswith("/sign-in")
    client.close()


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/", "/\\evil"])
def test_no_open_redirect_after_sign_in(portal: Seeded, target: str) -> None:
    client = Client(portal.base_url)
    page = client.get("/sign-in", params={"next": target})
    response = client.post("/sign-in", data={"csrf_token": csrf_of(page.text), "next": target,
                                             "username": "iain", "password": PASSWORD})
    assert response.headers["location"] == "/"
    client.close()


@pytest.mark.parametrize(("name", "data", "message"), [
    ("notes.txt", b"hello, not a picture", "must be a JPG or PNG"),
    ("big.jpg", b"\xff\xd8\xff" + b"0" * (6 * 1024 * 1024), "smaller than 5MB"),
    ("fake.png", b"<svg onload=alert(1)>", "must be a JPG or PNG"),
])
def test_photo_uploads_are_checked(clients: dict[str, Client], name: str, data: bytes,
                                   message: str) -> None:
    client = clients["kirsty"]
    response = client.post("/enquiries/new", files={"photo": (name, data, "image/png")}, data={
        "csrf_token": client.csrf, "category": "parks", "name": "Photo Tester",
        "description": "Broken bench", "consent": "no", "channel": "email"})
    assert response.status_code == 400
    assert message in response.text


def test_openapi_documents_the_api(anonymous: Client) -> None:
    schema = anonymous.get("/api/openapi.json").json()
    assert {"/api/enquiries", "/api/enquiries/{reference}", "/api/enquiries/{reference}/notes",
            "/api/duplicates", "/api/dashboard"} <= set(schema["paths"])
    assert not any(path.startswith(("/sign-in", "/search")) for path in schema["paths"])


@pytest.fixture(scope="module")
def sso_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second portal with trusted-header SSO on (X-Remote-User, from 127.0.0.1 only)."""
    root: Path = tmp_path_factory.mktemp("sso")
    config = council(root)
    text = config.read_text(encoding="utf-8")
    assert text.count("  # trusted_header: X-Remote-User\n") == 1
    config.write_text(text.replace("  # trusted_header: X-Remote-User\n",
                                   "  trusted_header: X-Remote-User\n"), encoding="utf-8")
    bridge = Bridge.open(config)
    with bridge.engine.begin() as conn:
        create_user(conn, bridge.config, "iain", UserRole.MEMBER, None, "cllr-iain-tennant",
                    None, datetime.now(UTC))
    sock = free_socket()
    app = create_app(bridge, SECRET)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=15)
    sock.close()
    app.state.portal.store.close()
    bridge.close()


def test_trusted_header_signs_in_known_users_only(sso_portal: str) -> None:
    known = requests.get(sso_portal + "/", headers={"X-Remote-User": "IAIN"},
                         allow_redirects=False, timeout=10)
    assert known.status_code == 200 and "Iain Tennant" in known.text
    assert "crm_bridge_session=" in known.headers["set-cookie"]
    unknown = requests.get(sso_portal + "/sign-in", headers={"X-Remote-User": "mallory"},
                           timeout=10)
    assert "do not have an account" in unknown.text
    absent = requests.get(sso_portal + "/", allow_redirects=False, timeout=10)
    assert absent.status_code == 303


def test_trusted_header_is_off_by_default(portal: Seeded) -> None:
    response = requests.get(portal.base_url + "/", headers={"X-Remote-User": "kirsty"},
                            allow_redirects=False, timeout=10)
    assert response.status_code == 303


@pytest.mark.parametrize(("peer", "believed"), [("127.0.0.1", True), ("10.1.2.3", False)])
def test_forwarded_headers_only_from_trusted_proxies(peer: str, believed: bool) -> None:
    seen: dict[str, Any] = {}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.update(scheme=scope["scheme"], client=scope["client"][0],
                    via_proxy=scope["state"]["via_proxy"])

    scope = {"type": "http", "scheme": "http", "client": (peer, 5000), "headers": [
        (b"x-forwarded-proto", b"https"), (b"x-forwarded-for", b"192.0.2.7")]}
    asyncio.run(TrustedProxy(app, ["127.0.0.1"])(scope, None, None))  # type: ignore[arg-type]
    assert seen["via_proxy"] is believed
    assert seen["scheme"] == ("https" if believed else "http")
    assert seen["client"] == ("192.0.2.7" if believed else peer)
