"""`enquiry link REF OTHER [--reason]` and `enquiry unlink REF OTHER --reason`.

Added to the `enquiry` group by ``crm_bridge.cli`` when that group is loaded; the work is
``crm_bridge.links``, which the portal and its JSON API call too. With ``--as USERNAME``
that portal account's access policy decides (as in the portal); without it the operator
acts, recorded as ``cli:<login>``.
"""

from __future__ import annotations

from datetime import UTC, datetime

import click

from crm_bridge.cli.access import as_option, reader
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option
from crm_bridge.links import Actor, LinkDone
from crm_bridge.links import link as link_pair
from crm_bridge.links import unlink as unlink_pair

__all__ = ["link", "unlink"]


def _actor(ctx: CliContext, as_user: str | None) -> Actor:
    who = reader(ctx.bridge(), as_user)
    name = who.principal.name if who.principal is not None else who.actor.removeprefix("cli:")
    return Actor(username=who.actor, name=name, principal=who.principal, via=who.via)


def _show(done: LinkDone, verb: str, as_json: bool) -> None:
    if as_json:
        emit_json({"reference": done.reference, "other": done.other,
                   "changed": done.changed, "crm": done.crm})
    elif not done.changed:
        click.echo(f"{done.reference} and {done.other} are {done.crm}: nothing to do")
    else:
        click.echo(f"{done.reference} and {done.other} {verb}; {done.crm}.")


@click.command("link")
@click.argument("reference")
@click.argument("other")
@click.option("--reason", help="Why they are the same issue (recorded).")
@as_option
@json_option
@click.pass_obj
def link(ctx: CliContext, reference: str, other: str, reason: str | None,
         as_user: str | None, as_json: bool) -> None:
    """Link two enquiries as the same issue: one CRM case for both."""
    actor = _actor(ctx, as_user)
    with ctx.bridge().engine.begin() as conn:
        done = link_pair(conn, actor, reference, other, reason, datetime.now(UTC))
    _show(done, "linked", as_json)


@click.command("unlink")
@click.argument("reference")
@click.argument("other")
@click.option("--reason", required=True, help="Why they are not the same issue (recorded).")
@as_option
@json_option
@click.pass_obj
def unlink(ctx: CliContext, reference: str, other: str, reason: str, as_user: str | None,
           as_json: bool) -> None:
    """Undo a link between two enquiries, saying why; recorded in both histories."""
    actor = _actor(ctx, as_user)
    with ctx.bridge().engine.begin() as conn:
        done = unlink_pair(conn, actor, reference, other, reason, datetime.now(UTC))
    _show(done, "unlinked", as_json)
