"""Checks that several connectors' settings share, worded the same everywhere."""

from __future__ import annotations

__all__ = ["http_base_url"]


def http_base_url(value: str) -> str:
    """A CRM's base URL, trimmed of spaces and trailing slashes; http(s) only, so a typo
    such as 'htps://' or a bare host name is refused when the config loads."""
    value = value.strip().rstrip("/")
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with https:// (or http:// on a trusted network)")
    return value
