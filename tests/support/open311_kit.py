"""What the open311 tests share: the shipped mapping with a site's service codes, and a
connector on a double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import SecretStr

from connectors.base import ConnectorContext
from connectors.open311 import Open311Connector, Open311Settings
from connectors.open311_mapping import Open311Mapping
from crm_bridge.models import ServiceDestination

from .open311_double import Open311Double

__all__ = ["GRAFFITI", "POTHOLES", "REPO", "connect", "site_mapping"]

REPO = Path(__file__).resolve().parents[2]

POTHOLES = ServiceDestination(id="roads", name="Roads", crm_target="Roads", response_days=10,
                              contact="roads@example.gov.uk")
GRAFFITI = ServiceDestination(id="land", name="Land Services", crm_target="Land Services",
                              response_days=10, contact="land@example.gov.uk")


def site_mapping(**changes: Any) -> Open311Mapping:
    """mappings/open311.yaml with the double's codes: Roads → POT (no attributes), Land
    Services → GR (the recorded service, whose definition requires three attributes)."""
    data = yaml.safe_load((REPO / "mappings" / "open311.yaml").read_text(encoding="utf-8"))
    data["services"] = {"Roads": "POT", "Land Services": {
        "code": "GR", "attributes": {"service": "{category}", "usrn": "{location}",
                                     "fixmystreet_id": "{reference}"}}}
    data.update(changes)
    return Open311Mapping.model_validate(data)


def connect(double: Open311Double, mapping: Open311Mapping | None = None,
            tmp_path: Path = REPO, **settings: Any) -> Open311Connector:
    options: dict[str, Any] = {"url": double.url, "api_key": SecretStr(double.api_key),
                               "jurisdiction_id": double.jurisdiction_id, "timeout_seconds": 5}
    options.update(settings)
    return Open311Connector(Open311Settings(**options),
                            ConnectorContext(tmp_path, mapping or site_mapping()))
