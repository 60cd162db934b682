"""A report as a text table, CSV, JSON or a self-contained HTML page.

``suppress_below`` (the scrutiny report passes ``reports.suppress_below``) shows a count
from 1 to N-1 as '<N', and a percentage, median, 90th percentile or change worked out from
fewer than N enquiries as '-', so no constituent can be picked out of a small group (and
the figures that would give a hidden one away: ``suppression``).
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from crm_bridge.reports.engine import Report, ReportRow

__all__ = ["COLUMNS", "as_csv", "as_html", "as_json", "as_table", "headers", "html_table",
           "suppression"]

COLUMNS: tuple[tuple[str, str], ...] = (
    ("received", "Received"),
    ("previous_received", "Previous period"),
    ("change_percent", "Change %"),
    ("open_at_end", "Open at end"),
    ("closed_at_end", "Closed at end"),
    ("due", "Due"),
    ("within_target", "Within target"),
    ("within_target_percent", "Within target %"),
    ("median_working_days", "Median working days"),
    ("p90_working_days", "90th percentile working days"),
    ("overdue_now", "Overdue now"),
)
_COUNTS = {"received", "previous_received", "open_at_end", "closed_at_end", "due",
           "within_target", "overdue_now"}


def headers(report: Report) -> list[str]:
    return [name.capitalize() for name in report.by] + [title for _, title in COLUMNS]


def _values(row: ReportRow) -> dict[str, Any]:
    return {**row.figures.as_dict(), "previous_received": row.previous.received,
            "change_percent": row.change_percent}


def suppression(report: Report, threshold: int) -> list[set[str]]:
    """For each row (``report.rows``, then the total), the columns to hide.

    A count from 1 to ``threshold`` - 1 is hidden, and so is what would give it away:
    open and closed at the end hide together (they add up to received), within target
    hides when those not within target are that few (due is shown), a percentage, median
    or change from fewer than ``threshold`` enquiries hides. When one row alone hides a
    count, the next smallest count in that column hides too, so the total cannot give it
    away.
    """
    rows = [*report.rows, report.total]
    values = [_values(row) for row in rows]
    hide: list[set[str]] = [set() for _ in rows]

    def small(value: int) -> bool:
        return 0 < value < threshold

    for index, value in enumerate(values):
        hide[index].update(name for name in _COUNTS if small(int(value[name])))
        if small(value["due"] - value["within_target"]):
            hide[index].add("within_target")
    groups = range(len(report.rows))
    for name in sorted(_COUNTS):
        hidden = [i for i in groups if name in hide[i]]
        if len(hidden) == 1:
            others = [i for i in groups if name not in hide[i] and values[i][name]]
            if others:
                hide[min(others, key=lambda i: values[i][name])].add(name)
    for index, value in enumerate(values):
        row_hide = hide[index]
        if row_hide & {"open_at_end", "closed_at_end"}:
            row_hide.update({"open_at_end", "closed_at_end"})
        if "within_target" in row_hide or value["due"] < threshold:
            row_hide.add("within_target_percent")
        if value["responded"] < threshold:
            row_hide.update({"median_working_days", "p90_working_days"})
        if row_hide & {"received", "previous_received"} or (
                value["received"] < threshold or value["previous_received"] < threshold):
            row_hide.add("change_percent")
    return hide


def _cells(row: ReportRow, hidden: set[str], threshold: int | None,
           total_label: str = "All enquiries") -> list[str]:
    values = _values(row)
    out = list(row.labels) if row.labels else [total_label]
    for name, _title in COLUMNS:
        value = values[name]
        if name in hidden:
            out.append(f"<{threshold}" if name in _COUNTS else "-")
        else:
            out.append("-" if value is None else str(value))
    return out


def _rows(report: Report, suppress_below: int | None) -> list[list[str]]:
    count = len(report.rows) + 1
    hide = suppression(report, suppress_below) if suppress_below else [set()] * count
    rows = [_cells(row, hide[i], suppress_below) for i, row in enumerate(report.rows)]
    total = _cells(report.total, hide[-1], suppress_below)
    if not report.by:
        return [total]
    total = ["All enquiries"] + [""] * (len(report.by) - 1) + total[1:]
    return [*rows, total]


def as_table(report: Report, suppress_below: int | None = None) -> str:
    head = headers(report) if report.by else ["", *[t for _, t in COLUMNS]]
    lines = [head, *_rows(report, suppress_below)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    text = [f"Enquiries received {report.period.label} ({report.period.first.isoformat()} "
            f"to {report.period.last.isoformat()}); previous period "
            f"{report.previous_period.label}; overdue and due as at "
            f"{report.as_at.isoformat()}", ""]
    for index, line in enumerate(lines):
        text.append("  ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)).rstrip())
        if index == 0:
            text.append("  ".join("-" * w for w in widths))
    return "\n".join(text) + "\n"


def as_csv(report: Report, suppress_below: int | None = None) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(headers(report) if report.by else ["", *[t for _, t in COLUMNS]])
    writer.writerows(_rows(report, suppress_below))
    return buffer.getvalue()


def as_json(report: Report) -> str:
    return json.dumps(report.as_dict(), indent=2, ensure_ascii=False) + "\n"


def html_table(report: Report, suppress_below: int | None = None,
               caption: str | None = None) -> str:
    """A <table> (no page around it) for the HTML page and the scrutiny report."""
    head = headers(report) if report.by else ["", *[t for _, t in COLUMNS]]
    parts = ["<table>"]
    if caption:
        parts.append(f"<caption>{html.escape(caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f'<th scope="col">{html.escape(h)}</th>'
                                         for h in head) + "</tr></thead><tbody>")
    for line in _rows(report, suppress_below):
        parts.append("<tr>" + "".join(
            (f'<th scope="row">{html.escape(c)}</th>' if i < max(1, len(report.by))
             else f"<td>{html.escape(c)}</td>") for i, c in enumerate(line)) + "</tr>")
    parts.append("</tbody></table>")
    return "".join(parts)


def as_html(report: Report, council: str, suppress_below: int | None = None) -> str:
    title = f"{council}: enquiries received {report.period.label}"
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            f"<title>{html.escape(title)}</title><style>"
            "body{font-family:Arial,sans-serif;margin:2em}"
            "table{border-collapse:collapse}th,td{border:1px solid #b1b4b6;padding:4px 8px;"
            "text-align:right}th[scope=row],thead th{text-align:left}"
            "</style></head><body>"
            f"<h1>{html.escape(title)}</h1>"
            f"<p>Previous period {html.escape(report.previous_period.label)}; overdue and "
            f"due as at {report.as_at.isoformat()}.</p>"
            f"{html_table(report, suppress_below)}</body></html>\n")
