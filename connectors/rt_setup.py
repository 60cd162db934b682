"""What RT must hold before the bridge can open tickets, checked and (where REST 2.0 allows) made.

``check`` reads and never writes; ``setup`` creates what is missing and then checks
again. Both are safe to repeat. Each finding is worded for the IT admin who has
to act on it, in RT's own menu names where a step must be done in RT's web pages.

The bridge's rights: RT 5.0's REST 2.0 has no call that lists an account's rights, so
each is read from what RT shows the account: a queue it may not see answers 403
(SeeQueue); a queue lists the 'create' link only with CreateTicket and the custom fields
only with SeeCustomField; one of the bridge's tickets in the queue shows ShowTicket (it
is found at all) and CommentOnTicket (its 'comment' link), and a ticket the bridge opened
without its enquiry id shows SetInitialCustomField missing (RT drops the value). What
REST 2.0 cannot show is named in one line, for the admin to compare with docs/rt.md.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.base import Finding
from connectors.rt_client import QueueInfo, RtClient
from connectors.rt_mapping import RtMapping
from crm_bridge.errors import AuthError
from crm_bridge.models import ServiceDestination

__all__ = ["RIGHTS", "RT_DEFAULT_STATUSES", "check", "setup"]

# Every right the bridge's RT account needs, as docs/rt.md lists them (and the tests grant).
DAY_TO_DAY = ("SeeQueue", "CreateTicket", "ShowTicket", "ShowTicketComments", "CommentOnTicket",
              "SeeCustomField", "SetInitialCustomField")
FOR_THE_TOKEN = ("ManageAuthTokens",)
FOR_SETUP = ("AdminQueue", "AdminCustomField", "AssignCustomFields")
RIGHTS = DAY_TO_DAY + FOR_THE_TOKEN + FOR_SETUP
_ON_A_TICKET = ("ShowTicket", "CommentOnTicket", "SetInitialCustomField")
_UNSEEN = ("ShowTicketComments", *FOR_THE_TOKEN, *FOR_SETUP)

# The statuses of RT's "default" lifecycle: a ticket can reach any of them.
RT_DEFAULT_STATUSES = ("new", "open", "stalled", "resolved", "rejected", "deleted")

_SETUP = "run `crm-bridge connector setup`"


def _grant(right: str, queue: str) -> str:
    return (f"the bridge's RT account lacks {right} on queue '{queue}': grant it in RT "
            f"(Admin → Queues → {queue} → User Rights, or Admin → Global → User Rights)")


def _quoted(value: str) -> str:
    """A TicketSQL string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


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
    unproven: list[str] = []  # queues where no ticket of the bridge's shows the ticket rights
    for name, services in _queues(destinations).items():
        subject = f"queue '{name}'"
        try:
            queue = client.queue(name)
        except AuthError:  # RT answers 403 for a queue the account may not see
            findings.append(Finding(subject, False, _grant("SeeQueue", name)))
            continue
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
        ticket_rights = _ticket_rights(client, mapping, name)
        if ticket_rights is None:
            unproven.append(name)
        else:
            findings.extend(ticket_rights)
    if "default" in lifecycles:
        unmapped = [s for s in RT_DEFAULT_STATUSES if mapping.bridge_status(s) is None]
        findings.append(Finding(
            "statuses", not unmapped,
            "every status of RT's default lifecycle is mapped" if not unmapped else
            f"RT status(es) {', '.join(unmapped)} are not in the mapping's statuses: add them, "
            "or sync will report each ticket that reaches one"))
    where = (f" (and, until the bridge has a ticket in queue(s) {', '.join(unproven)}, "
             f"{', '.join(_ON_A_TICKET)} there)" if unproven else "")
    findings.append(Finding(
        "rights RT cannot show", True,
        f"RT's REST 2.0 does not show {', '.join(_UNSEEN)}{where}: make sure the bridge's "
        "account holds them, as docs/rt.md lists"))
    return findings


def _ticket_rights(client: RtClient, mapping: RtMapping, queue: str) -> list[Finding] | None:
    """The rights shown by the bridge's tickets in ``queue``; None when it has none there
    that it can see (none made yet, or ShowTicket missing: RT cannot tell which)."""
    findings: list[Finding] = []
    field = f"'CF.{{{mapping.external_id_field}}}'"
    lost = client.newest_ticket(f"Queue = {_quoted(queue)} AND Creator = '__CurrentUser__' "
                                f"AND {field} IS NULL")
    if lost is not None:
        findings.append(Finding(
            f"ticket #{lost.id} in queue '{queue}'", False,
            f"the bridge opened it without the enquiry id: {_grant('SetInitialCustomField', queue)}"
            "; RT drops custom field values the account may not set, so a retry cannot find "
            "the ticket and opens another"))
    sample = client.newest_ticket(f"Queue = {_quoted(queue)} AND {field} IS NOT NULL")
    if sample is None:
        return findings or None
    if not client.ticket(sample.id).may("comment"):
        findings.append(Finding(f"queue '{queue}'", False, _grant("CommentOnTicket", queue)
                                + "; without it notes and photos cannot reach the ticket"))
    return findings


def _queue_finding(subject: str, queue: QueueInfo) -> Finding:
    if queue.disabled not in ("0", ""):
        return Finding(subject, False, "is disabled in RT: enable it (Admin → Queues)")
    if not queue.can_create_tickets():
        return Finding(subject, False, "exists, but " + _grant("CreateTicket", queue.name))
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
                f"SeeCustomField on queue '{queue.name}': in RT, Admin → Custom Fields → "
                f"{spec.name} → Applies to, tick '{queue.name}' (and grant SeeCustomField); "
                "RT drops values of fields that do not apply")))
        else:
            findings.append(Finding(subject, False, f"missing, or the bridge's RT account "
                                                    f"lacks SeeCustomField on queue "
                                                    f"'{queue.name}': {_SETUP}"))
    return findings


def setup(client: RtClient, mapping: RtMapping,
          destinations: Sequence[ServiceDestination]) -> list[Finding]:
    """Create missing queues and custom fields, then report the state as ``check`` sees it."""
    made: list[Finding] = []
    names = {d.crm_target: d.name for d in destinations}
    for name, service in names.items():
        try:
            if client.queue(name) is None:
                client.create_queue(name, f"crm-bridge: enquiries for {service}")
                made.append(Finding(f"queue '{name}'", True, "created", changed=True))
        except AuthError:  # check, below, says which right (SeeQueue) when it is that
            made.append(Finding(f"queue '{name}'", False, (
                "RT refused to create it: the bridge's RT account lacks AdminQueue (grant it "
                "globally for the setup), or create the queue by hand (Admin → Queues)")))
    for field, spec in mapping.custom_fields.items():
        if not any(cf.disabled in ("0", "") for cf in client.custom_fields_named(spec.name)):
            description = spec.description or f"crm-bridge: the enquiry's {field}"
            try:
                client.create_custom_field(spec.name, spec.type, description)
            except AuthError:
                made.append(Finding(f"custom field '{spec.name}' ({field})", False, (
                    "RT refused to create it: the bridge's RT account lacks AdminCustomField "
                    "and AssignCustomFields (grant them globally for the setup), or create it "
                    "by hand (Admin → Custom Fields)")))
                continue
            made.append(Finding(f"custom field '{spec.name}' ({field})", True,
                                "created, applied to all queues", changed=True))
    return made + check(client, mapping, destinations)
