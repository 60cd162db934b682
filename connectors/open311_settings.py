"""``connector:`` keys for ``type: open311``: where the server is, its key, and what may
leave the council (docs/open311.md). Validated when the config is loaded."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from connectors.open311_mapping import ContactField
from connectors.open311_wire import Format
from connectors.settings_fields import http_base_url
from crm_bridge.extras import missing_extra

__all__ = ["Open311Settings"]


class Open311Settings(BaseModel):
    """``connector:`` keys for ``type: open311``. The api_key comes from the environment:
    write ``api_key: ${OPEN311_API_KEY}``, never the key itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str = Field(description="the GeoReport v2 endpoint, e.g. https://open311.council."
                                 "example/open311/v2 (services.json is under it)")
    api_key: SecretStr | None = Field(default=None, description="sent with every write, and "
                                      "with reads of servicerequestupdates")
    jurisdiction_id: str | None = Field(default=None, description="sent with every call "
                                        "when the server serves several jurisdictions")
    format: Format = "json"
    contact_fields: tuple[ContactField, ...] = Field(
        default=(), description="constituent details that may go with a request: email, "
        "first_name, last_name, phone, address_id (the UPRN). Default: none")
    updates: Literal["auto", "servicerequestupdates", "requests"] = Field(
        default="auto", description="where changes are read: mySociety's "
        "servicerequestupdates, GET requests, or auto (the first when the server offers it)")
    updated_after_param: str = Field(default="updated_after", min_length=1,
                                     description="GET requests' parameter for 'changed "
                                     "since' (updates: requests)")
    overlap_seconds: int = Field(default=300, ge=0, le=86_400)
    search_window_days: int = Field(default=30, ge=1, le=90, description="how far back a "
                                    "repeat create looks for the request it may have opened")
    timeout_seconds: float = Field(default=30, gt=0, le=300)
    connect_timeout_seconds: float = Field(default=5, gt=0, le=60)
    verify_tls: bool = True
    ca_bundle: str | None = Field(default=None, description="CA file for a private TLS CA")
    media_folder: str | None = Field(default=None, description="a folder the council's own "
                                     "web server publishes: photos are written there for the "
                                     "back office to fetch (with media_url; off when unset)")
    media_url: str | None = Field(default=None, description="the https:// address under which "
                                  "media_folder is served")

    @field_validator("api_key", "jurisdiction_id", "media_folder", "media_url", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        """``${OPEN311_API_KEY:-}`` with the variable unset gives "": no key at all."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        return http_base_url(value)

    @field_validator("media_url")
    @classmethod
    def _media_base(cls, value: str | None) -> str | None:
        """The back office fetches photos from here, across the network: https only, and no
        query or fragment (a file name is added after it)."""
        if value is None:
            return None
        value = value.strip().rstrip("/")
        if not value.startswith("https://") or len(value) <= len("https://"):
            raise ValueError("must be the https:// address under which media_folder is "
                             "served, e.g. https://www.council.example/crm-photos")
        if any(c in value for c in "?#") or any(c.isspace() for c in value):
            raise ValueError("must be a plain https:// address with no query, fragment or "
                             "spaces; each photo's file name is added after it")
        return value

    @model_validator(mode="after")
    def _media_both_or_neither(self) -> Open311Settings:
        """A folder nobody serves, or an address with nothing written behind it, would send
        the back office links that lead nowhere."""
        if self.media_folder is not None and self.media_url is None:
            raise ValueError("media_url: not set, but media_folder is: give the https:// "
                             "address under which media_folder is served, or remove "
                             "media_folder")
        if self.media_url is not None and self.media_folder is None:
            raise ValueError("media_folder: not set, but media_url is: give the folder "
                             "that address serves, or remove media_url")
        return self

    @field_validator("format")
    @classmethod
    def _reader_installed(cls, value: Format) -> Format:
        """The XML format reads answers with lxml (the ``open311`` extra): say so at once."""
        if value == "xml":
            try:
                import lxml.etree  # noqa: F401
            except ModuleNotFoundError as exc:
                raise ValueError(str(missing_extra("the XML format", exc,
                                                   prefer="open311"))) from None
        return value

    @field_validator("contact_fields")
    @classmethod
    def _once(cls, value: tuple[ContactField, ...]) -> tuple[ContactField, ...]:
        return tuple(dict.fromkeys(value))
