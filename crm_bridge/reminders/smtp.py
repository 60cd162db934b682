"""The mail server: one SMTP connection per run, and every failure sorted by what to do next.

    MailError
    ├── MailUnavailable   try this message again on a later run: the server could not be
    │                     reached, timed out, dropped us, or answered 4xx. ``stop_run``
    │                     says nothing else will get through now either (stop sending)
    ├── MailRejected      the server refused this message for good (5xx for every
    │                     recipient, or for the content): mark it failed, with the reason
    └── MailSetupError    the server refused our login, sender address or TLS: nothing
                          will go until the config is fixed; messages stay pending

``smtplib`` and ``ssl`` errors are translated in one place (``_translate``), so the send
pass decides from the type alone. The password is a SecretStr read from the environment
and is never part of an error or a log line, and never sent over a plain connection unless
``smtp.allow_plaintext_password`` says so.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Protocol

from crm_bridge.config.schema import SmtpSettings
from crm_bridge.errors import CrmBridgeError

__all__ = [
    "MailError",
    "MailRejected",
    "MailSetupError",
    "MailUnavailable",
    "Mailer",
    "SmtpMailer",
]

log = logging.getLogger(__name__)


class MailError(CrmBridgeError):
    """Base of the errors sending mail raises."""


class MailUnavailable(MailError):
    """The message may go later; ``stop_run`` when the server itself is out of reach."""

    def __init__(self, message: str, stop_run: bool = True) -> None:
        self.stop_run = stop_run
        super().__init__(message)


class MailRejected(MailError):
    """The server refused this message permanently; retrying it will not help."""


class MailSetupError(MailError):
    """The server refused the bridge's login, sender or TLS: fix ``smtp:`` in the config."""


Refused = dict[str, tuple[int, bytes]]


class Mailer(Protocol):
    """Sends one message; returns the recipients refused while others accepted it."""

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> Refused: ...

    def close(self) -> None: ...


class SmtpMailer:
    """Connects on the first message and reuses the connection for the rest of the run."""

    def __init__(self, settings: SmtpSettings, ca_file: Path | None = None) -> None:
        self.settings = settings
        self.ca_file = ca_file
        self._smtp: smtplib.SMTP | None = None
        self._sent_on_connection = 0

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def send(self, sender: str, recipients: Sequence[str], message: bytes) -> Refused:
        with self._translated():
            try:
                return self._send_once(sender, recipients, message)
            except smtplib.SMTPServerDisconnected:
                if not self._sent_on_connection:
                    raise
                # A server that closes a connection after so many messages: open another.
                log.info("mail server %s closed the connection; reconnecting", self.where)
                self._drop()
                return self._send_once(sender, recipients, message)

    def _send_once(self, sender: str, recipients: Sequence[str], message: bytes) -> Refused:
        if self._smtp is None:
            self._smtp = self._connect()
            self._sent_on_connection = 0
        refused = self._smtp.sendmail(sender, list(recipients), message)
        self._sent_on_connection += 1
        return refused

    def _connect(self) -> smtplib.SMTP:
        s = self.settings
        smtp: smtplib.SMTP
        if s.security == "ssl":
            smtp = smtplib.SMTP_SSL(s.host, s.port, timeout=s.timeout_seconds,
                                    context=self._tls())
        else:
            smtp = smtplib.SMTP(s.host, s.port, timeout=s.timeout_seconds)
        try:
            smtp.ehlo()
            if s.security == "starttls":
                # A server that does not offer STARTTLS is refused (SMTPNotSupportedError):
                # never a quiet fall back to plain text.
                smtp.starttls(context=self._tls())
                smtp.ehlo()
            if s.username:
                if s.security == "none" and not s.allow_plaintext_password:
                    raise MailSetupError(f"not sending the password for '{s.username}' to "
                                         f"{self.where} in clear text: set smtp.security")
                password = s.password.get_secret_value() if s.password else ""
                smtp.login(s.username, password)
        except BaseException:
            _quietly_close(smtp)
            raise
        log.info("connected to mail server %s (%s)", self.where, s.security)
        return smtp

    def _tls(self) -> ssl.SSLContext:
        # Built only when needed: loading the system's CA certificates takes ~30 ms.
        cafile = str(self.ca_file) if self.ca_file is not None else None
        try:
            return ssl.create_default_context(cafile=cafile)
        except (OSError, ssl.SSLError) as exc:
            raise MailSetupError(f"smtp.ca_file: cannot read {cafile} as PEM CA certificates "
                                 f"({getattr(exc, 'strerror', None) or exc})") from None

    def close(self) -> None:
        if self._smtp is not None:
            try:
                self._smtp.quit()
            except (smtplib.SMTPException, OSError):
                _quietly_close(self._smtp)
            self._smtp = None

    def _drop(self) -> None:
        if self._smtp is not None:
            _quietly_close(self._smtp)
            self._smtp = None

    @contextmanager
    def _translated(self) -> Iterator[None]:
        try:
            yield
        except (smtplib.SMTPException, OSError) as exc:
            error = _translate(exc, self.where, self.settings)
            if not isinstance(error, MailRejected):
                self._drop()  # the connection's state is unknown: start afresh next time
            raise error from exc


def _quietly_close(smtp: smtplib.SMTP) -> None:
    with suppress(OSError):
        smtp.close()


def _reply(code: int, message: bytes | str) -> str:
    text = message.decode("utf-8", "replace") if isinstance(message, bytes) else message
    return f"{code} {' '.join(text.split())}"


def _translate(exc: BaseException, where: str, settings: SmtpSettings) -> MailError:
    """The one place smtplib and socket errors become the bridge's mail errors."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return MailSetupError(f"the mail server {where} refused the login for "
                              f"'{settings.username}' ({_reply(exc.smtp_code, exc.smtp_error)}): "
                              "check smtp.username and the password in the environment")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return MailSetupError(f"the mail server {where} does not support what smtp: asks for "
                              f"({exc}): check smtp.security and smtp.username")
    if isinstance(exc, smtplib.SMTPSenderRefused):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if exc.smtp_code >= 500:
            return MailSetupError(f"the mail server {where} refused the sender "
                                  f"{settings.from_address} ({reply}): check smtp.from_address")
        return MailUnavailable(f"the mail server {where} deferred the sender ({reply})")
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        replies = "; ".join(f"{address}: {_reply(code, text)}"
                            for address, (code, text) in exc.recipients.items())
        if all(code >= 500 for code, _ in exc.recipients.values()):
            return MailRejected(f"every recipient was refused: {replies}")
        return MailUnavailable(f"recipients deferred: {replies}", stop_run=False)
    if isinstance(exc, smtplib.SMTPConnectError | smtplib.SMTPHeloError):
        return MailUnavailable(f"the mail server {where} would not talk to us "
                               f"({_reply(exc.smtp_code, exc.smtp_error)})")
    if isinstance(exc, smtplib.SMTPResponseException):
        reply = _reply(exc.smtp_code, exc.smtp_error)
        if exc.smtp_code >= 500:
            return MailRejected(f"the mail server refused the message ({reply})")
        return MailUnavailable(f"the mail server deferred the message ({reply})",
                               stop_run=exc.smtp_code == 421)
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        if isinstance(exc.__context__, TimeoutError):  # smtplib's name for a read timeout
            return MailUnavailable(f"the mail server {where} did not answer within "
                                   f"{settings.timeout_seconds:g} s")
        return MailUnavailable(f"the mail server {where} closed the connection ({exc})")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return MailSetupError(f"the mail server {where}'s certificate is not trusted "
                              f"({exc.verify_message}): check smtp.host and smtp.security")
    if isinstance(exc, TimeoutError):
        return MailUnavailable(f"the mail server {where} did not answer within "
                               f"{settings.timeout_seconds:g} s")
    if isinstance(exc, ConnectionRefusedError):
        return MailUnavailable(f"the mail server {where} refused the connection: "
                               "is it running, and are smtp.host and smtp.port right?")
    if isinstance(exc, OSError):
        return MailUnavailable(f"cannot reach the mail server {where} "
                               f"({exc.strerror or exc.__class__.__name__})")
    return MailUnavailable(f"mail to {where} failed: {exc.__class__.__name__}: {exc}")
