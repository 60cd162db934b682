"""The six-monthly report to the Scrutiny Committee on enquiries raised through members.

``build_scrutiny`` writes, into the folder given: ``scrutiny-<period>.html`` (one file,
nothing fetched: an A4 print stylesheet, charts as inline SVG, a plain-English summary of
the largest changes, every table), the CSV tables it was built from
(``scrutiny-<period>-<table>.csv``), and ``scrutiny-<period>.pdf`` when WeasyPrint (the
``pdf`` extra, which needs the system's Pango) can make one. Each file is written under a
temporary name and renamed, so a file of that name is always whole.

No personal data: only counts by ward, role, category, service and month, and hot spots
named by street at most. Any count from 1 to ``reports.suppress_below`` - 1 is shown as
'<N' (in the tables, the CSV files, the charts and the summary), and a percentage or a
number of days worked out from so few enquiries as '-'. Members are not named: a member's
own figures are for the portal.
"""

from __future__ import annotations

import html
import logging
import os
import warnings
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import Engine

from crm_bridge.config.schema import CouncilConfig
from crm_bridge.reports.engine import Report, build_reports
from crm_bridge.reports.narrative import summary
from crm_bridge.reports.period import Period
from crm_bridge.reports.render import as_csv, html_table, suppression
from crm_bridge.reports.repeats import Repeats, repeat_issues
from crm_bridge.reports.svg import bar_chart, line_chart

__all__ = ["ScrutinyResult", "build_scrutiny"]

_TABLES = (("summary", ()), ("role", ("role",)), ("category", ("category",)),
           ("ward", ("ward",)), ("service", ("service",)), ("month", ("month",)))


@dataclass
class ScrutinyResult:
    period: Period
    html: Path
    csv_files: list[Path] = field(default_factory=list)
    pdf: Path | None = None
    pdf_reason: str = ""  # why no PDF was made


def build_scrutiny(engine: Engine, config: CouncilConfig, period: Period, out_dir: Path,
                   now: datetime | None = None) -> ScrutinyResult:
    """Write the scrutiny report for ``period`` into ``out_dir`` (made if missing)."""
    now = now or datetime.now(UTC)
    threshold = config.reports.suppress_below
    with engine.connect() as conn:
        built = build_reports(conn, config, period, [by for _, by in _TABLES], now)
        reports = {name: report for (name, _), report in zip(_TABLES, built, strict=True)}
        repeats = repeat_issues(conn, config, period, at_least=max(2, threshold))
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = f"scrutiny-{_slug(period.label)}"
    result = ScrutinyResult(period, out_dir / f"{stem}.html")
    for name, report in reports.items():
        path = out_dir / f"{stem}-{name}.csv"
        _write(path, as_csv(report, threshold))
        result.csv_files.append(path)
    spots = out_dir / f"{stem}-hotspots.csv"
    _write(spots, _hot_spots_csv(repeats))
    result.csv_files.append(spots)
    page = _page(config, period, reports, repeats, threshold, [p.name for p in
                                                               result.csv_files])
    _write(result.html, page)
    result.pdf, result.pdf_reason = _pdf(page, out_dir / f"{stem}.pdf")
    return result


def _slug(label: str) -> str:
    return label.replace(" to ", "_").replace(" ", "")


def _write(path: Path, text: str | bytes) -> None:
    partial = path.with_name(f".{path.name}.partial")
    data = text.encode("utf-8") if isinstance(text, str) else text
    partial.write_bytes(data)
    os.replace(partial, path)


def _hot_spots_csv(repeats: Repeats) -> str:
    lines = ["Place,Ward,Category,Enquiries"]
    for spot in repeats.hot_spots:
        cells = (spot.place, spot.ward, spot.category, str(spot.count))
        lines.append(",".join('"' + c.replace('"', '""') + '"' if "," in c or '"' in c
                              else c for c in cells))
    return "\n".join(lines) + "\n"


def _count_text(value: int, threshold: int) -> tuple[float | None, str]:
    if 0 < value < threshold:
        return None, f"<{threshold}"
    return float(value), str(value)


def _bar(value: int, hidden: bool, threshold: int) -> tuple[float | None, str]:
    return (None, f"<{threshold}") if hidden else (float(value), str(value))


def _volume_bars(report: Report, threshold: int) -> list[tuple[str, float | None, str]]:
    hide = suppression(report, threshold)
    rows = sorted(zip(report.rows, hide, strict=False),
                  key=lambda pair: (-pair[0].figures.received, pair[0].labels))
    return [(row.labels[0], *_bar(row.figures.received, "received" in hidden, threshold))
            for row, hidden in rows if row.figures.received]


def _compliance_bars(report: Report, threshold: int) -> list[tuple[str, float | None, str]]:
    bars: list[tuple[str, float | None, str]] = []
    for row, hidden in zip(report.rows, suppression(report, threshold), strict=False):
        percent = row.figures.within_target_percent
        if not row.figures.due:
            continue
        if "within_target_percent" in hidden or percent is None:
            bars.append((row.labels[0], None, "-"))
        else:
            bars.append((row.labels[0], percent, f"{percent:g}%"))
    return bars


def _months(report: Report, threshold: int) -> tuple[list[tuple[str, float | None, str]],
                                                     list[float | None]]:
    """This period's months, and the previous period's month by month beside them."""
    hide = suppression(report, threshold)
    current = {row.key[0]: (row, hidden) for row, hidden in zip(report.rows, hide,
                                                                strict=False)}
    points: list[tuple[str, float | None, str]] = []
    before: list[float | None] = []
    month = report.period.first.replace(day=1)
    while month <= report.period.last:
        row, hidden = current.get(f"{month:%Y-%m}", (None, set()))
        value = row.figures.received if row else 0
        points.append((f"{month:%b %y}", *_bar(value, "received" in hidden, threshold)))
        before.append(None if "previous_received" in hidden else
                      float(row.previous.received) if row else 0.0)
        month = _next_month(month)
    return points, before


def _next_month(day: date) -> date:
    return (day.replace(day=28) + timedelta(days=4)).replace(day=1)


_CSS = """
body{font-family:Arial,Helvetica,sans-serif;color:#0b0c0c;margin:2em auto;max-width:60em;
 line-height:1.4}
h1{font-size:1.6em}h2{font-size:1.25em;margin-top:1.6em;border-bottom:2px solid #1d70b8}
table{border-collapse:collapse;margin:0.6em 0 1.2em;font-size:0.8em}
caption{text-align:left;font-weight:bold;padding:0.3em 0}
th,td{border:1px solid #b1b4b6;padding:3px 6px;text-align:right;vertical-align:top}
thead th,th[scope=row]{text-align:left}thead th{background:#f3f2f1}
figure{margin:1em 0}figcaption{font-weight:bold;margin-bottom:0.3em}
svg{max-width:100%;height:auto}.note{font-size:0.85em;color:#505a5f}
@page{size:A4;margin:18mm 15mm}
@media print{body{margin:0;max-width:none;font-size:10pt}
 .page{break-before:page;page-break-before:always}
 figure,table,tr{break-inside:avoid;page-break-inside:avoid}h2{break-after:avoid}}
"""


def _page(config: CouncilConfig, period: Period, reports: dict[str, Report],
          repeats: Repeats, threshold: int, csv_names: list[str]) -> str:
    council = html.escape(config.council.name)
    title = (f"Enquiries raised through elected members: {period.label} "
             f"({period.first:%-d %B %Y} to {period.last:%-d %B %Y})")
    total = reports["summary"]
    month_points, month_before = _months(reports["month"], threshold)
    charts = [
        ("Enquiries by category", bar_chart("Enquiries received by category",
                                            _volume_bars(reports["category"], threshold))),
        ("Enquiries by ward", bar_chart("Enquiries received by ward",
                                        _volume_bars(reports["ward"], threshold))),
        (f"Enquiries by month ({period.label}; grey: {total.previous_period.label})",
         line_chart("Enquiries received each month", month_points, month_before)),
        ("Answered within target, by service (% of those due)",
         bar_chart("Answered within target by service",
                   _compliance_bars(reports["service"], threshold), scale_max=100)),
    ]
    parts = [f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
             f"<title>{council}: {html.escape(title)}</title><style>{_CSS}</style></head><body>",
             f"<p>{council}: report to the Scrutiny Committee</p><h1>{html.escape(title)}</h1>",
             "<h2>Summary</h2>",
             "".join(f"<p>{html.escape(line)}</p>" for line in summary(
                 reports, repeats, threshold)),
             html_table(total, threshold, caption="All enquiries"),
             html_table(reports["role"], threshold, caption="By member role"),
             '<h2 class="page">Charts</h2>']
    for caption, svg in charts:
        parts.append(f"<figure><figcaption>{html.escape(caption)}</figcaption>{svg}</figure>")
    parts.append('<h2 class="page">Tables</h2>')
    for name, caption in (("category", "By category"), ("ward", "By ward"),
                          ("service", "By service"), ("month", "By month")):
        parts.append(html_table(reports[name], threshold, caption=caption))
    parts.append(_hot_spots_html(repeats, threshold))
    parts.append(_notes(config, period, total, threshold, csv_names))
    parts.append("</body></html>\n")
    return "".join(parts)


def _hot_spots_html(repeats: Repeats, threshold: int) -> str:
    at_least = max(2, threshold)
    head = ('<h2>Repeat issues and hot spots</h2><p>'
            f"{_count_text(repeats.linked, threshold)[1]} enquiries were linked by members' "
            "services as the same issue as another. Places where one kind of problem was "
            f"raised {at_least} or more times (a street at most; only enquiries whose "
            f"details are still held, {repeats.places_held} of {repeats.received}):</p>")
    if not repeats.hot_spots:
        return head + "<p>None.</p>"
    rows = "".join(f'<tr><th scope="row">{html.escape(s.place)}</th>'
                   f"<td>{html.escape(s.ward)}</td><td>{html.escape(s.category)}</td>"
                   f"<td>{s.count}</td></tr>" for s in repeats.hot_spots)
    return (head + '<table><thead><tr><th scope="col">Place</th><th scope="col">Ward</th>'
            '<th scope="col">Category</th><th scope="col">Enquiries</th></tr></thead>'
            f"<tbody>{rows}</tbody></table>")


def _notes(config: CouncilConfig, period: Period, total: Report, threshold: int,
           csv_names: list[str]) -> str:
    return (
        '<h2 class="page">About these figures</h2><ul class="note">'
        f"<li>Enquiries received from {period.first:%-d %B %Y} to {period.last:%-d %B %Y}, "
        f"compared with {total.previous_period.label}. Open and closed are as at the end of "
        f"the period; due, within target and overdue as at {total.as_at:%-d %B %Y}.</li>"
        "<li>Targets are in working days after the day of receipt (weekends, bank holidays "
        f"({html.escape(config.calendar.bank_holidays)}) and the council's closure days do "
        "not count); an extension agreed by the member moves the target. Median and 90th "
        "percentile: half, and nine in ten, of the answers came within that many working "
        "days.</li>"
        f"<li>To protect constituents' privacy, a count below {threshold} is shown as "
        f"'&lt;{threshold}', and a percentage or number of days from fewer than {threshold} "
        "enquiries as '-'. The report holds no names, addresses or descriptions.</li>"
        f"<li>The tables are also in these CSV files: {html.escape(', '.join(csv_names))}."
        "</li></ul>")


class _NoSubsetterNotice(logging.Filter):
    """Drops WeasyPrint's notice that it subsets fonts with fontTools because the system has
    no HarfBuzz-Subset library (Debian: libharfbuzz-subset0): the PDF is the same, so it is
    not a warning to a user."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "instead of HarfBuzz-Subset" not in str(record.msg)


def _pdf(page: str, path: Path) -> tuple[Path | None, str]:
    """The page as a PDF through WeasyPrint, or None and why not."""
    try:
        with warnings.catch_warnings():  # its notice that HarfBuzz-Subset will be needed
            warnings.filterwarnings("ignore", "HarfBuzz-Subset", DeprecationWarning)
            from weasyprint import HTML
    except ImportError:
        return None, ("WeasyPrint is not installed (pip install 'crm-bridge[pdf]'); print "
                      "the HTML file to PDF from a browser instead")
    except OSError as exc:  # the Pango library it loads is missing
        return None, (f"WeasyPrint cannot load the system's Pango library ({exc}); install "
                      "it (Debian: apt install libpango-1.0-0 libpangoft2-1.0-0) or print "
                      "the HTML file from a browser")
    quiet = _NoSubsetterNotice()
    weasyprint_log = logging.getLogger("weasyprint")
    weasyprint_log.addFilter(quiet)
    try:
        _write(path, HTML(string=page).write_pdf())
    finally:
        weasyprint_log.removeFilter(quiet)
    return path, ""
