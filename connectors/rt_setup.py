"""What RT must hold before the bridge can open tickets, checked and (where REST 2.0 allows) made.

``check`` reads and never writes; ``setup`` creates what is missing and then checks
again. Both are safe to repeat. Each finding is worded for the IT admin who has
to act on it, in RT's own menu names where a step must be done in RT's web pages.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Finding
from connectors.rt_client import QueueInfo, RtClient
from connectors.rt_mapping import RtMapping
from crm_bridge.models import ServiceDestination

__all__ = ["RT_DEFAULT_STATUSES", "check", "setup"]

# The statuses of RT's "default" lifecycle: a ticket can reach any of them.
RT_DEFAULT_STATUSES = ("new", "open", "stalled", "resolved", "rejected", "deleted")

_SETUP = "run `crm-bridge connector setup`"


def _queues(destinations: Sequence[ServiceDestination]) -> dict[str, list[str]]:
    """Queue name → the services that send to it (several services may share a queue)."""
    queues: dict[str, list[str]] = {}
    for destination in destinations:
        queues.setdefault(destination.crm_target, []).append(destination.id)
    return queues


def check(client: RtClient, mapping: RtMapping,
          destinations: Sequence[ServiceDestination]) -> list[Finding]:
    info = client.info()
    findings = [Finding(f"RT at {client.base_url}", True,
                        f"answers (version {info.version}) and accepts the bridge's login")]
    lifecycles: set[str] = set()
    for name, services in _queues(destinations).items():
        queue = client.queue(name)
        subject = f"queue '{name}'"
        if queue is None:
            findings.append(Finding(subject, False,
                                    f"missing (used by {', '.join(services)}): {_SETUP}, or "
                                    "correct crm_target of those services"))
            continue
        lifecycles.add(queue.lifecycle)
        problems = _field_problems(client, mapping, queue)
        finding = _queue_finding(subject, queue)
        if finding.ok and not problems:
            finding = Finding(subject, True, f"{finding.detail}, and all "
                                             f"{len(mapping.custom_fields)} custom fields apply")
        findings.append(finding)
        findings.extend(problems)
    if "default" in lifecycles:
        unmapped = [s for s in RT_DEFAULT_STATUSES if mapping.bridge_status(s) is None]
        findings.append(Finding(
            "statuses", not unmapped,
            "every status of RT's default lifecycle is mapped" if not unmapped else
            f"RT status(es) {', '.join(unmapped)} are not in the mapping's statuses: add them, "
            "or sync will report each ticket that reaches one"))
    return findings


def _queue_finding(subject: str, queue: QueueInfo) -> Finding:
    if queue.disabled not in ("0", ""):
        return Finding(subject, False, "is disabled in RT: enable it (Admin → Queues)")
    if not queue.can_create_tickets():
        return Finding(subject, False, "exists, but the bridge's RT account may not create "
                                       "tickets in it: grant CreateTicket (Admin → Queues → "
                                       "Group rights or User rights)")
    return Finding(subject, True, "exists and the bridge may create tickets in it")


def _field_problems(client: RtClient, mapping: RtMapping, queue: QueueInfo) -> list[Finding]:
    present = queue.custom_field_names()
    findings = []
    for field, spec in mapping.custom_fields.items():
        subject = f"custom field '{spec.name}' ({field}) on queue '{queue.name}'"
        if spec.name in present:
            continue
        if any(cf.disabled in ("0", "") for cf in client.custom_fields_named(spec.name)):
            findings.append(Finding(subject, False, (
                "exists but does not apply to this queue, or the bridge's RT account lacks "
                f"SeeCustomField: in RT, Admin → Custom Fields → {spec.name} → Applies to, "
                f"tick '{queue.name}'; RT drops values of fields that do not apply")))
        else:
            findings.append(Finding(subject, False, f"missing: {_SETUP}"))
    return findings


def setup(client: RtClient, mapping: RtMapping,
          destinations: Sequence[ServiceDestination]) -> list[Finding]:
    """Create missing queues and custom fields, then report the state as ``check`` sees it."""
    made: list[Finding] = []
    names = {d.crm_target: d.name for d in destinations}
    for name, service in names.items():
        if client.queue(name) is None:
            client.create_queue(name, f"crm-bridge: enquiries for {service}")
            made.append(Finding(f"queue '{name}'", True, "created", changed=True))
    for field, spec in mapping.custom_fields.items():
        if not any(cf.disabled in ("0", "") for cf in client.custom_fields_named(spec.name)):
            description = spec.description or f"crm-bridge: the enquiry's {field}"
            client.create_custom_field(spec.name, spec.type, description)
            made.append(Finding(f"custom field '{spec.name}' ({field})", True,
                                "created, applied to all queues", changed=True))
    return made + check(client, mapping, destinations)
