"""A real SMTP server for the tests: aiosmtpd on loopback, on a free port, in its own thread.

``MailServer`` keeps every message it accepted, parsed, and can be made to misbehave the
ways a council's relay does: refuse some recipients (550), defer or refuse at DATA,
require a login (and STARTTLS, given a TLS context), be down (connection refused), drop
every connection, or accept the connection and never say a word (a timeout). It can be
stopped and started again on the same port, so a test can take the server away and bring
it back between sync runs.

Use it as a context manager (``with mail_server() as mail:``) or through a fixture that
does; ``point_config_at`` edits a council's config.yaml to use it.
"""

from __future__ import annotations

import email
import re
import socket
import ssl
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

__all__ = ["MailServer", "Received", "free_port", "mail_server", "point_config_at"]

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


@dataclass
class Received:
    """One message as the server accepted it: the envelope and the parsed message."""

    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage = field(init=False)

    def __post_init__(self) -> None:
        parsed = email.message_from_bytes(self.raw, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.message = parsed

    def header(self, name: str) -> str:
        return str(self.message.get(name, ""))

    @property
    def kind(self) -> str:
        return self.header("X-CRM-Bridge-Kind")

    @property
    def reference(self) -> str:
        return self.header("X-CRM-Bridge-Reference")

    @property
    def to(self) -> list[str]:
        return [a.strip() for a in self.header("To").split(",") if a.strip()]

    @property
    def cc(self) -> list[str]:
        return [a.strip() for a in self.header("Cc").split(",") if a.strip()]

    @property
    def subject(self) -> str:
        return self.header("Subject")

    def body(self, subtype: str = "plain") -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        assert part is not None, f"no text/{subtype} part"
        return str(part.get_content()).replace("\r\n", "\n")  # as a reader sees it


class _Handler:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        reply = self.server.refuse.get(address.lower())
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.server.data_reply:
            return self.server.data_reply
        with self.server.lock:
            self.server.received.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), bytes(envelope.content)))
        return "250 Message accepted for delivery"


class _Login:
    def __init__(self, server: MailServer) -> None:
        self.server = server

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str,
                 auth_data: Any) -> AuthResult:
        expected = self.server.login
        ok = (isinstance(auth_data, LoginPassword) and expected is not None
              and (auth_data.login.decode(), auth_data.password.decode()) == expected)
        return AuthResult(success=ok, handled=False)


class MailServer:
    """aiosmtpd on a fixed free port; ``take()`` returns and forgets what arrived."""

    def __init__(self, login: tuple[str, str] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        self.port = free_port()
        self.host = HOST
        self.login = login
        self.tls = tls
        self.received: list[Received] = []
        self.refuse: dict[str, str] = {}
        self.data_reply: str | None = None
        self.lock = threading.Lock()
        self._controller: Controller | None = None

    def start(self) -> None:
        kwargs: dict[str, Any] = {}
        if self.tls is not None:  # STARTTLS offered, and nothing accepted before it
            kwargs.update(tls_context=self.tls, require_starttls=True)
        if self.login is not None:
            kwargs.update(authenticator=_Login(self), auth_required=True,
                          auth_require_tls=self.tls is not None)
        self._controller = Controller(_Handler(self), hostname=self.host, port=self.port,
                                      **kwargs)
        self._controller.start()

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def take(self) -> list[Received]:
        with self.lock:
            taken, self.received = self.received, []
        return taken

    @contextmanager
    def down(self) -> Iterator[None]:
        """Nothing listens on the port: connection refused."""
        self.stop()
        try:
            yield
        finally:
            self.start()

    @contextmanager
    def dropping(self) -> Iterator[None]:
        """Every connection is accepted and closed at once, before the greeting."""
        self.stop()
        listener = socket.create_server((self.host, self.port))
        # Closing a socket does not wake a thread blocked in accept(), so poll instead.
        listener.settimeout(0.05)
        stopping = threading.Event()

        def serve() -> None:
            while not stopping.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                except OSError:
                    return
                conn.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stopping.set()
            thread.join(timeout=5)
            listener.close()
            self.start()

    @contextmanager
    def silent(self) -> Iterator[None]:
        """The port accepts connections (the kernel's backlog) and never says a word."""
        self.stop()
        listener = socket.create_server((self.host, self.port), backlog=8)
        try:
            yield
        finally:
            listener.close()
            self.start()


@contextmanager
def mail_server(login: tuple[str, str] | None = None,
                tls: ssl.SSLContext | None = None) -> Iterator[MailServer]:
    server = MailServer(login=login, tls=tls)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def point_config_at(config: Path, server: MailServer, timeout: float = 2,
                    edits: Mapping[str, str] | None = None) -> None:
    """Make a council's config.yaml send through ``server``; ``edits`` replace other lines
    (each must occur exactly once), e.g. ``{"  enabled: true": "  enabled: false"}``."""
    text = config.read_text(encoding="utf-8")
    # `init` writes mail into a folder until a server is configured: configure this one.
    text = re.sub(r"(?m)^  transport: folder\b.*$", "  transport: smtp", text, count=1)
    changes = {"  host: 127.0.0.1\n  port: 25": f"  host: {server.host}\n  port: {server.port}",
               "  timeout_seconds: 30": f"  timeout_seconds: {timeout:g}",
               "  security: starttls": f"  security: {'starttls' if server.tls else 'none'}",
               **(edits or {})}
    for old, new in changes.items():
        assert text.count(old + "\n") == 1, f"expected one {old!r} in the example config"
        text = text.replace(old + "\n", new + "\n")
    config.write_text(text, encoding="utf-8")
