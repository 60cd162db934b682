"""SMTP security against a real server (aiosmtpd) that offers STARTTLS with a certificate
from a test CA: mail goes encrypted and verified by default, an untrusted certificate
stops the run with a reason, and a password crosses a plain connection only when the
config says so in as many words."""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from pydantic import SecretStr
from support.smtp import mail_server
from support.tls import TlsFiles

from crm_bridge.config.schema import SmtpSettings
from crm_bridge.reminders.smtp import MailSetupError, SmtpMailer

SENDER = "members-enquiries@clacks.example.gov.uk"
TO = "roads@clacks.example.gov.uk"


def message() -> bytes:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = SENDER, TO, "Heads-up"
    mail.set_content("ENQ-2026-000001 is due on Monday.")
    return mail.as_bytes()


def test_starttls_is_the_default_and_verifies_the_certificate(test_ca: TlsFiles) -> None:
    with mail_server(login=("crm-bridge", "correct horse"),
                     tls=test_ca.server_context()) as server:
        settings = SmtpSettings(host=server.host, port=server.port, username="crm-bridge",
                                password=SecretStr("correct horse"), timeout_seconds=5)
        assert settings.security == "starttls"
        mailer = SmtpMailer(settings, ca_file=test_ca.ca_file)
        try:
            assert mailer.send(SENDER, [TO], message()) == {}
        finally:
            mailer.close()
        # The server takes nothing before STARTTLS, so the message proves the channel.
        assert [m.rcpt_tos for m in server.take()] == [[TO]]


def test_a_certificate_the_bridge_does_not_trust_sends_nothing(test_ca: TlsFiles) -> None:
    with mail_server(login=("crm-bridge", "correct horse"),
                     tls=test_ca.server_context()) as server:
        settings = SmtpSettings(host=server.host, port=server.port, username="crm-bridge",
                                password=SecretStr("correct horse"), timeout_seconds=5)
        mailer = SmtpMailer(settings)  # the system's CAs only: the test CA is not among them
        with pytest.raises(MailSetupError, match="certificate is not trusted"):
            mailer.send(SENDER, [TO], message())
        mailer.close()
        assert server.take() == []


def test_an_unreadable_ca_file_is_a_setup_error_naming_the_setting(test_ca: TlsFiles) -> None:
    with mail_server(tls=test_ca.server_context()) as server:
        settings = SmtpSettings(host=server.host, port=server.port, timeout_seconds=5)
        mailer = SmtpMailer(settings, ca_file=test_ca.ca_file.with_name("missing.pem"))
        with pytest.raises(MailSetupError, match=r"smtp\.ca_file: cannot read .*missing\.pem"):
            mailer.send(SENDER, [TO], message())
        mailer.close()


def test_a_login_over_a_plain_connection_needs_the_explicit_setting() -> None:
    with pytest.raises(ValueError, match="allow_plaintext_password: true"):
        SmtpSettings(security="none", username="crm-bridge", password=SecretStr("pw-1234"))


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
def test_with_the_explicit_setting_a_plain_login_goes_through() -> None:
    with mail_server(login=("crm-bridge", "correct horse")) as server:
        settings = SmtpSettings(host=server.host, port=server.port, security="none",
                                allow_plaintext_password=True, username="crm-bridge",
                                password=SecretStr("correct horse"), timeout_seconds=5)
        mailer = SmtpMailer(settings)
        try:
            assert mailer.send(SENDER, [TO], message()) == {}
        finally:
            mailer.close()
        assert len(server.take()) == 1
