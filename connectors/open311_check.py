"""`crm-bridge connector check` for Open311: can the bridge open requests, and what to fix.

Reads only (``GET services`` and each mapped service's definition): the server answers;
each service destination is mapped to a service code; the server offers that code; every
attribute its definition requires is filled by the mapping; the mapping sends no attribute
the definition lacks (a marker attribute the server drops would make retries unsafe);
where changes will be read from.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from connectors.base import Finding
from connectors.open311_xml import flag
from crm_bridge.errors import ConnectorError
from crm_bridge.models import ServiceDestination

if TYPE_CHECKING:
    from connectors.open311 import Open311Connector

__all__ = ["check"]

_MAPPING = "mappings/open311.yaml"
_SHOWN = 12  # service codes listed in one finding


def check(crm: Open311Connector, destinations: Sequence[ServiceDestination]) -> list[Finding]:
    where = f"Open311 server at {crm.settings.url}"
    try:
        listed = crm.wire.call("GET", "services")
    except ConnectorError as exc:
        return [Finding(where, False, f"GET services failed: {exc}")]
    offered = {str(s.get("service_code")): s for s in _list(listed) if s.get("service_code")}
    findings = [Finding(where, True, f"answers, in {crm.settings.format.upper()}, and offers "
                                     f"{len(offered)} service(s)")]
    if crm.settings.api_key is None:
        findings.append(Finding("connector.api_key", False, "not set: most servers refuse "
                                "POST requests without one; set api_key: ${OPEN311_API_KEY} "
                                "and export the variable"))
    definitions: dict[str, Any] = {}
    for destination in destinations:
        findings.extend(_service(crm, destination, offered, definitions))
    findings.append(_updates(crm))
    findings.extend(_media(crm))
    return findings


def _service(crm: Open311Connector, destination: ServiceDestination,
             offered: dict[str, Any], definitions: dict[str, Any]) -> list[Finding]:
    subject = f"service '{destination.id}' (crm_target '{destination.crm_target}')"
    spec = crm.mapping.service(destination)
    if spec is None:
        return [Finding(subject, False, f"is mapped to no Open311 service code: add "
                                        f"'{destination.crm_target}: CODE' under services in "
                                        f"{_MAPPING}, CODE being one of "
                                        f"{_codes(offered)}")]
    if spec.code not in offered:
        return [Finding(subject, False, f"is mapped to service code '{spec.code}', which the "
                                        f"server does not offer; it offers {_codes(offered)}")]
    name = offered[spec.code].get("service_name") or spec.code
    if not flag(offered[spec.code].get("metadata")):
        return [Finding(subject, True, f"service code '{spec.code}' ({name}), which has no "
                                       "attributes")]
    if spec.code not in definitions:
        try:
            definitions[spec.code] = crm.wire.call("GET", f"services/{spec.code}")
        except ConnectorError as exc:
            return [Finding(subject, False, f"the definition of service code '{spec.code}' "
                                            f"could not be read: {exc}")]
    definition = definitions[spec.code]
    attributes = _list(definition.get("attributes") if isinstance(definition, dict) else None)
    known = {str(a.get("code")) for a in attributes}
    filled = crm.mapping.attributes_for(spec)
    missing = sorted(str(a.get("code")) for a in attributes
                     if flag(a.get("required")) and str(a.get("code")) not in filled)
    unknown = sorted(set(filled) - known)
    findings = []
    if missing:
        findings.append(Finding(subject, False, (
            f"service code '{spec.code}' ({name}) requires attribute(s) "
            f"{', '.join(missing)}, which the mapping leaves empty: give each a value under "
            f"services: {destination.crm_target}: attributes: (or attributes:) in {_MAPPING}")))
    if unknown:
        marker = crm.mapping.marker.attribute
        why = (f"; '{marker}' is the marker, so a retry could not find the request"
               if marker in unknown else "")
        findings.append(Finding(subject, False, (
            f"the mapping sends attribute(s) {', '.join(unknown)}, which service code "
            f"'{spec.code}' does not define: the server may refuse or drop them{why}")))
    if not findings:
        findings.append(Finding(subject, True, f"service code '{spec.code}' ({name}); every "
                                               "required attribute is filled"))
    return findings


def _updates(crm: Open311Connector) -> Finding:
    try:
        source = crm.updates_source()
    except ConnectorError as exc:
        return Finding("updates", False, f"could not tell where to read changes: {exc}")
    if source == "servicerequestupdates":
        return Finding("updates", True, "read from servicerequestupdates (mySociety's "
                                        "extension); notes are sent as updates")
    return Finding("updates", True, f"read from GET requests with "
                                    f"{crm.settings.updated_after_param}; the server takes no "
                                    "updates, so notes (follow-ups) cannot be sent to it")


def _media(crm: Open311Connector) -> list[Finding]:
    """Photos go only where the bridge can publish them: the folder must be there and
    writable (the web server serving it at media_url is the council's to check). Without
    media_folder, `connector check`'s own 'photos' line says they stay in the bridge."""
    setting = crm.settings.media_folder
    if setting is None:
        return []
    from connectors.open311_media import media_folder

    folder = media_folder(setting, crm.base_dir)
    if not folder.is_dir():
        return [Finding("connector.media_folder", False, f"{folder} is not a folder: create "
                                                        "it, and have the council's web server "
                                                        f"serve it at {crm.settings.media_url}")]
    if not _writable(folder):
        return [Finding("connector.media_folder", False, f"{folder} cannot be written by "
                                                         "the bridge's user: give it write "
                                                         "access")]
    return [Finding("connector.media_folder", True, f"photos are written to {folder} and "
                                                    "sent as updates linking to "
                                                    f"{crm.settings.media_url}/<file>; the "
                                                    "web server must serve that folder there")]


def _writable(folder: Path) -> bool:
    """Whether the bridge can write a file there, tried for real (permissions, ACLs and
    read-only mounts all show), leaving nothing behind."""
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".check-", suffix=".part"):
            return True
    except OSError:
        return False


def _list(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        value = [value]
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _codes(offered: dict[str, Any]) -> str:
    codes = sorted(offered)
    shown = ", ".join(codes[:_SHOWN]) + (f" and {len(codes) - _SHOWN} more"
                                          if len(codes) > _SHOWN else "")
    return shown or "none"
