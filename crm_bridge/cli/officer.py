"""`officer queue | show | take | respond | close`: a service officer's desk for the embedded
case store, so the whole loop runs with no CRM. With a real CRM, officers use the CRM."""

from __future__ import annotations

from typing import Any

import click

from connectors.base import HasOfficerDesk
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.errors import ConfigError, NotFoundError, PermanentError

__all__ = ["officer"]


def _desk(ctx: CliContext) -> Any:
    connector = ctx.bridge().connector()
    if not isinstance(connector, HasOfficerDesk):
        raise ConfigError(
            f"connector '{ctx.bridge().config.connector.type}' has no officer desk: "
            "officers work its cases in the CRM itself"
        )
    return connector.desk()


def _case_dict(case: Any) -> dict[str, Any]:
    return {k: getattr(case, k) for k in ("case_ref", "external_ref", "queue", "title", "body",
                                          "status", "due", "response", "created_at",
                                          "updated_at")}


@click.group()
def officer() -> None:
    """Work cases in the embedded case store (the `local` connector) as a service officer."""


@officer.command("queue")
@click.option("--queue", help="Only this queue (a service's crm_target).")
@click.option("--all", "include_done", is_flag=True, help="Include resolved and closed cases.")
@json_option
@click.pass_obj
def queue(ctx: CliContext, queue: str | None, include_done: bool, as_json: bool) -> None:
    """List cases waiting for an officer, earliest due first."""
    cases = _desk(ctx).queue(queue, include_done=include_done)
    if as_json:
        emit_json([_case_dict(c) for c in cases])
        return
    if not cases:
        click.echo("the queue is empty")
        return
    table(["case", "queue", "status", "due", "title"],
          [[c.case_ref, c.queue, c.status, c.due, c.title] for c in cases])


@officer.command("show")
@click.argument("case")
@json_option
@click.pass_obj
def show(ctx: CliContext, case: str, as_json: bool) -> None:
    """Show one case (audited as a view of its enquiry: the case holds the constituent's
    details)."""
    desk = _desk(ctx)
    found = desk.get(case)
    _audit_view(ctx, found.case_ref, found.external_ref)
    files = [{"file": f.file_ref, "filename": f.filename, "content_type": f.content_type,
              "size": len(f.data), "added_at": f.at} for f in desk.files(found.case_ref)]
    if as_json:
        emit_json({**_case_dict(found), "files": files})
        return
    click.echo(f"{found.case_ref}  [{found.status}]  queue {found.queue}, due {found.due}")
    click.echo(found.title)
    click.echo("")
    click.echo(found.body)
    if found.response:
        click.echo(f"\nresponse:\n{found.response}")
    if files:
        click.echo("\nfiles:")
        for f in files:
            click.echo(f"  {f['filename']} ({f['content_type']}, {f['size']} bytes): {f['file']}")


def _audit_view(ctx: CliContext, case_ref: str, external_ref: str | None) -> None:
    from datetime import UTC, datetime

    from crm_bridge.access.audit import cli_login, record
    from crm_bridge.store.enquiries import get_enquiry

    bridge = ctx.bridge()
    login = cli_login()
    with bridge.engine.begin() as conn:
        enquiry = get_enquiry(conn, external_ref) if external_ref else None
        # A case the bridge did not open names no enquiry; the view is recorded all the same.
        record(conn, datetime.now(UTC), login, "viewed", str(enquiry.id) if enquiry else None,
               f"cli officer show {case_ref}", via=login)


def _move(ctx: CliContext, case: str, status: str, officer_name: str,
          response: str | None = None) -> None:
    try:
        moved = _desk(ctx).set_status(case, status, officer_name, response=response)
    except PermanentError as exc:
        raise NotFoundError(str(exc)) from None
    click.echo(f"{moved.case_ref} is now {moved.status}; the bridge picks it up on the next sync")


_officer_option = click.option("--officer", "officer_name", default="service officer",
                               show_default=True, help="Who is acting on the case.")


@officer.command("take")
@click.argument("case")
@_officer_option
@click.pass_obj
def take(ctx: CliContext, case: str, officer_name: str) -> None:
    """Start work on a case (status open)."""
    _move(ctx, case, "open", officer_name)


@officer.command("respond")
@click.argument("case")
@click.option("--text", required=True, help="The service's response to the member.")
@_officer_option
@click.pass_obj
def respond(ctx: CliContext, case: str, text: str, officer_name: str) -> None:
    """Record the service's response (status resolved)."""
    if not text.strip():
        raise NotFoundError("--text: the response is empty")
    _move(ctx, case, "resolved", officer_name, response=text.strip())


@officer.command("close")
@click.argument("case")
@_officer_option
@click.pass_obj
def close(ctx: CliContext, case: str, officer_name: str) -> None:
    """Close a case."""
    _move(ctx, case, "closed", officer_name)
