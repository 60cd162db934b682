"""`report`: enquiry volumes and response performance, and the Scrutiny Committee's report.

Aggregate figures only (counts, percentages, working days): no enquiry's or constituent's
details are read or printed, so the command writes no audit row. Definitions of every
figure: crm_bridge/reports/__init__.py.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from crm_bridge.cli.context import CliContext

if TYPE_CHECKING:
    from crm_bridge.reports.period import Period

__all__ = ["report"]

_FORMATS = ("table", "csv", "json", "html")


def _period(period: str | None, day_from: str | None, day_to: str | None,
            default_half: bool = False, today: datetime | None = None) -> Period:
    from crm_bridge.errors import InputError
    from crm_bridge.reports import last_complete_half, parse_day, parse_period, period_between

    if period is not None:
        if day_from or day_to:
            raise InputError("--period", "give either --period or --from and --to, not both")
        return parse_period(period, "--period")
    if day_from and day_to:
        return period_between(parse_day(day_from, "--from"), parse_day(day_to, "--to"))
    if day_from or day_to:
        missing = "--to" if day_from else "--from"
        raise InputError(missing, "give both --from and --to (YYYY-MM-DD), or --period")
    if default_half and today is not None:
        return last_complete_half(today.date())
    raise InputError("--period", "say which period: --period 2026H1 (or 2026Q3, 2026-10, "
                                 "2026), or --from YYYY-MM-DD --to YYYY-MM-DD")


_period_options = [
    click.option("--period", metavar="PERIOD",
                 help="2026H1 (a half-year), 2026Q3, 2026-10 (a month) or 2026."),
    click.option("--from", "day_from", metavar="DATE", help="First day received (YYYY-MM-DD)."),
    click.option("--to", "day_to", metavar="DATE", help="Last day received, inclusive."),
]


@click.group(invoke_without_command=True)
@_period_options[0]
@_period_options[1]
@_period_options[2]
@click.option("--by", "by", metavar="LIST", default="",
              help="Group by ward, member, role, category, service, area, month or channel; "
                   "several with commas (ward,category).")
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="table",
              show_default=True, help="How to print the figures.")
@click.pass_context
def report(ctx: click.Context, period: str | None, day_from: str | None, day_to: str | None,
           by: str, fmt: str) -> None:
    """Enquiry volumes and response performance for a period, grouped as asked.

    Counts enquiries received in the period: open and closed at its end, answered within
    the target (working days, extensions included), median and 90th percentile working
    days to answer, overdue now, and the change from the previous period of the same
    length. `report scrutiny` writes the Scrutiny Committee's report.
    """
    if ctx.invoked_subcommand is not None:
        if period or day_from or day_to or by or fmt != "table":
            from crm_bridge.errors import InputError

            raise InputError(ctx.invoked_subcommand,
                             "put its options after the word "
                             f"'{ctx.invoked_subcommand}'")
        return
    from crm_bridge.reports import build_report, parse_by
    from crm_bridge.reports.render import as_csv, as_html, as_json, as_table

    chosen = _period(period, day_from, day_to)
    dims = parse_by(by, "--by")
    obj: CliContext = ctx.obj
    bridge = obj.bridge()
    with bridge.engine.connect() as conn:
        result = build_report(conn, bridge.config, chosen, dims)
    if fmt == "json":
        text = as_json(result)
    elif fmt == "csv":
        text = as_csv(result)
    elif fmt == "html":
        text = as_html(result, bridge.config.council.name)
    else:
        text = as_table(result)
    click.echo(text, nl=False)


@report.command()
@_period_options[0]
@_period_options[1]
@_period_options[2]
@click.option("--out", "out", required=True, metavar="DIR",
              type=click.Path(file_okay=False, path_type=Path),
              help="Folder to write the report into (made if missing).")
@click.pass_obj
def scrutiny(ctx: CliContext, period: str | None, day_from: str | None, day_to: str | None,
             out: Path) -> None:
    """Write the Scrutiny Committee's report: HTML fit to print, its CSV tables, a PDF.

    Without a period, the last complete half-year. No personal data is in it, and counts
    below reports.suppress_below are shown as '<N'.
    """
    from crm_bridge.reports.scrutiny import build_scrutiny

    now = datetime.now(UTC)
    bridge = ctx.bridge()
    today = bridge.router.calendar.local_date(now)
    chosen = _period(period, day_from, day_to, default_half=True,
                     today=datetime.combine(today, datetime.min.time()))
    result = build_scrutiny(bridge.engine, bridge.config, chosen, out, now)
    click.echo(f"scrutiny report for {result.period.label}: {result.html}")
    for path in result.csv_files:
        click.echo(f"  table: {path}")
    if result.pdf is not None:
        click.echo(f"  PDF: {result.pdf}")
    else:
        click.echo(f"  no PDF made: {result.pdf_reason}")
