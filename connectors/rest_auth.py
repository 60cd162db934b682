"""How the ``rest`` connector proves who it is: a fixed API token, or an OAuth2 access token
fetched with the client-credentials grant (Microsoft Entra ID for Dynamics 365, Keycloak, …).

The OAuth2 token is kept until shortly before it expires, fetched again then, and fetched
again at once when the API refuses it (HTTP 401: revoked, or the server's clock differs):
``RestClient`` asks ``renew()`` once per refused call. The client secret comes from the
environment through the settings (``client_secret: ${CRM_CLIENT_SECRET}``); neither it nor
a token ever reaches a log, a repr or an error message.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import requests
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator
from requests.auth import AuthBase

from connectors.retry_after import retry_after_seconds
from crm_bridge.errors import AuthError, TransientError

__all__ = ["HeaderAuth", "OAuth2ClientCredentials", "OAuth2Settings"]

log = logging.getLogger(__name__)

_EARLY_SECONDS = 60  # fetch a new token this long before the old one expires


class HeaderAuth(AuthBase):
    """One header carrying the API token; its value never appears in a repr or a log."""

    def __init__(self, header: str, value: str) -> None:
        self._header = header
        self._value = value

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers[self._header] = self._value
        return request

    def renew(self) -> bool:
        """A fixed token cannot be renewed: a refusal stands."""
        return False

    def __repr__(self) -> str:
        return f"HeaderAuth({self._header}: ****)"


class OAuth2Settings(BaseModel):
    """``connector.oauth2``: where and as whom to ask for tokens."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token_url: str = Field(description="the token endpoint, e.g. https://login.microsoftonline"
                                       ".com/<tenant>/oauth2/v2.0/token")
    client_id: str = Field(min_length=1)
    client_secret: SecretStr = Field(description="from the environment: ${CRM_CLIENT_SECRET}")
    scope: str | None = Field(default=None, description="e.g. https://<org>.crm11.dynamics.com"
                                                        "/.default")

    @field_validator("token_url")
    @classmethod
    def _url(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with https:// (or http:// on a trusted network)")
        return value

    @field_validator("client_secret")
    @classmethod
    def _secret(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("is empty: write client_secret: ${CRM_CLIENT_SECRET} and export "
                             "the variable")
        return value


class _TokenAnswer(BaseModel):
    model_config = ConfigDict(extra="ignore")

    access_token: str = Field(min_length=1)
    expires_in: float = Field(default=3600, ge=0)


class OAuth2ClientCredentials(AuthBase):
    """Puts a current access token in ``header`` (as ``value``, e.g. 'Bearer {token}')."""

    def __init__(self, settings: OAuth2Settings, header: str, value: str, *,
                 timeout: tuple[float, float], verify: bool | str) -> None:
        self._settings = settings
        self._header = header
        self._value = value
        self._timeout = timeout
        self._session = requests.Session()
        self._session.verify = verify
        self._token: str | None = None
        self._expires = 0.0
        self.fetched = 0  # how many tokens were fetched: what a test can see

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if self._token is None or time.monotonic() >= self._expires:
            self._fetch()
        assert self._token is not None
        request.headers[self._header] = self._value.format(token=self._token)
        return request

    def renew(self) -> bool:
        """Forget the token, so the next call fetches another; True: worth one more try."""
        self._token = None
        return True

    def close(self) -> None:
        self._session.close()

    def __repr__(self) -> str:
        return f"OAuth2ClientCredentials({self._settings.client_id}: ****)"

    def _fetch(self) -> None:
        form = {"grant_type": "client_credentials", "client_id": self._settings.client_id,
                "client_secret": self._settings.client_secret.get_secret_value()}
        if self._settings.scope:
            form["scope"] = self._settings.scope
        url = self._settings.token_url
        try:
            answer = self._session.post(url, data=form, timeout=self._timeout,
                                        headers={"Accept": "application/json"},
                                        allow_redirects=False)
        except requests.RequestException as exc:
            log.info("rest token endpoint: unreachable (%s)", type(exc).__name__)
            raise TransientError(f"the token endpoint {url} cannot be reached "
                                 f"({type(exc).__name__})") from exc
        with answer:
            log.info("rest POST token endpoint -> %d", answer.status_code)
            status = answer.status_code
            if status == 429 or status >= 500:
                raise TransientError(f"the token endpoint {url} answered HTTP {status}",
                                     retry_after=retry_after_seconds(
                                         answer.headers.get("Retry-After")))
            if status >= 300:
                raise AuthError(f"the token endpoint {url} refused the bridge's client "
                                f"credentials (HTTP {status}){_oauth_reason(answer)}: check "
                                "connector.oauth2's client_id, client_secret and scope")
            try:
                token = _TokenAnswer.model_validate(answer.json())
            except (ValueError, ValidationError):
                raise TransientError(f"the token endpoint {url} answered without a usable "
                                     "access_token; retrying later") from None
        self._token = token.access_token
        self._expires = time.monotonic() + max(token.expires_in - _EARLY_SECONDS,
                                               token.expires_in / 2)
        self.fetched += 1


def _oauth_reason(answer: requests.Response) -> str:
    """RFC 6749's error code and description, never the request's own values."""
    try:
        data: Any = answer.json()
    except ValueError:
        return ""
    if not isinstance(data, dict):
        return ""
    words = " ".join(str(data[key]) for key in ("error", "error_description")
                     if isinstance(data.get(key), str))
    return f": {' '.join(words.split())[:300]}" if words else ""
