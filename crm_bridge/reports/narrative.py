"""The scrutiny report's summary in plain English: the totals, then the largest changes.

A group is mentioned only when neither of its counts (this period and the previous one) is
hidden in the tables (``render.suppression``), so the text never reveals what they hide.
"""

from __future__ import annotations

from crm_bridge.reports.engine import Report, ReportRow
from crm_bridge.reports.render import suppression
from crm_bridge.reports.repeats import Repeats

__all__ = ["summary"]


def _count(value: int, threshold: int) -> str:
    return f"fewer than {threshold}" if 0 < value < threshold else f"{value:,}"


def _change(row: ReportRow) -> str:
    if row.change == 0:
        return "the same number as"
    way = "more" if row.change > 0 else "fewer"
    percent = f" ({abs(row.change_percent):g}%)" if row.change_percent is not None else ""
    return f"{abs(row.change):,}{percent} {way} than"


def summary(reports: dict[str, Report], repeats: Repeats, threshold: int) -> list[str]:
    """Three or four short paragraphs for the summary section."""
    total = reports["summary"]
    figures, before = total.total.figures, total.total.previous
    lines = []
    opening = (f"Members raised {_count(figures.received, threshold)} enquiries in "
               f"{total.period.label}")
    if figures.received >= threshold and before.received >= threshold:
        opening += f", {_change(total.total)} in {total.previous_period.label}"
    lines.append(opening + ".")
    percent = figures.within_target_percent
    if figures.due >= threshold and percent is not None:
        text = (f"Services answered {percent:g}% of the enquiries that were due within "
                "their target")
        previous = before.within_target_percent
        if before.due >= threshold and previous is not None:
            text += f" ({previous:g}% in {total.previous_period.label})"
        if figures.responded >= threshold:
            text += (f"; half of the answers came within {figures.median_days} working days "
                     f"and nine in ten within {figures.p90_days}")
        overdue = figures.overdue_now
        lines.append(text + ". " + ("None is overdue now." if not overdue else
                                    f"{_count(overdue, threshold).capitalize()} "
                                    f"{'is' if overdue == 1 else 'are'} overdue now."))
    changes = _largest_changes(reports, threshold)
    if changes:
        lines.append("The largest changes: " + "; ".join(changes) + ".")
    if repeats.hot_spots:
        top = repeats.hot_spots[0]
        lines.append(f"{len(repeats.hot_spots)} places had the same kind of problem raised "
                     f"{max(2, threshold)} or more times; the most, {top.count}, were about "
                     f"{top.category.lower()} in {top.place} ({top.ward}).")
    return lines


def _largest_changes(reports: dict[str, Report], threshold: int,
                     how_many: int = 4) -> list[str]:
    found: list[tuple[int, str]] = []
    for name in ("category", "ward", "role", "service"):
        report = reports[name]
        for row, hidden in zip(report.rows, suppression(report, threshold), strict=False):
            now, then = row.figures.received, row.previous.received
            if hidden & {"received", "previous_received", "change_percent"} or now == then:
                continue
            way = "up" if now > then else "down"
            percent = f" ({abs(row.change_percent):g}%)" if row.change_percent else ""
            found.append((abs(row.change),
                          f"{row.labels[0]} {way} from {then:,} to {now:,}{percent}"))
    found.sort(key=lambda item: -item[0])
    return [text for _, text in found[:how_many]]
