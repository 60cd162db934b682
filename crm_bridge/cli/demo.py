"""`demo`: a ready-made council with 18 months of enquiries, to try the bridge on.

Needs no --config: it makes its own folder like `init` does and fills it by
simulating members, the evening sync and service officers day by day.
"""

from __future__ import annotations

import shlex
from datetime import date
from pathlib import Path

import click

from crm_bridge.cli.output import emit_json, table
from crm_bridge.demo import DemoResult, run_demo

__all__ = ["demo"]


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
              default=Path("demo-council"), show_default=True,
              help="Folder for the demo council (made afresh on every run).")
@click.option("--enquiries", type=click.IntRange(1, 10_000), default=600, show_default=True,
              help="How many enquiries members log over the period.")
@click.option("--months", type=click.IntRange(1, 60), default=18, show_default=True,
              help="How many months up to today to simulate.")
@click.option("--seed", type=int, default=2026, show_default=True,
              help="Same seed (on the same day), same demo.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
def demo(directory: Path, enquiries: int, months: int, seed: int, as_json: bool) -> None:
    """Make a demo council and simulate its members' enquiries up to today.

    Members log enquiries, the sync sends them to the embedded CRM each
    evening, and service officers answer them (most on time, some late, a few
    not yet), so every command has something to show.
    """
    if not as_json:
        click.echo(f"Simulating {months} months of members' enquiries in {directory}/ ...",
                   err=True)
    result = run_demo(directory, enquiries=enquiries, months=months, seed=seed)
    if as_json:
        emit_json(result.as_dict())
        return
    _print(result)


def _day(value: date) -> str:
    return f"{value.day} {value:%b %Y}"


def _percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "-"


def _linked_lines(result: DemoResult) -> list[str]:
    links = result.links
    if not links.checked:
        return []
    missed = links.checked - links.pairs
    lines = [f"  {links.pairs} of them found by the duplicate check and linked by members' "
             "services",
             f"    before the second was sent: {links.one_case} pairs on one CRM case each "
             f"({links.cases} cases)"]
    if missed:
        lines.append(f"    {missed} not found by the check, left unlinked (a case each)")
    return lines


def _print(result: DemoResult) -> None:
    f = result.figures
    config = shlex.quote(str(result.config_path))
    click.echo(
        f"\n{result.council}: {result.months} months simulated, "
        f"{_day(result.first_day)} to {_day(result.last_day)}\n"
        f"(seed {result.seed}, {result.syncs} sync runs, {result.seconds:.1f} seconds)\n"
    )
    lines = [
        "What happened",
        f"  {f.logged} enquiries logged by members"
        + (f" ({result.repeats} about a problem already raised with a ward colleague)"
           if result.repeats else ""),
        *_linked_lines(result),
        f"  {f.sent} sent to the council's CRM"
        + (": every enquiry has a CRM case" if f.sent == f.logged else
           f"; {f.logged - f.sent} not sent yet ({f.failed_to_send} refused by the CRM)"),
        f"  {f.answered} answered by the service: {f.answered_on_time} on time "
        f"({_percent(f.answered_on_time, f.answered)}), {f.answered_late} late",
        f"  {f.closed} closed; {f.awaiting_close} answered and not closed yet",
        f"  {f.still_open} still waiting for an answer; {f.overdue} of them are overdue now "
        "(past the target date)",
        f"  {sum(f.emails.values())} e-mails written to {result.config_path.parent / 'mail'}/"
        + (": " + ", ".join(f"{number} {kind.replace('_', ' ')}"
                            for kind, number in f.emails.items()) if f.emails else ""),
        "",
        "By service",
    ]
    click.echo("\n".join(lines))
    table(["service", "enquiries", "answered", "on time", "avg working days to answer"],
          [[s.name, s.enquiries, s.answered,
            "-" if s.on_time_percent is None else f"{s.on_time_percent}%",
            "-" if s.average_days is None else f"{s.average_days:.1f}"]
           for s in f.by_service])
    if result.example is not None:
        click.echo(f"\nOne enquiry from start to finish ({result.example.reference}):\n")
        click.echo("\n".join(f"  {line}" if line else "" for line in result.example_lines))
    click.echo("\nTry next:")
    commands = [
        f"crm-bridge --config {config} enquiry list --overdue",
        f"crm-bridge --config {config} officer queue",
        f"crm-bridge --config {config} sync",
    ]
    if result.example is not None:
        commands.insert(1, f"crm-bridge --config {config} enquiry show "
                        f"{result.example.reference}")
    click.echo("\n".join(f"  {command}" for command in commands))
    click.echo(f"\nPortal accounts (username / password), for "
               f"`crm-bridge --config {config} serve`:")
    width = max(len(a.username) for a in result.accounts) if result.accounts else 0
    click.echo("\n".join(f"  {a.username:<{width}} / {a.password:<14}  {a.who}"
                          for a in result.accounts))
    scrutiny = result.scrutiny
    if scrutiny.pdf is None:
        click.echo(f"\nNo PDF of the scrutiny report: {scrutiny.pdf_reason}.")
    click.echo(f"\nScrutiny report for {scrutiny.period.label} (HTML, fit to print; "
               f"CSV tables and {'a PDF ' if scrutiny.pdf else ''}beside it):\n"
               f"{scrutiny.html}")
