"""Lagan connectors made against the FL double for a test, and closed after it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol

from support.lagan_double import LaganDouble

from connectors.base import ConnectorContext
from connectors.lagan import LaganConnector, LaganSettings
from connectors.lagan_mapping import LaganMapping

__all__ = ["MakeConnector", "connectors_for"]


class MakeConnector(Protocol):
    def __call__(self, double: LaganDouble, mapping: LaganMapping = ...,
                 **options: Any) -> LaganConnector: ...


@contextmanager
def connectors_for(folder: Path, default_mapping: LaganMapping,
                   timeout_seconds: float) -> Iterator[MakeConnector]:
    """A maker of connectors logged in to a double as its own user (any setting can be
    overridden), every one closed when the block ends."""
    made: list[LaganConnector] = []

    def connect(double: LaganDouble, mapping: LaganMapping = default_mapping,
                **options: Any) -> LaganConnector:
        settings = {"url": double.url, "username": double.username,
                    "password": double.password, "auth": double.auth,
                    "timeout_seconds": timeout_seconds, **options}
        connector = LaganConnector(LaganSettings(**settings), ConnectorContext(folder, mapping))
        made.append(connector)
        return connector

    try:
        yield connect
    finally:
        for connector in made:
            connector.close()
