"""The shape of a council's configuration file, validated by pydantic (unknown keys refused)."""

from __future__ import annotations

from datetime import date
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import holidays
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from crm_bridge.models import Category, Identifier, Member, ServiceDestination, Text, Ward
from crm_bridge.sync.retry import RetryPolicy

__all__ = [
    "CalendarSettings",
    "ConnectorSettings",
    "CouncilConfig",
    "CouncilSettings",
    "RetentionSettings",
    "SmtpSettings",
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
        country, _, subdivision = value.partition("-")
        try:
            holidays.country_holidays(country, subdiv=subdivision or None)
        except NotImplementedError:
            raise ValueError(
                f"unknown bank holiday region '{value}': use a country and region "
                "such as GB-SCT, GB-ENG, GB-WLS or GB-NIR"
            ) from None
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
    host: str = "127.0.0.1"
    port: int = Field(default=25, ge=1, le=65535)
    security: str = Field(default="none", pattern="^(none|starttls|ssl)$")
    username: str | None = None
    password: SecretStr | None = None
    from_address: str = "members-enquiries@example.gov.uk"
    members_services: str | None = None
    timeout_seconds: float = Field(default=30, gt=0, le=300)


class SyncSettings(_Strict):
    """How hard sync tries a CRM call before leaving it for the next run."""

    retry: RetryPolicy = RetryPolicy()


class RetentionSettings(_Strict):
    closed_months: int = Field(default=24, ge=1, le=240)


class CouncilConfig(_Strict):
    """The whole configuration file."""

    council: CouncilSettings
    calendar: CalendarSettings = CalendarSettings()
    store: StoreSettings = StoreSettings()
    connector: ConnectorSettings = ConnectorSettings()
    smtp: SmtpSettings = SmtpSettings()
    sync: SyncSettings = SyncSettings()
    retention: RetentionSettings = RetentionSettings()
    members: list[Member] = Field(min_length=1)
    wards: list[Ward] = Field(min_length=1)
    services: list[ServiceDestination] = Field(min_length=1)
    categories: list[Category] = Field(min_length=1)

    # Look-ups built once; the lists stay the source of truth.
    def member(self, member_id: str) -> Member | None:
        return _index(self.members).get(member_id)

    def ward(self, ward_id: str) -> Ward | None:
        return _index(self.wards).get(ward_id)

    def service(self, service_id: str) -> ServiceDestination | None:
        return _index(self.services).get(service_id)

    def category(self, category_id: str) -> Category | None:
        return _index(self.categories).get(category_id)

    def ward_of(self, member_id: str) -> Ward | None:
        """The ward a councillor sits for; None for MPs, MSPs and MEPs."""
        for ward in self.wards:
            if member_id in ward.members:
                return ward
        return None


def _index(items: list[Any]) -> dict[str, Any]:
    return {item.id: item for item in items}
