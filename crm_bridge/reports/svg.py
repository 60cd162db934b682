"""Charts as inline SVG (no script, no fonts or images fetched), for a report that prints.

Each chart takes its values already suppressed: a bar whose value is None is drawn empty
with its text (say '<5') beside it, so a small count is never shown by a bar's length.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

__all__ = ["bar_chart", "line_chart"]

_BAR = "#1d70b8"
_PREVIOUS = "#b1b4b6"
_TEXT = "#0b0c0c"
_FONT = 'font-family="Arial, Helvetica, sans-serif" font-size="11"'


def bar_chart(title: str, bars: Sequence[tuple[str, float | None, str]],
              scale_max: float | None = None, width: int = 640) -> str:
    """Horizontal bars: ``(label, value or None, text shown at the bar's end)``."""
    label_width, row, top = 220, 18, 8
    height = top + row * max(1, len(bars)) + 8
    largest = scale_max or max((v for _, v, _ in bars if v), default=1) or 1
    room = width - label_width - 70
    parts = [f'<svg role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" {_FONT}>'
             f"<title>{escape(title)}</title>"]
    for index, (name, value, text) in enumerate(bars):
        y = top + index * row
        shown = name if len(name) <= 34 else name[:33] + "…"
        parts.append(f'<text x="{label_width - 6}" y="{y + 12}" text-anchor="end" '
                     f'fill="{_TEXT}">{escape(shown)}</text>')
        length = 0.0 if value is None else room * value / largest
        if length > 0:
            parts.append(f'<rect x="{label_width}" y="{y + 2}" width="{length:.1f}" '
                         f'height="{row - 5}" fill="{_BAR}"/>')
        parts.append(f'<text x="{label_width + length + 4:.1f}" y="{y + 12}" '
                     f'fill="{_TEXT}">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def line_chart(title: str, points: Sequence[tuple[str, float | None, str]],
               previous: Sequence[float | None] = (), width: int = 640,
               height: int = 220) -> str:
    """A line over ``points`` (``(label, value or None, text)``, one per month); a value of
    None (suppressed) breaks the line there. ``previous`` draws the same months a period
    earlier in grey."""
    left, right, top, bottom = 40, 20, 16, 36
    values = [v for _, v, _ in points if v is not None] + [v for v in previous if v is not None]
    largest = max(values, default=1) or 1
    step = (width - left - right) / max(1, len(points) - 1)

    def xy(index: int, value: float) -> tuple[float, float]:
        return (left + step * index,
                top + (height - top - bottom) * (1 - value / largest))

    parts = [f'<svg role="img" width="{width}" '
             f'height="{height}" viewBox="0 0 {width} {height}" {_FONT}>'
             f"<title>{escape(title)}</title>",
             f'<line x1="{left}" y1="{height - bottom}" x2="{width - right}" '
             f'y2="{height - bottom}" stroke="{_TEXT}"/>',
             f'<text x="{left - 4}" y="{top + 4}" text-anchor="end">{largest:g}</text>',
             f'<text x="{left - 4}" y="{height - bottom}" text-anchor="end">0</text>']
    for series, colour in ((list(previous), _PREVIOUS), ([v for _, v, _ in points], _BAR)):
        segment: list[str] = []
        for index, value in enumerate(series):
            if value is None:
                if len(segment) > 1:
                    parts.append(_polyline(segment, colour))
                segment = []
                continue
            x, y = xy(index, value)
            segment.append(f"{x:.1f},{y:.1f}")
            if colour == _BAR:
                parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{colour}"/>')
        if len(segment) > 1:
            parts.append(_polyline(segment, colour))
    for index, (name, value, text) in enumerate(points):
        x, _ = xy(index, 0)
        parts.append(f'<text x="{x:.1f}" y="{height - bottom + 14}" '
                     f'text-anchor="middle">{escape(name)}</text>')
        y = xy(index, value)[1] - 6 if value is not None else height - bottom - 6
        parts.append(f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="middle">{escape(text)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _polyline(points: list[str], colour: str) -> str:
    return (f'<polyline points="{" ".join(points)}" fill="none" stroke="{colour}" '
            'stroke-width="2"/>')
