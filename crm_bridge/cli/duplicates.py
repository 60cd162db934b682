"""`enquiry duplicates REF`: the possible duplicates of a stored enquiry, best first, with
the score and the reasons in words, from the same service as the portal
(``crm_bridge.duplicates.find_duplicates``).

Added to the `enquiry` group by ``crm_bridge.cli`` when that group is loaded. Read as the
operator, or with ``--as`` as a portal account (its access policy applies: ward colleagues'
matches it may not see are counted, not shown); what is printed is audited.
"""

from __future__ import annotations

import click

from crm_bridge.access.policy import can_view
from crm_bridge.cli.access import as_option, audit_reads, reader
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.duplicates import facts_of, find_duplicates
from crm_bridge.errors import NotFoundError
from crm_bridge.store.enquiries import get_enquiry

__all__ = ["duplicates"]


@click.command("duplicates")
@click.argument("reference")
@as_option
@json_option
@click.pass_obj
def duplicates(ctx: CliContext, reference: str, as_user: str | None, as_json: bool) -> None:
    """List possible duplicates of an enquiry: the same issue raised with any member."""
    bridge = ctx.bridge()
    who = reader(bridge, as_user)
    with bridge.engine.connect() as conn:
        enquiry = get_enquiry(conn, reference)
        if enquiry is not None and who.principal is not None and not can_view(
                who.principal, enquiry.member_id, enquiry.ward_id, enquiry.consent.to_share):
            enquiry = None  # as for one that does not exist: its existence is not told
        if enquiry is None:
            raise NotFoundError(f"no enquiry '{reference}': check the reference "
                                "(like ENQ-2026-000123)")
        found = find_duplicates(conn, who.principal, facts_of(enquiry),
                                bridge.config.duplicates, exclude=str(enquiry.id),
                                relative_to_now=False)
    audit_reads(bridge, who, "duplicate_check", [str(enquiry.id), *found.ids()],
                "cli enquiry duplicates")
    zone = bridge.router.calendar.zone
    if as_json:
        emit_json({"reference": enquiry.reference, "hidden": found.hidden, "matches": [
            {"reference": m.row.reference, "score": m.score, "reasons": m.reasons,
             "member_id": m.row.member_id, "ward_id": m.row.ward_id,
             "category_id": m.row.category_id, "status": m.row.status.value,
             "received_at": m.row.received_at, "location": m.row.location}
            for m in found.matches]})
        return
    if found.matches:
        table(["reference", "score", "member", "category", "received", "why"],
              [[m.row.reference, m.score, m.row.member_id, m.row.category_id,
                m.row.received_at.astimezone(zone).date(), m.reasons] for m in found.matches])
    else:
        click.echo(f"no possible duplicates of {enquiry.reference}")
    if found.hidden:
        click.echo(f"{found.hidden} more in the ward not shared with this account "
                   "(members' services can link them)")
