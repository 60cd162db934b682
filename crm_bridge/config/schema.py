"""The shape of a council's configuration file, validated by pydantic (unknown keys refused)."""

from __future__ import annotations

import weakref
from datetime import date
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from crm_bridge.config.duplicate_settings import DuplicateSettings
from crm_bridge.config.report_settings import ReportSettings
from crm_bridge.models import Category, Identifier, Member, ServiceDestination, Text, Ward
from crm_bridge.reminders.settings import ReminderSettings
from crm_bridge.sync.retry import RetryPolicy
from crm_bridge.workdays import is_known_region

__all__ = [
    "DEFAULT_STAFF_GROUP",
    "AccessSettings",
    "CalendarSettings",
    "ConnectorSettings",
    "CouncilConfig",
    "CouncilSettings",
    "PortalSettings",
    "RetentionSettings",
    "SharingArrangement",
    "SmtpSettings",
    "StaffGroup",
    "StoreSettings",
    "SyncSettings",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CouncilSettings(_Strict):
    name: Text
    timezone: str = "Europe/London"
    reference_prefix: str = Field(default="ENQ", pattern=r"^[A-Z]{2,6}$")
    portal_url: str = "http://127.0.0.1:8000"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone '{value}': use an IANA name such as Europe/London"
            ) from None
        return value


class CalendarSettings(_Strict):
    """Which days count as working days for response deadlines."""

    bank_holidays: str = Field(
        default="GB-SCT",
        pattern=r"^[A-Z]{2}(-[A-Z]{2,3})?$",
        description="country and subdivision for the holidays package: GB-SCT, GB-ENG, GB-WLS",
    )
    closure_days: list[date] = Field(default_factory=list)
    warning_days: int = Field(default=2, ge=0, le=30)

    @field_validator("bank_holidays")
    @classmethod
    def _known_region(cls, value: str) -> str:
        """Refuse a region the holidays package lacks now, not at the first enquiry routed."""
        if not is_known_region(value):
            raise ValueError(
                f"unknown bank holiday region '{value}': use a country and region "
                "such as GB-SCT, GB-ENG, GB-WLS or GB-NIR"
            )
        return value


class StoreSettings(_Strict):
    url: str = "sqlite:///crm-bridge.db"

    @field_validator("url")
    @classmethod
    def _supported_url(cls, value: str) -> str:
        if not value.startswith(("sqlite://", "postgresql://", "postgresql+psycopg://")):
            raise ValueError(
                "must start with sqlite:/// (a file) or postgresql:// (a server)"
            )
        from sqlalchemy.engine import make_url  # only when a config is read
        from sqlalchemy.exc import ArgumentError

        if value.rstrip("/") == "sqlite:":
            raise ValueError("name the file: sqlite:///crm-bridge.db (beside this file)")
        try:
            make_url(value).port  # noqa: B018 - parsing the port is the check
        except (ArgumentError, ValueError) as exc:
            raise ValueError(f"is not a usable URL ({exc}): e.g. "
                             "postgresql://USER@HOST:5432/DATABASE") from None
        return value


class ConnectorSettings(BaseModel):
    """``type`` picks the connector; its other keys are checked by that connector's own model."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: Identifier = "local"
    mapping: str | None = None

    def options(self) -> dict[str, Any]:
        """The connector-specific keys, for the connector's own settings model."""
        return dict(self.model_extra or {})


class SmtpSettings(_Strict):
    """Where the bridge's e-mail goes. ``transport: folder`` writes each message as an .eml
    file into ``folder`` instead of sending it: for trying the bridge out, and for the demo."""

    transport: str = Field(default="smtp", pattern="^(smtp|folder)$")
    folder: str = "mail"
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: str = Field(
        default="starttls", pattern="^(none|starttls|ssl)$",
        description="starttls (the default) or ssl: the certificate is checked; none: plain",
    )
    ca_file: str | None = Field(
        default=None,
        description="CA certificates (PEM) that sign the server's certificate, when the "
        "system's do not; relative paths are taken from the config file's folder",
    )
    allow_plaintext_password: bool = Field(
        default=False,
        description="true: log in even over security: none, sending the password in clear",
    )
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "members-enquiries@example.gov.uk"
    members_services: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)

    @model_validator(mode="after")
    def _no_password_in_clear(self) -> SmtpSettings:
        if (self.transport == "smtp" and self.security == "none" and self.username
                and not self.allow_plaintext_password):
            raise ValueError(
                f"security: none would send the password of '{self.username}' in clear text: "
                "use security: starttls (or ssl), or, only for a relay on a network you "
                "trust, set allow_plaintext_password: true")
        return self


class SyncSettings(_Strict):
    """How hard sync tries a CRM call before leaving it for the next run, and how long a
    whole run may take."""

    retry: RetryPolicy = RetryPolicy()
    deadline_seconds: float = Field(
        default=240, ge=60, le=86_400,
        description="a run stops cleanly between items after this long; keep it below the "
                    "cron interval (240 s for a run every 5 minutes)")


Months = Annotated[int, Field(ge=1, le=240)]


class RetentionSettings(_Strict):
    """How long `crm-bridge purge` keeps personal data (crm_bridge.privacy.purge).

    An enquiry's period runs from its closure: its category's entry in ``categories``, else
    its service's in ``services``, else ``closed_months``. Ids are checked against the
    config by ``config.checks``.
    """

    closed_months: Months = 24
    services: dict[Identifier, Months] = Field(default_factory=dict)
    categories: dict[Identifier, Months] = Field(default_factory=dict)
    audit_months: Months = Field(
        default=24, description="the audit log's who and detail are cleared after this")
    crm: Literal["list", "anonymise"] = Field(
        default="list",
        description="list: name the purged enquiries' CRM cases; anonymise: also anonymise "
                    "them where the connector can",
    )

    def months_for(self, category_id: str, service_id: str) -> int:
        """The retention period, in months after closure, of an enquiry so routed."""
        return self.categories.get(category_id, self.services.get(service_id,
                                                                  self.closed_months))


class PortalSettings(_Strict):
    """The member portal (`crm-bridge serve`): sessions, cookies and single sign-on.

    The session secret signs the forms' anti-forgery tokens; it comes from the environment
    (``${CRM_BRIDGE_SESSION_SECRET}``), never the file. It is optional here so that `sync`
    and the other commands run without it; `serve` refuses to start when it is missing.
    """

    session_secret: SecretStr | None = Field(
        default=None, description="at least 32 characters; ${CRM_BRIDGE_SESSION_SECRET}"
    )
    session_hours: float = Field(default=10, gt=0, le=24 * 14,
                                 description="a sign-in lasts at most this long")
    idle_minutes: int = Field(default=120, ge=5, le=24 * 60,
                              description="signed out after this long without a request")
    cookie_secure: str = Field(
        default="auto", pattern="^(auto|always)$",
        description="auto: Secure cookies when the request came over HTTPS; always: every time",
    )
    trusted_header: str | None = Field(
        default=None, pattern=r"^[A-Za-z0-9-]{1,64}$",
        description="single sign-on: the header the council's proxy puts the username in",
    )
    trusted_proxies: list[str] = Field(
        default_factory=lambda: ["127.0.0.1", "::1"],
        description="addresses whose trusted_header is believed; requests from others ignore it",
    )
    logo: str | None = Field(default=None, description="the council's logo (SVG or PNG) file")
    max_photo_mb: float = Field(default=5, gt=0, le=25)


DEFAULT_STAFF_GROUP = "members-services"


class StaffGroup(_Strict):
    """Members' services staff who work for some members: a staff account names its group and
    sees, logs and reassigns only those members' casework (each member is its controller)."""

    id: Identifier
    name: Text
    councillors: bool = Field(default=True, description="every councillor's casework")
    members: list[Identifier] = Field(
        default_factory=list,
        description="further members (an MP, MSP or MEP whose office works through this group)")


class SharingArrangement(_Strict):
    """A member's enquiries that the constituent agreed to share are also seen by these
    members. Councillors share with their ward colleagues without one; an MP's, MSP's or
    MEP's casework is shared only through an arrangement named here."""

    member: Identifier
    shared_with: list[Identifier] = Field(min_length=1)


class AccessSettings(_Strict):
    """Who may see which member's casework, beyond the member themselves."""

    staff_groups: list[StaffGroup] = Field(
        default_factory=lambda: [StaffGroup(id=DEFAULT_STAFF_GROUP, name="Members' services")],
        min_length=1)
    sharing: list[SharingArrangement] = Field(default_factory=list)

    def staff_group(self, group_id: str) -> StaffGroup | None:
        return next((g for g in self.staff_groups if g.id == group_id), None)


class CouncilConfig(_Strict):
    """The whole configuration file."""

    council: CouncilSettings
    calendar: CalendarSettings = CalendarSettings()
    store: StoreSettings = StoreSettings()
    connector: ConnectorSettings = ConnectorSettings()
    smtp: SmtpSettings = SmtpSettings()
    sync: SyncSettings = SyncSettings()
    retention: RetentionSettings = RetentionSettings()
    portal: PortalSettings = PortalSettings()
    reminders: ReminderSettings = ReminderSettings()
    reports: ReportSettings = ReportSettings()
    duplicates: DuplicateSettings = DuplicateSettings()
    access: AccessSettings = AccessSettings()
    members: list[Member] = Field(min_length=1)
    wards: list[Ward] = Field(min_length=1)
    services: list[ServiceDestination] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)

    # Look-ups built once per config object; the lists stay the source of truth.
    def member(self, member_id: str) -> Member | None:
        return self._lookups()["members"].get(member_id)

    def ward(self, ward_id: str) -> Ward | None:
        return self._lookups()["wards"].get(ward_id)

    def service(self, service_id: str) -> ServiceDestination | None:
        return self._lookups()["services"].get(service_id)

    def category(self, category_id: str) -> Category | None:
        return self._lookups()["categories"].get(category_id)

    def ward_of(self, member_id: str) -> Ward | None:
        """The ward a councillor sits for; None for MPs, MSPs and MEPs."""
        return self._lookups()["ward_of"].get(member_id)

    def _lookups(self) -> dict[str, dict[str, Any]]:
        # Kept beside the model, not in it, so equality, copies and dumps are unaffected;
        # keyed by identity, as the frozen model (it holds lists) cannot be hashed.
        key = id(self)
        entry = _LOOKUPS.get(key)
        if entry is not None and entry[0]() is self:
            return entry[1]
        ward_of: dict[str, Ward] = {}
        for ward in self.wards:
            for member_id in ward.members:
                ward_of.setdefault(member_id, ward)  # the first ward listing them, as before
        tables = {
            "members": _index(self.members),
            "wards": _index(self.wards),
            "services": _index(self.services),
            "categories": _index(self.categories),
            "ward_of": ward_of,
        }
        _LOOKUPS[key] = (weakref.ref(self, lambda _ref: _LOOKUPS.pop(key, None)), tables)
        return tables


_LOOKUPS: dict[int, tuple[weakref.ref[CouncilConfig], dict[str, dict[str, Any]]]] = {}


def _index(items: list[Any]) -> dict[str, Any]:
    return {item.id: item for item in items}
