"""Messages from Jinja2 templates the council can override: subject, plain text and HTML.

Each kind of message has three templates in ``crm_bridge/templates/mail``:
``<kind>.subject.txt``, ``<kind>.txt`` and ``<kind>.html``. A council that sets
``reminders.template_dir`` puts its own versions of any of them there; the rest come
from the shipped set. HTML templates are autoescaped (an enquiry's description is
text a member typed, never markup); plain-text ones are not. Templates run in Jinja2's
sandbox with undefined names as errors, so a typo in a council's template is reported
(naming the template and line) instead of silently sending a blank.

The Message-ID is derived from the message's dedupe key, so if a crash makes the bridge
send a message a second time, the copy carries the same Message-ID and mail systems that
de-duplicate by it can drop it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from email.charset import QP, Charset
from email.header import Header
from email.utils import format_datetime, formataddr
from functools import cache, cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.errors import ConfigError

if TYPE_CHECKING:
    from email.policy import Compat32

    from jinja2.sandbox import ImmutableSandboxedEnvironment

__all__ = ["SHIPPED", "Rendered", "Renderer", "TemplateProblem", "message_id"]

SHIPPED = Path(__file__).resolve().parent.parent / "templates" / "mail"

# Bodies in quoted-printable, so the stored message is plain ASCII that any relay takes
# (8BITMIME or not) and stays readable in a raw view. compat32 with lines up to RFC 5322's
# 998: no refolding of headers (the email package's folding at 78 can move a whole subject
# to a continuation line, which some clients then show with a leading space).
_CHARSET = Charset("utf-8")
_CHARSET.header_encoding = QP
_CHARSET.body_encoding = QP


@cache
def _policy() -> Compat32:
    # email.policy (with email.mime) is imported when the first message is built: a sync
    # with nothing to send does not load it.
    from email.policy import compat32

    return compat32.clone(max_line_length=998, linesep="\r\n")


class TemplateProblem(ConfigError):
    """A mail template could not be rendered: the council's override has a mistake."""


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


def message_id(dedupe_key: str, from_address: str) -> str:
    """A Message-ID that is the same every time the same message is sent."""
    digest = hashlib.sha256(dedupe_key.encode("utf-8")).hexdigest()[:32]
    domain = from_address.rpartition("@")[2] or "crm-bridge.invalid"
    return f"<crm-bridge.{digest}@{domain}>"


def _long_date(value: date | datetime) -> str:
    return f"{value:%A} {value.day} {value:%B %Y}"


def _short_date(value: date | datetime) -> str:
    return f"{value:%a} {value.day} {value:%b %Y}"


@lru_cache(maxsize=8)
def _environment(roots: tuple[Path, ...], timezone: str, council: str,
                 portal_url: str) -> ImmutableSandboxedEnvironment:
    """One Jinja2 environment per template folders and council, kept for the process: it
    caches compiled templates (compiling them is most of the cost of a message), and its
    loaders notice a template edited on disk. Jinja2 is imported here, when the first
    message is rendered, so a sync with nothing to send does not load it."""
    from jinja2 import ChoiceLoader, FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    zone = ZoneInfo(timezone)
    env = ImmutableSandboxedEnvironment(
        loader=ChoiceLoader([FileSystemLoader(str(root)) for root in roots]),
        autoescape=lambda name: bool(name and name.endswith(".html")),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(longdate=_long_date, shortdate=_short_date,
                       local=lambda value: value.astimezone(zone))
    env.globals.update(council=council, portal_url=portal_url)
    return env


class Renderer:
    """Built once per run from the config; renders any kind with a context dict."""

    def __init__(self, config: CouncilConfig, template_dir: Path | None = None) -> None:
        self.config = config
        self.zone = ZoneInfo(config.council.timezone)
        self._roots = (*([template_dir] if template_dir else []), SHIPPED)

    @cached_property
    def env(self) -> ImmutableSandboxedEnvironment:
        council = self.config.council
        return _environment(self._roots, council.timezone, council.name,
                            council.portal_url.rstrip("/"))

    @classmethod
    def for_config(cls, config: CouncilConfig, base_dir: Path | None) -> Renderer:
        """The renderer for ``reminders.template_dir`` (relative to the config's folder)."""
        configured = config.reminders.template_dir
        if not configured:
            return cls(config)
        folder = Path(configured).expanduser()
        if not folder.is_absolute():
            if base_dir is None:
                raise ConfigError(f"reminders.template_dir '{configured}' is relative: give "
                                  "an absolute path, or run through `crm-bridge`")
            folder = base_dir / folder
        if not folder.is_dir():
            raise ConfigError(f"reminders.template_dir: {folder} is not a folder: create it "
                              "or fix the path (templates not in it come from the bridge)")
        return cls(config, folder)

    def link(self, reference: str) -> str:
        return f"{self.config.council.portal_url.rstrip('/')}/enquiries/{reference}"

    def render(self, kind: str, context: Mapping[str, Any]) -> Rendered:
        from jinja2 import TemplateError

        parts = []
        for suffix in ("subject.txt", "txt", "html"):
            name = f"{kind}.{suffix}"
            try:
                parts.append(self.env.get_template(name).render(context))
            except TemplateError as exc:
                raise TemplateProblem(f"mail template {self._where(name, exc)}: "
                                      f"{exc.message or exc}") from None
            except Exception as exc:  # a council's template calling something wrongly
                raise TemplateProblem(f"mail template {self._where(name, exc)}: "
                                      f"{exc.__class__.__name__}: {exc}") from None
        subject = " ".join(parts[0].split())
        return Rendered(subject, parts[1].strip() + "\n", parts[2])

    def _where(self, name: str, exc: BaseException) -> str:
        """``file line N``: the deepest template frame in the traceback (Jinja2 rewrites
        tracebacks to point into templates), or the syntax error's own line."""
        lineno = getattr(exc, "lineno", None)
        where = (getattr(exc, "name", None) or name, lineno) if lineno else (name, None)
        roots = [str(root) for root in self._roots]
        tb = exc.__traceback__
        while tb is not None:
            filename = tb.tb_frame.f_code.co_filename
            if any(filename.startswith(root) for root in roots):
                where = (Path(filename).name, tb.tb_lineno)
            tb = tb.tb_next
        return f"{where[0]} line {where[1]}" if where[1] else where[0]

    def message(self, rendered: Rendered, *, kind: str, key: str, to: Sequence[str],
                cc: Sequence[str] = (), now: datetime, reference: str | None = None) -> str:
        """The whole RFC 5322 message, as ASCII text ready to store and send.

        Built with the ``email.mime`` classes: a third of the time ``EmailMessage`` takes,
        which counts when a first run decides thousands of messages.
        """
        from email.mime.multipart import MIMEMultipart
        from email.mime.text import MIMEText

        smtp = self.config.smtp
        msg = MIMEMultipart("alternative")
        msg["From"] = formataddr((self.config.council.name, smtp.from_address), "utf-8")
        msg["To"] = ", ".join(to)
        if cc:
            msg["Cc"] = ", ".join(cc)
        msg["Subject"] = _subject(rendered.subject)
        msg["Date"] = format_datetime(now.astimezone(self.zone))
        msg["Message-ID"] = message_id(key, smtp.from_address)
        # RFC 3834: machine-sent, so out-of-office replies are not sent back (Exchange
        # reads the second header).
        msg["Auto-Submitted"] = "auto-generated"
        msg["X-Auto-Response-Suppress"] = "All"
        # For mail rules ("file escalations here"); neither carries personal data.
        msg["X-CRM-Bridge-Kind"] = kind
        if reference:
            msg["X-CRM-Bridge-Reference"] = reference
        msg.attach(MIMEText(rendered.text, "plain", _CHARSET))  # type: ignore[arg-type]
        msg.attach(MIMEText(rendered.html, "html", _CHARSET))  # type: ignore[arg-type]
        return msg.as_bytes(policy=_policy()).decode("ascii")


def _subject(value: str) -> str:
    """ASCII as it is; anything else as an RFC 2047 encoded word."""
    return value if value.isascii() else Header(value, "utf-8").encode()
