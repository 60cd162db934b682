"""The logging boundary: no secret and no personal data leaves the process in a log line.

The bridge's own loggers log ids, references, counts and HTTP statuses, never a payload.
What other libraries log is not ours to word, so every record the CLI's handler writes
passes through ``SafeLogFilter`` first:

- a library's DEBUG lines are dropped (zeep's and urllib3's are the wire itself: SOAP
  envelopes with the password or session token, request lines with query strings);
  ``-vv`` shows the bridge's own debug lines and libraries' INFO and above;
- every line left, its traceback included, has each known secret replaced, then e-mail
  addresses, UK phone numbers and postcodes, and passwords inside URLs.

Known secrets are the values of the environment's secret-looking variables (PASSWORD,
TOKEN, SECRET, KEY in the name) and every ``SecretStr`` in the loaded config and the
connector's settings (``register_secrets``). Patterns cannot recognise a name or a
description: keeping payloads out of log calls is what protects those.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import threading
from collections.abc import Mapping
from typing import Any

__all__ = ["SafeLogFilter", "install_logging", "redact", "register_secret", "register_secrets"]

BRIDGE_LOGGERS = ("crm_bridge", "connectors")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MIN_SECRET = 4  # shorter values would blank out ordinary words; no real secret is this short
_SECRET_NAME = re.compile(r"PASSWORD|PASSWD|TOKEN|SECRET|API_?KEY|CREDENTIAL", re.IGNORECASE)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@"), "[redacted]@"),
    (re.compile(r"(?i)\b(authorization|x-api-key|api[_-]?key|password|token)(\"?\s*[:=]\s*\"?)"
                r"(?:(?:basic|bearer|token)\s+)?[^\s\",;]+"), r"\1\2[redacted]"),
    (re.compile(r"[\w.!#$%&'*+/=?^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"), "[e-mail]"),
    (re.compile(r"(?<![\w-])(?:\+44\s?\(?0?\)?\s?|\(?0)\d{2,4}\)?[\s-]?\d{3,4}[\s-]?\d{3,4}"
                r"(?![\w-])"), "[phone]"),
    (re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}\b"), "[postcode]"),
)

_lock = threading.Lock()
_secrets: set[str] = set()
_secret_pattern: re.Pattern[str] | None = None


def register_secret(value: str | None) -> None:
    """Redact ``value`` from every later log line (a password, token or session key)."""
    global _secret_pattern
    if not value or len(value) < _MIN_SECRET or value in _secrets:
        return
    with _lock:
        _secrets.add(value)
        ordered = sorted(_secrets, key=len, reverse=True)  # the longest first: no half-redaction
        _secret_pattern = re.compile("|".join(re.escape(s) for s in ordered))


def register_secrets(found: Any) -> None:
    """Register every ``SecretStr`` inside a settings model (or a dict or list of them)."""
    # Imported here: the CLI installs logging before it knows whether it needs pydantic.
    from pydantic import BaseModel, SecretBytes, SecretStr

    if isinstance(found, SecretStr):
        register_secret(found.get_secret_value())
    elif isinstance(found, SecretBytes):
        register_secret(found.get_secret_value().decode("utf-8", "replace"))
    elif isinstance(found, BaseModel):
        for name in type(found).model_fields:
            register_secrets(getattr(found, name, None))
    elif isinstance(found, Mapping):
        for value in found.values():
            register_secrets(value)
    elif isinstance(found, list | tuple | set | frozenset):
        for value in found:
            register_secrets(value)


def register_environment(environ: Mapping[str, str]) -> None:
    """Register the values of the variables whose names say they hold a secret."""
    for name, value in environ.items():
        if _SECRET_NAME.search(name):
            register_secret(value)


def redact(text: str) -> str:
    """``text`` with every known secret and every recognisable personal detail replaced."""
    pattern = _secret_pattern
    if pattern is not None:
        text = pattern.sub("[redacted]", text)
    for found, replacement in _PATTERNS:
        text = found.sub(replacement, text)
    return text


class SafeLogFilter(logging.Filter):
    """On a handler: drops libraries' debug lines and redacts what is left (see above)."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.INFO and not _is_bridge(record.name):
            return False
        try:
            message = record.getMessage()
        except Exception:  # a caller's bad %-args: say so rather than raise from logging
            message = f"{record.msg} (unformattable arguments)"
        record.msg, record.args = redact(message), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def _is_bridge(name: str) -> bool:
    return any(name == root or name.startswith(root + ".") for root in BRIDGE_LOGGERS)


def install_logging(verbosity: int, environ: Mapping[str, str] | None = None,
                    stream: Any = None) -> None:
    """The CLI's logging: WARNING, INFO (-v) or DEBUG (-vv), to stderr, through the filter.

    Every handler already on the root logger gets the filter too, so nothing written by
    another handler (a host application's, a test runner's) bypasses it.
    """
    register_environment(os.environ if environ is None else environ)
    root = logging.getLogger()
    if not root.handlers:  # as logging.basicConfig: a host that set up logging keeps its own
        root.setLevel(logging.WARNING - 10 * min(max(verbosity, 0), 2))
        to_stderr = logging.StreamHandler(stream or sys.stderr)
        to_stderr.setFormatter(logging.Formatter(FORMAT))
        root.addHandler(to_stderr)
    for handler in root.handlers:
        if not any(isinstance(f, SafeLogFilter) for f in handler.filters):
            handler.addFilter(SafeLogFilter())

