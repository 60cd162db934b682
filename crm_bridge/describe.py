"""An enquiry told in plain text, the way `crm-bridge enquiry show` prints it.

One place for the wording, so the CLI and the demo describe an enquiry alike.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from crm_bridge.access.policy import shared_with
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.models import Enquiry

__all__ = ["enquiry_lines"]


def enquiry_lines(enquiry: Enquiry, config: CouncilConfig, zone: ZoneInfo,
                  history_by_status: bool = False) -> list[str]:
    """Details, response and history; ``history_by_status`` names each step by its status."""

    def local(value: datetime) -> datetime:
        return value.astimezone(zone)

    member = config.member(enquiry.member_id)
    service = config.service(enquiry.service_id)
    person = enquiry.constituent
    flag = ", OVERDUE" if enquiry.overdue else ""
    lines = [
        f"{enquiry.reference}  [{enquiry.status.value}{flag}]",
        f"member:       {member.name if member else enquiry.member_id}",
        f"ward:         {enquiry.ward_id or '-'}",
        f"category:     {enquiry.category_id} → {service.name if service else enquiry.service_id}",
        f"received:     {local(enquiry.received_at):%a %d %b %Y %H:%M} "
        f"({enquiry.channel.value}, logged by {enquiry.logged_by})",
        f"warning date: {enquiry.warning_date:%a %d %b %Y}",
        f"target date:  {enquiry.target_date:%a %d %b %Y}",
        f"CRM case:     {enquiry.crm_ref or '-'}",
        f"constituent:  {person.name}"
        + "".join(f", {v}" for v in (person.address, person.postcode) if v),
        "consent:      " + shared_with(config, enquiry.member_id, enquiry.consent.to_share),
        f"location:     {enquiry.location or '-'}",
        "",
        enquiry.description,
    ]
    if enquiry.purged_at:
        lines += ["", f"personal data removed {local(enquiry.purged_at):%a %d %b %Y}"]
    if enquiry.archived_at:
        lines += ["", f"archived {local(enquiry.archived_at):%a %d %b %Y} (its member left "
                  "office)"]
    if enquiry.failure_reason:
        lines += ["", f"failed to send: {enquiry.failure_reason}"]
    if enquiry.response:
        lines += ["", "response:", enquiry.response]
    if enquiry.linked:
        lines += ["", "linked: " + ", ".join(enquiry.linked)]
    lines += ["", "history:"]
    width = max((len(h.actor) for h in enquiry.history), default=0)
    for h in enquiry.history:
        step = h.status.value if history_by_status and h.status else h.event
        lines.append(f"  {local(h.at):%Y-%m-%d %H:%M}  {step:<15} {h.actor:<{width}}  {h.detail}")
    return lines
