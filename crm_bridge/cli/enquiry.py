"""`enquiry add | list | show | retry`: log and follow enquiries from the command line.

What `list` and `show` print is written to the audit log, one row per enquiry (see
``cli.access``: as ``cli:<login>``, or the portal account named by ``--as``, whose access
policy then applies).
"""

from __future__ import annotations

import getpass
import sys
from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click
from sqlalchemy import select

from crm_bridge.access.policy import can_view, consent_question, visible_clause
from crm_bridge.app import Bridge
from crm_bridge.cli.access import Reader, as_option, audit_reads, principal_of, reader
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.config.schema import CouncilConfig
from crm_bridge.describe import enquiry_lines
from crm_bridge.errors import InputError, NotFoundError
from crm_bridge.intake import draft_from, log_enquiry
from crm_bridge.models import Channel, Enquiry, Status
from crm_bridge.store.enquiries import (
    EnquiryFilter,
    add_history,
    get_enquiry,
    list_enquiries,
    set_fields,
)
from crm_bridge.store.tables import enquiries, outbox

if TYPE_CHECKING:
    from crm_bridge.portal.constituents import History

__all__ = ["enquiry"]


@click.group()
def enquiry() -> None:
    """Log, list and show enquiries."""


def _interactive() -> bool:
    return sys.stdin.isatty()


def _ask(value: Any, flag: str, prompt: str, choices: dict[str, str] | None = None,
         default: Any = None) -> Any:
    """The flag's value, else a prompt (offering the configured choices), else an error."""
    if value not in (None, ""):
        return value
    if not _interactive():
        if default is not None:
            return default
        raise InputError(flag, "is required: pass it as a flag (or run in a terminal to be asked)")
    if choices:
        width = max(len(key) for key in choices)
        click.echo(f"{prompt}s:", err=True)
        for key, label in choices.items():
            click.echo(f"  {key:<{width}}  {label}", err=True)
        return click.prompt(prompt, type=click.Choice(list(choices)), show_choices=False,
                            default=default, err=True)
    return click.prompt(prompt, type=str, default=default, err=True)


# Draft fields → the flags a user typed, so errors name what they can fix.
_FLAGS = {
    "member_id": "--member", "member": "--member", "category_id": "--category",
    "category": "--category", "description": "--description", "constituent.name": "--name",
    "constituent.address": "--address", "constituent.postcode": "--postcode",
    "constituent.email": "--email", "constituent.phone": "--phone",
    "constituent.uprn": "--uprn", "received_at": "--received", "ward_id": "--ward",
    "ward": "--ward", "location": "--location", "channel": "--channel",
    "logged_by": "--logged-by", "consent_to_share": "--consent",
}


def _parse_received(text: str | None, bridge: Bridge) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise InputError("--received", f"'{text}' is not a date and time like "
                         "2026-07-01T09:30 or 2026-07-01") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=bridge.router.calendar.zone)
    return value


@enquiry.command("add")
@click.option("--member", help="Member id (who the constituent contacted).")
@click.option("--category", help="Category id (the drop-down choice).")
@click.option("--description", help="What the constituent asked for.")
@click.option("--name", "constituent_name", help="Constituent's name.")
@click.option("--address", help="Constituent's address.")
@click.option("--postcode", help="Constituent's postcode.")
@click.option("--email", help="Constituent's e-mail.")
@click.option("--phone", help="Constituent's phone.")
@click.option("--uprn", help="Property reference (UPRN), if known.")
@click.option("--consent/--no-consent", default=None,
              help="Did the constituent agree to share with the member's ward colleagues (or "
              "whoever the config's sharing arrangement names)? Not asked for a member who "
              "shares with no one.")
@click.option("--channel", type=click.Choice([c.value for c in Channel]),
              help="How the constituent got in touch [default: email].")
@click.option("--location", help="Where the problem is: a street, a landmark, or a map pin as "
              "'latitude, longitude' (56.1531, -3.7386).")
@click.option("--ward", help="Ward id (defaults to a councillor's own ward).")
@click.option("--received", help="When it was received, e.g. 2026-07-01T09:30 or 2026-07-01 "
              "[default: now]. A time with no offset (+01:00, Z) is read in the council's "
              "timezone (council.timezone, e.g. Europe/London); from 2000-01-01 up to now.")
@click.option("--logged-by", help="Who is logging it [default: your login name].")
@json_option
@click.pass_obj
def add(ctx: CliContext, member: str | None, category: str | None, description: str | None,
        constituent_name: str | None, address: str | None, postcode: str | None,
        email: str | None, phone: str | None, uprn: str | None, consent: bool | None,
        channel: str | None, location: str | None, ward: str | None, received: str | None,
        logged_by: str | None, as_json: bool) -> None:
    """Log an enquiry; it is stored at once and sent to the CRM on the next sync."""
    bridge = ctx.bridge()
    config = bridge.config
    member_id = _ask(member, "--member", "Member",
                     {m.id: f"{m.name} ({m.role.value})" for m in config.members})
    values = {
        "member_id": member_id,
        "category_id": _ask(category, "--category", "Category",
                            {c.id: c.label for c in config.categories}),
        "description": _ask(description, "--description", "Description"),
        "constituent": {
            "name": _ask(constituent_name, "--name", "Constituent's name"),
            "address": address, "postcode": postcode, "email": email, "phone": phone,
            "uprn": uprn,
        },
        "consent_to_share": _consent(config, member_id, consent),
        "channel": channel or Channel.EMAIL.value,
        "location": location,
        "ward_id": ward,
        "received_at": _parse_received(received, bridge),
        "logged_by": logged_by or getpass.getuser(),
    }
    try:
        logged = log_enquiry(bridge.engine, config, bridge.router, draft_from(values))
    except InputError as exc:
        raise InputError(_FLAGS.get(exc.field, exc.field), exc.message) from None
    audit_reads(bridge, reader(bridge, None), "logged", [str(logged.id)])
    if as_json:
        emit_json(_load(bridge, logged.reference).model_dump(mode="json"))
        return
    service = config.service(logged.service_id)
    click.echo(f"{logged.reference} logged: routed to {service.name if service else '?'}, "
               f"response due {logged.target_date:%a %d %b %Y}")


def _consent(config: CouncilConfig, member_id: str, given: bool | None) -> bool:
    """The constituent's answer to the question naming who would see the enquiry; for a
    member who shares with no one it is not asked, and the enquiry is not shared."""
    if config.member(member_id) is None:
        return bool(given)  # logging refuses the unknown member, naming --member
    question = consent_question(config, member_id)
    if question is None:
        if given:
            member = config.member(member_id)
            raise InputError("--consent", f"{member.name if member else member_id}'s "
                             "enquiries are shared with no one (no sharing arrangement in "
                             "the config): leave --consent out")
        return False
    if given is not None:
        return given
    if _interactive():
        return click.confirm(question, default=False, err=True)
    raise InputError("--consent", "say --consent or --no-consent: the constituent's answer "
                     f"to '{question}'")


def _status(value: str | None) -> Status | None:
    if value is None:
        return None
    try:
        return Status(value)
    except ValueError:
        raise InputError("--status", f"unknown status '{value}': use one of "
                         + ", ".join(s.value for s in Status)) from None


def _check_id(bridge: Bridge, flag: str, value: str | None, known: list[str]) -> None:
    from crm_bridge.suggest import unknown

    if value is not None and value not in known:
        raise InputError(flag, unknown(flag.lstrip("-"), value, known))


@enquiry.command("list")
@click.option("--member", help="Only this member's enquiries.")
@click.option("--ward", help="Only this ward's.")
@click.option("--category", help="Only this category.")
@click.option("--status", help="Only this status (e.g. failed_to_send).")
@click.option("--overdue", is_flag=True, help="Only those past their target date.")
@click.option("--open", "open_only", is_flag=True, help="Only those still awaiting a response.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@as_option
@json_option
@click.pass_obj
def list_command(ctx: CliContext, member: str | None, ward: str | None, category: str | None,
                 status: str | None, overdue: bool, open_only: bool, limit: int,
                 as_user: str | None, as_json: bool) -> None:
    """List enquiries, newest first."""
    bridge = ctx.bridge()
    who = reader(bridge, as_user)
    config = bridge.config
    _check_id(bridge, "--member", member, [m.id for m in config.members])
    _check_id(bridge, "--ward", ward, [w.id for w in config.wards])
    _check_id(bridge, "--category", category, [c.id for c in config.categories])
    where = EnquiryFilter(member_id=member, ward_id=ward, category_id=category,
                          status=_status(status), overdue=True if overdue else None,
                          open_only=open_only)
    visible = visible_clause(who.principal) if who.principal is not None else None
    with bridge.engine.connect() as conn:
        found = list_enquiries(conn, where, limit=limit, visible=visible)
    audit_reads(bridge, who, "listed", [str(e.id) for e in found], "cli enquiry list")
    if as_json:
        emit_json([_summary(e) for e in found])
        return
    if not found:
        click.echo("no enquiries match")
        return
    table(["reference", "received", "member", "category", "status", "target", "overdue"],
          [[e.reference, _local(bridge, e.received_at).date(), e.member_id, e.category_id,
            e.status.value, e.target_date, "yes" if e.overdue else ""] for e in found])


def _summary(e: Enquiry) -> dict[str, Any]:
    return e.model_dump(mode="json", exclude={"history", "constituent", "consent"}) | {
        "consent_to_share": e.consent.to_share}


def _local(bridge: Bridge, value: datetime) -> datetime:
    return value.astimezone(bridge.router.calendar.zone)


def _load(bridge: Bridge, reference: str, who: Reader | None = None) -> Enquiry:
    with bridge.engine.connect() as conn:
        found = get_enquiry(conn, reference)
    if found is not None and who is not None and who.principal is not None and not can_view(
            who.principal, found.member_id, found.ward_id, found.consent.to_share):
        found = None  # as for one that does not exist: its existence is not told either
    if found is None:
        raise NotFoundError(f"no enquiry '{reference}': check the reference (like ENQ-2026-000123)")
    return found


@enquiry.command("show")
@click.argument("reference")
@as_option
@json_option
@click.pass_obj
def show(ctx: CliContext, reference: str, as_user: str | None, as_json: bool) -> None:
    """Show one enquiry in full, with its history."""
    from crm_bridge.portal.constituents import constituent_history

    bridge = ctx.bridge()
    who = reader(bridge, as_user)
    found = _load(bridge, reference, who)
    person = found.constituent
    with bridge.engine.connect() as conn:
        past = constituent_history(conn, principal_of(bridge, who), name=person.name,
                                   email=person.email, phone=person.phone,
                                   postcode=person.postcode, exclude=str(found.id))
    audit_reads(bridge, who, "viewed", [str(found.id)], "cli enquiry show")
    audit_reads(bridge, who, "viewed", past.ids(), "constituent history")
    zone = bridge.router.calendar.zone
    if as_json:
        emit_json(found.model_dump(mode="json") | {
            "constituent_history": past.as_json(datetime.now(zone).date())})
        return
    lines = enquiry_lines(found, bridge.config, zone)
    click.echo("\n".join(lines + _history_lines(past, zone)))


def _history_lines(past: History, zone: ZoneInfo) -> list[str]:
    """The constituent's other enquiries, as the portal's enquiry page lists them."""
    if not past.asked or not past.any:
        return []
    counted = f"{past.total}{' or more' if past.capped else ''}"
    lines = ["", f"constituent's other enquiries: {counted} ({past.open} open)"]
    for row in past.rows:
        lines.append(f"  {row.reference}  {row.received_at.astimezone(zone):%Y-%m-%d}  "
                     f"{row.status.value:<15} {row.category_id}  ({past.reasons[row.id]})")
    if past.total > len(past.rows):
        lines.append(f"  and {past.total - len(past.rows)} more")
    if past.hidden:
        lines.append(f"  {past.hidden} more held by another member ({past.hidden_open} open), "
                     "not shown: members' services can tell you more")
    return lines


@enquiry.command("retry")
@click.argument("reference", required=False)
@click.option("--all-failed", is_flag=True,
              help="Every enquiry whose work the CRM refused (narrow with the options below).")
@click.option("--reason", metavar="TEXT",
              help="With --all-failed: only those whose CRM error contains TEXT "
                   "(e.g. 'ErrorCode 9999').")
@click.option("--service", metavar="ID", help="With --all-failed: only this service's.")
@json_option
@click.pass_obj
def retry(ctx: CliContext, reference: str | None, all_failed: bool, reason: str | None,
          service: str | None, as_json: bool) -> None:
    """Queue a failed enquiry (or, with --all-failed, every one) to be sent again on the
    next sync."""
    bridge = ctx.bridge()
    if not all_failed and (reason or service):
        raise InputError("--reason" if reason else "--service", "goes with --all-failed")
    if all_failed == bool(reference):
        raise InputError("REFERENCE", "give one enquiry's reference, or --all-failed")
    if all_failed:
        _check_id(bridge, "--service", service, [s.id for s in bridge.config.services])
        queued = _retry_all(bridge, reason, service)
        if as_json:
            emit_json({"queued": queued})
        else:
            click.echo(f"{len(queued)} enquiries queued: they will be sent on the next sync"
                       if queued else "nothing to retry: no failed enquiry matches")
        return
    assert reference is not None
    found = _load(bridge, reference)
    now = datetime.now().astimezone()
    with bridge.engine.begin() as conn:
        if not _requeue(conn, str(found.id), found.status, now):
            pending = conn.execute(select(outbox.c.id).where(
                outbox.c.enquiry_id == str(found.id), outbox.c.state == "pending")).first()
            raise NotFoundError(f"{found.reference} has nothing to retry" +
                             (": it is already waiting for the next sync" if pending else ""))
    if as_json:
        emit_json({"queued": [found.reference]})
    else:
        click.echo(f"{found.reference} queued: it will be sent on the next sync")


def _requeue(conn: Any, enquiry_id: str, status: Status, now: datetime) -> bool:
    """The enquiry's failed outbox rows pending again, in one transaction with its status
    and history; False when it had none."""
    changed = conn.execute(
        outbox.update()
        .where(outbox.c.enquiry_id == enquiry_id, outbox.c.state == "failed")
        .values(state="pending", not_before=None, last_error=None, attempts=0)
    ).rowcount
    if not changed:
        return False
    new_status = None
    if status is Status.FAILED_TO_SEND:
        new_status = Status.LOGGED
        set_fields(conn, enquiry_id, now, status=new_status.value, failure_reason=None)
    add_history(conn, enquiry_id, now, "requeued", getpass.getuser(),
                "queued to send again on the next sync", new_status)
    return True


def _retry_all(bridge: Bridge, reason: str | None, service: str | None) -> list[str]:
    """Every failed outbox row (matching the filters) pending again, all in one transaction."""
    e = enquiries.c
    query = (select(e.id, e.reference, e.status).distinct()
             .join(outbox, outbox.c.enquiry_id == e.id)
             .where(outbox.c.state == "failed").order_by(e.reference))
    if reason:
        query = query.where(outbox.c.last_error.contains(reason, autoescape=True))
    if service:
        query = query.where(e.service_id == service)
    now = datetime.now().astimezone()
    queued = []
    with bridge.engine.begin() as conn:
        for row in conn.execute(query).all():
            if _requeue(conn, row.id, Status(row.status), now):
                queued.append(row.reference)
    return queued
