"""`audit`: who saw or changed what, from the audit log, for a DPO or an auditor.

Reading the trail is itself recorded (action ``audit_read``, with the question asked), so
the log shows who looked at it.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import click

from crm_bridge.access.audit import cli_login, read_audit, record
from crm_bridge.cli.context import CliContext
from crm_bridge.cli.output import emit_json, json_option, table
from crm_bridge.errors import InputError, NotFoundError

__all__ = ["audit"]


def day_or_none(flag: str, text: str | None) -> date | None:
    """``--from``/``--to`` as a day; None when not given."""
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError(flag, f"'{text}' is not a date like 2026-07-01") from None


@click.command("audit")
@click.option("--enquiry", "reference", metavar="REF", help="Rows about this enquiry.")
@click.option("--user", metavar="USERNAME",
              help="Rows by this portal account or operating-system login, or about the "
              "account (role grants, password resets).")
@click.option("--from", "day_from", metavar="DATE", help="From this day (council time).")
@click.option("--to", "day_to", metavar="DATE", help="To this day, inclusive.")
@click.option("--limit", type=click.IntRange(1, 1_000_000), default=1000, show_default=True)
@json_option
@click.pass_obj
def audit(ctx: CliContext, reference: str | None, user: str | None, day_from: str | None,
          day_to: str | None, limit: int, as_json: bool) -> None:
    """Show the audit log, oldest first: by enquiry, by user or between two days."""
    start, end = day_or_none("--from", day_from), day_or_none("--to", day_to)
    if reference is None and user is None and start is None and end is None:
        raise InputError("--enquiry", "say what to show: --enquiry REF, --user USERNAME, "
                         "or --from DATE and --to DATE")
    if start and end and end < start:
        raise InputError("--to", "is before --from")
    bridge = ctx.bridge()
    zone = bridge.router.calendar.zone
    enquiry_id = None
    if reference is not None:
        from crm_bridge.store.enquiries import get_enquiry

        with bridge.engine.connect() as conn:
            found = get_enquiry(conn, reference)
        if found is None:
            raise NotFoundError(f"no enquiry '{reference}': check the reference "
                                "(like ENQ-2026-000123)")
        enquiry_id = str(found.id)
    since = datetime.combine(start, time.min, tzinfo=zone).astimezone(UTC) if start else None
    until = (datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone).astimezone(UTC)
             if end else None)
    name = user.strip().lower() if user else None
    with bridge.engine.begin() as conn:
        rows = read_audit(conn, enquiry_id=enquiry_id, user=name, since=since, until=until,
                          limit=limit)
        asked = " ".join(f"{k} {v}" for k, v in (("--enquiry", reference), ("--user", name),
                                                 ("--from", day_from), ("--to", day_to)) if v)
        login = cli_login()
        record(conn, datetime.now(UTC), login, "audit_read", enquiry_id, asked, via=login)
    if as_json:
        emit_json([r.as_json() for r in rows])
        return
    if not rows:
        click.echo("no audit rows match")
        return
    table(["at", "actor", "via", "action", "enquiry", "account", "detail"],
          [[r.at.astimezone(zone).strftime("%Y-%m-%d %H:%M:%S"), r.actor, r.via or "",
            r.action, r.reference or "", r.target_user or "", r.detail] for r in rows])
