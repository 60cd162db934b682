"""The bridge's error tree, by what the caller should do about each error.

    CrmBridgeError
    ├── ConfigError            bad configuration or usage: exit 2, name the field and the fix
    ├── InputError             bad input from a user (form, CLI flag): refuse, name the field
    ├── NotFoundError          a reference or id that does not exist
    ├── StoreUnavailable       the state store cannot be reached, opened or written: exit 3
    └── ConnectorError         anything a CRM connector raises
        ├── TransientError     (ConnectorUnavailable) retry later: refused, timeout, 5xx, 429
        │   └── UnplacedCodeError  an error code the mapping does not place: retried on a
        │                          bounded number of runs, then the item is held (failed)
        ├── PermanentError     (ConnectorRejected) the CRM refused the data: do not retry, show why
        ├── AuthError          (ConnectorAuthError) credentials refused: stop the run
        └── MisconfiguredError the connection's settings do not fit the CRM (no service at
                               the URL, a WSDL that will not load): stop the run, fail nothing

Connectors translate their vendor's errors into these at one boundary each, so
sync decides what to do from the type alone.
"""

from __future__ import annotations

__all__ = [
    "AuthError",
    "ConfigError",
    "ConfigIssue",
    "ConnectorAuthError",
    "ConnectorError",
    "ConnectorRejected",
    "ConnectorUnavailable",
    "CrmBridgeError",
    "InputError",
    "MisconfiguredError",
    "NotFoundError",
    "PermanentError",
    "StoreUnavailable",
    "TransientError",
    "UnplacedCodeError",
]

from dataclasses import dataclass


class CrmBridgeError(Exception):
    """Base of every error the bridge raises on purpose."""


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a configuration file, located for the person who must fix it."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        field = f" {self.path}:" if self.path else ""
        return f"{where}{field} {self.message}"


class ConfigError(CrmBridgeError):
    """Configuration or usage is wrong; the CLI exits 2 and prints each issue on one line."""

    def __init__(self, message: str = "", issues: list[ConfigIssue] | None = None) -> None:
        self.issues = list(issues or [])
        if not message:
            message = "\n".join(str(issue) for issue in self.issues)
        super().__init__(message)


class InputError(CrmBridgeError):
    """A user-supplied value is invalid; ``field`` names it so the form or flag can be fixed."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message
        super().__init__(f"{field}: {message}")


class NotFoundError(CrmBridgeError):
    """The enquiry, case or user asked for does not exist."""


class StoreUnavailable(CrmBridgeError):
    """The state store cannot be reached (server down, wrong host, port, database or role),
    opened or written (a read-only folder or file); nothing was changed. The CLI exits 3,
    so cron monitoring can tell it from a bad config (2) or failed items (1)."""


class ConnectorError(CrmBridgeError):
    """Base of the errors a connector raises."""


class TransientError(ConnectorError):
    """The CRM could not be reached or was busy; the same call may succeed later.

    ``retry_after`` carries the server's Retry-After, in seconds, when it gave one.
    """

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class UnplacedCodeError(TransientError):
    """The CRM answered with an error code its mapping does not say is transient, permanent
    or a refused login. It may pass, so it is retried, but only on ``hold_after`` runs in
    all: then the item is held for the admin (failed, with the CRM's own words), who places
    the code in the mapping and retries.

    ``code`` is the CRM's code and ``crm_message`` its words, for the run's report.
    """

    def __init__(self, message: str, code: str, crm_message: str, hold_after: int) -> None:
        self.code = code
        self.crm_message = crm_message
        self.hold_after = hold_after
        super().__init__(message)


class PermanentError(ConnectorError):
    """The CRM refused the data; retrying the same call will not help."""


class AuthError(ConnectorError):
    """The CRM refused the bridge's credentials; nothing will work until they are fixed."""


class MisconfiguredError(ConnectorError):
    """The connection's settings do not fit the CRM: nothing answers at the URL (HTTP 404),
    its service description will not load, or names nothing the connector can use. No
    item is to blame, so the run stops and fails none of them."""


# The names used by the design card.
ConnectorUnavailable = TransientError
ConnectorRejected = PermanentError
ConnectorAuthError = AuthError
