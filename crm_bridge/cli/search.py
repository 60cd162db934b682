"""`enquiry search`: the portal's search from the command line, ranked the same way
(``crm_bridge.portal.finder``: reference, whole postcode, e-mail or phone first; then the
name in any order, a partial postcode, the street; then words; then names spelt a little
differently).

The words are read from standard input (asked for in a terminal), never taken as an
argument: a constituent's name, e-mail or phone number would otherwise stay in the shell's
history and show in the process list, as the portal keeps them out of addresses. Read as
the operator, or with ``--as`` as a portal account (its access policy applies); what is
printed is audited (``searched``).

Added to the `enquiry` group by ``crm_bridge.cli`` when that group is loaded; the search
itself is imported only when the command runs.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from datetime import datetime

import click

from crm_bridge.cli.access import as_option, audit_reads, principal_of, reader
from crm_bridge.cli.audit import day_or_none
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.errors import InputError

__all__ = ["search"]

MAX_WORDS = 200  # characters, as the portal's search box


def _words(extra: tuple[str, ...]) -> str:
    """The words to search for: a prompt in a terminal, else the first line of stdin."""
    if extra:
        raise InputError("WORDS", "are not taken as arguments (they would stay in the shell's "
                         "history): run the command and type them when asked, or pipe "
                         "them in, e.g. from a file")
    if sys.stdin.isatty():
        words = click.prompt("Search for (name, postcode, address, e-mail, phone, "
                             "reference or words; Enter for the filters alone)",
                             default="", show_default=False, err=True)
    else:
        words = sys.stdin.readline()
    words = " ".join(str(words).split())
    if len(words) > MAX_WORDS:
        raise InputError("WORDS", f"are {len(words)} characters: search with at most "
                         f"{MAX_WORDS}")
    return words


@click.command("search")
@click.argument("extra", nargs=-1, metavar="")
@click.option("--member", help="Only this member's enquiries.")
@click.option("--ward", help="Only this ward's.")
@click.option("--category", help="Only this category.")
@click.option("--status", help="Only this status (e.g. responded).")
@click.option("--from", "received_from", metavar="YYYY-MM-DD", help="Received on or after.")
@click.option("--to", "received_to", metavar="YYYY-MM-DD", help="Received on or before.")
@click.option("--limit", type=click.IntRange(1, 100), default=25, show_default=True,
              help="Matches per page.")
@click.option("--page", type=click.IntRange(1, 10_000), default=1, show_default=True)
@as_option
@json_option
@click.pass_obj
def search(ctx: CliContext, extra: tuple[str, ...], member: str | None, ward: str | None,
           category: str | None, status: str | None, received_from: str | None,
           received_to: str | None, limit: int, page: int, as_user: str | None,
           as_json: bool) -> None:
    """Find enquiries as the portal's search does: by name (any order, small misspellings),
    postcode (with or without its space, or only its start), address, street ("ochil rd"),
    e-mail, phone in any format, reference or words; best matches first. The words are read
    from standard input (asked for in a terminal), not from the command line, so they stay
    out of the shell's history."""
    from crm_bridge.cli.enquiry import _check_id, _status
    from crm_bridge.portal.finder import search as ranked_search
    from crm_bridge.portal.queries import COUNT_CAP
    from crm_bridge.store.enquiries import EnquiryFilter

    bridge = ctx.bridge()
    config = bridge.config
    _check_id(bridge, "--member", member, [m.id for m in config.members])
    _check_id(bridge, "--ward", ward, [w.id for w in config.wards])
    _check_id(bridge, "--category", category, [c.id for c in config.categories])
    first, last = day_or_none("--from", received_from), day_or_none("--to", received_to)
    if first and last and first > last:
        raise InputError("--to", "is before --from: the end date must be the same or later")
    where = EnquiryFilter(member_id=member, ward_id=ward, category_id=category,
                          status=_status(status), received_from=first, received_to=last)
    words = _words(extra)
    if not words and where == EnquiryFilter():
        raise InputError("WORDS", "nothing to search for: type some words, or narrow by a "
                         "filter (--ward, --member, --category, --status, --from, --to)")
    who = reader(bridge, as_user)
    principal = principal_of(bridge, who)
    zone = bridge.router.calendar.zone
    with bridge.engine.connect() as conn:
        rows, total = ranked_search(conn, principal, replace(where, text=words or None),
                                    page, limit, zone)
    audit_reads(bridge, who, "searched", [r.id for r in rows], "cli enquiry search")
    today = datetime.now(zone).date()
    more = total > COUNT_CAP
    if as_json:
        emit_json({"total": min(total, COUNT_CAP), "more_than_counted": more, "page": page,
                   "per_page": limit,
                   "items": [r.as_json(today) for r in rows]})
        return
    if not rows:
        click.echo("no enquiries match" if page == 1 or not total
                   else f"no enquiries on page {page}: {min(total, COUNT_CAP)} match")
        return
    table(["reference", "received", "member", "category", "status", "constituent", "location"],
          [[r.reference, r.received_at.astimezone(zone).date(), r.member_id, r.category_id,
            r.status.value + (", overdue" if r.is_overdue(today) else ""),
            r.constituent_name, r.location or ""] for r in rows])
    shown = f"{(page - 1) * limit + 1}–{(page - 1) * limit + len(rows)}"
    counted = f"more than {COUNT_CAP}" if more else str(total)
    click.echo(f"{shown} of {counted} (best matches first)"
               + (": narrow with a filter" if more else ""))
