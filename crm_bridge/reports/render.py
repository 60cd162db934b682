"""A report as a text table, CSV, JSON or a self-contained HTML page.

``suppress_below`` (the scrutiny report passes ``reports.suppress_below``) shows a count
from 1 to N-1 as '<N', and a percentage, median, 90th percentile or change worked out from
fewer than N enquiries as '-', so no constituent can be picked out of a small group.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from crm_bridge.reports.engine import Report, ReportRow

__all__ = ["COLUMNS", "as_csv", "as_html", "as_json", "as_table", "cells", "headers"]

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
_BASE = {"change_percent": "received", "within_target_percent": "due",
         "median_working_days": "responded", "p90_working_days": "responded"}


def headers(report: Report) -> list[str]:
    return [name.capitalize() for name in report.by] + [title for _, title in COLUMNS]


def _values(row: ReportRow) -> dict[str, Any]:
    figures = row.figures
    return {**figures.as_dict(), "previous_received": row.previous.received,
            "change_percent": row.change_percent}


def cells(row: ReportRow, suppress_below: int | None = None,
          total_label: str = "All enquiries") -> list[str]:
    """The row's labels and figures as text, small counts suppressed if asked."""
    values = _values(row)
    out = list(row.labels) if row.labels else [total_label]
    for name, _title in COLUMNS:
        value = values[name]
        if suppress_below:
            if name in _COUNTS and 0 < int(value) < suppress_below:
                out.append(f"<{suppress_below}")
                continue
            base = _BASE.get(name)
            small = base is not None and values[base] < suppress_below
            if name == "change_percent":
                small = small or 0 < row.previous.received < suppress_below
            if small:
                out.append("-")
                continue
        out.append("-" if value is None else str(value))
    return out


def _rows(report: Report, suppress_below: int | None) -> list[list[str]]:
    rows = [cells(row, suppress_below) for row in report.rows]
    total = cells(report.total, suppress_below)
    if report.by:
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
