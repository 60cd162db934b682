"""`sar export | erase | correct`: a constituent's rights of access, erasure and rectification.

Each finds the person's enquiries by --email, --phone, or --name with --postcode; each is
written to the audit log as ``cli:<login>`` with its --reason. What each does:
crm_bridge/privacy/export.py, erase.py, rectify.py; docs/data-protection.md.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option

__all__ = ["sar"]

F = TypeVar("F", bound=Callable[..., Any])


def _who(func: F) -> F:
    for option in reversed((
        click.option("--email", help="The constituent's e-mail address."),
        click.option("--phone", help="The constituent's phone number."),
        click.option("--name", help="The constituent's name (with --postcode)."),
        click.option("--postcode", help="The constituent's postcode (with --name)."),
    )):
        func = option(func)
    return func


_reason = click.option("--reason", required=True,
                       help="Why (the request's reference, say): recorded in the audit log.")
_dry_run = click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")


def _subject(email: str | None, phone: str | None, name: str | None,
             postcode: str | None) -> Any:
    from crm_bridge.privacy.subject import Subject

    return Subject.of(email, phone, name, postcode)


@click.group()
def sar() -> None:
    """A constituent's rights: a copy of their data, erasure, correction."""


@sar.command("export")
@_who
@click.option("--out", "out", required=True, type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the export into (created; files readable by you only).")
@_reason
@json_option
@click.pass_obj
def export(ctx: CliContext, email: str | None, phone: str | None, name: str | None,
           postcode: str | None, out: Path, reason: str, as_json: bool) -> None:
    """Write one constituent's enquiries, history and responses as JSON and HTML."""
    from crm_bridge.privacy import cli_actor
    from crm_bridge.privacy.export import export_subject

    subject = _subject(email, phone, name, postcode)
    bridge = ctx.bridge()
    done, files = export_subject(bridge.engine, bridge.config, subject, out, reason,
                                 cli_actor(), datetime.now(UTC))
    if as_json:
        emit_json({"enquiries": [m.reference for m in done.matches],
                   "matched_by": {m.reference: m.matched_by for m in done.matches},
                   "files": [str(f) for f in files]})
        return
    click.echo(f"{len(done.matches)} enquiries found; written:")
    for path in files:
        click.echo(f"  {path}")
    click.echo("Read it before sending: other people's details from linked enquiries and "
               "internal notes are withheld, but free text may still name others.")


@sar.command("erase")
@_who
@click.option("--only", multiple=True, metavar="REF",
              help="Erase only this enquiry of theirs (repeatable).")
@click.option("--include-open", is_flag=True,
              help="Also erase enquiries still open (they are closed).")
@_reason
@_dry_run
@json_option
@click.pass_obj
def erase(ctx: CliContext, email: str | None, phone: str | None, name: str | None,
          postcode: str | None, only: tuple[str, ...], include_open: bool, reason: str,
          dry_run: bool, as_json: bool) -> None:
    """Erase one constituent's personal data from the bridge; list what the CRM must do."""
    from crm_bridge.privacy import cli_actor
    from crm_bridge.privacy.erase import erase as run_erase

    subject = _subject(email, phone, name, postcode)
    bridge = ctx.bridge()
    report = run_erase(bridge.engine, bridge.loaded, bridge.connector, subject, list(only),
                       include_open, reason, cli_actor(), datetime.now(UTC), dry_run=dry_run)
    if as_json:
        emit_json(report.as_dict())
        return
    verb = "would erase" if dry_run else "erased"
    click.echo(f"{verb}: {', '.join(report.references) or 'nothing'}")
    if report.left_open:
        click.echo(f"left (still open; add --include-open to erase and close them): "
                   f"{', '.join(report.left_open)}")
    for case in report.crm.anonymised:
        click.echo(f"  {case.reference}: CRM case {case.crm_ref} anonymised")
    for case, why in report.crm.to_action:
        click.echo(f"  {case.reference}: CRM case {case.crm_ref}: {why}")
    if report.mentioned_in:
        click.echo("other people's enquiries that name them (not changed; review): "
                   + ", ".join(report.mentioned_in))


@sar.command("correct")
@click.argument("references", nargs=-1, metavar="[REFERENCE]...")
@_who
@click.option("--set", "changes", multiple=True, metavar="FIELD=VALUE",
              help="The corrected value (repeatable): name, address, postcode, email, phone, "
                   "uprn, location; an empty value clears it.")
@_reason
@_dry_run
@json_option
@click.pass_obj
def correct(ctx: CliContext, references: tuple[str, ...], email: str | None,
            phone: str | None, name: str | None, postcode: str | None,
            changes: tuple[str, ...], reason: str, dry_run: bool, as_json: bool) -> None:
    """Correct a constituent's details on their enquiries (named, or found by their details)."""
    from crm_bridge.privacy import cli_actor
    from crm_bridge.privacy.rectify import correct as run_correct
    from crm_bridge.privacy.rectify import parse_changes

    values = parse_changes(changes)
    subject = (_subject(email, phone, name, postcode)
               if any((email, phone, name, postcode)) else None)
    bridge = ctx.bridge()
    report = run_correct(bridge.engine, subject, references, values, reason, cli_actor(),
                         datetime.now(UTC), dry_run=dry_run)
    if as_json:
        emit_json(report.as_dict())
        return
    verb = "would correct" if dry_run else "corrected"
    click.echo(f"{verb} {', '.join(report.fields)} on {', '.join(report.references)}")
    for case in report.crm_to_update:
        click.echo(f"  {case.reference}: correct the CRM case {case.crm_ref} too")
