"""The 30-day charts, drawn on the server as inline SVG (no script, no outside asset).

One bar per day: the day's figure over the orders that reached open that day. A day without orders for
the figure has no bar (a grey tick on the baseline), which is not the same as 0 %. MALL's limit or
target is a dashed line (named in the `caption`); a day on the wrong side of it is drawn in the warning
colour. Every bar has a `<title>` (the browser shows it on hover) with the day, the figure and its counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from html import escape
from typing import Literal

WIDTH, HEIGHT = 320, 110
LEFT, RIGHT, TOP, BOTTOM = 34, 6, 8, 18


@dataclass(frozen=True, slots=True)
class DayValue:
    day: date
    value: float | None  # a share, 0..1; None: no orders for this figure that day
    part: int
    whole: int


@dataclass(frozen=True, slots=True)
class Threshold:
    value: float
    kind: Literal["max", "min"]  # "max": above it is a breach; "min": below it is
    label: str

    def breached(self, value: float) -> bool:
        return value > self.value if self.kind == "max" else value < self.value


def _percent(value: float) -> str:
    text = f"{value * 100:.1f}".rstrip("0").rstrip(".")
    return f"{text} %"


def _scale_top(days: Sequence[DayValue], threshold: Threshold | None, floor: float) -> float:
    """The value at the top of the chart: 100 % for most figures; a small figure (the cancel rate) gets
    a scale that shows its limit, rounded up to a whole percent."""
    highest = max([d.value for d in days if d.value is not None] + [floor, threshold.value if threshold else 0.0])
    # At least 1 %: a chart whose every day is 0 % (no shipped order tracked) still has a scale to draw on.
    return max(0.01, min(1.0, math.ceil(highest * 1.25 * 100) / 100)) if highest < 0.5 else 1.0


def _bar(index: int, day: DayValue, *, step: float, top: float, threshold: Threshold | None) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    x = LEFT + index * step + 1
    width = max(step - 2, 1.0)
    label = escape(f"{day.day.isoformat()}: ", quote=True)
    if day.value is None:
        y = HEIGHT - BOTTOM - 2.0
        return (
            f'<rect class="none" x="{x:.1f}" y="{y}" width="{width:.1f}" height="2">'
            f"<title>{label}no orders</title></rect>"
        )
    h = max(plot_h * min(day.value, top) / top, 1.0)
    y = HEIGHT - BOTTOM - h
    css = "bad" if threshold is not None and threshold.breached(day.value) else "ok"
    what = escape(f"{_percent(day.value)} ({day.part} of {day.whole})")
    return (
        f'<rect class="{css}" x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" height="{h:.1f}">'
        f"<title>{label}{what}</title></rect>"
    )


def _threshold_line(threshold: Threshold, top: float) -> str:
    plot_h = HEIGHT - TOP - BOTTOM
    y = HEIGHT - BOTTOM - plot_h * threshold.value / top
    text = escape(f"{threshold.label} {_percent(threshold.value)}")
    return (
        f'<line class="limit" x1="{LEFT}" y1="{y:.1f}" x2="{WIDTH - RIGHT}" y2="{y:.1f}"><title>{text}</title></line>'
    )


def caption(title: str, threshold: Threshold | None) -> str:
    """The line under a chart: its name, and MALL's limit or target (the dashed line)."""
    return title if threshold is None else f"{title} · {threshold.label} {_percent(threshold.value)} (dashed)"


def daily_chart(title: str, days: Sequence[DayValue], *, threshold: Threshold | None = None, floor: float = 0.0) -> str:
    """The chart's SVG markup (every text in it escaped)."""
    top = _scale_top(days, threshold, floor)
    step = (WIDTH - LEFT - RIGHT) / max(len(days), 1)
    base = HEIGHT - BOTTOM
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title, quote=True)}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
        f'<line class="axis" x1="{LEFT}" y1="{base}" x2="{WIDTH - RIGHT}" y2="{base}"/>',
        f'<text class="tick" x="{LEFT - 3}" y="{base}" text-anchor="end">0 %</text>',
        f'<text class="tick" x="{LEFT - 3}" y="{TOP + 8}" text-anchor="end">{escape(_percent(top))}</text>',
    ]
    parts += [_bar(i, day, step=step, top=top, threshold=threshold) for i, day in enumerate(days)]
    if threshold is not None:
        parts.append(_threshold_line(threshold, top))
    if days:
        first, last = days[0].day, days[-1].day
        parts.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 4}">{first:%d.%m.}</text>')
        parts.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 4}" text-anchor="end">{last:%d.%m.}</text>')
    parts.append("</svg>")
    return "".join(parts)
