"""The console's server-drawn charts: every day's bar drawn to one scale, whatever the figures are."""

from __future__ import annotations

import re
from datetime import date, timedelta

from mallbridge_publisher.console.charts import DayValue, Threshold, daily_chart

DAYS = [date(2026, 11, 1) + timedelta(days=n) for n in range(3)]


def bars(svg: str) -> list[float]:
    return [float(h) for h in re.findall(r'<rect class="(?:ok|bad)"[^>]* height="([0-9.]+)"', svg)]


def test_a_chart_whose_every_day_is_zero_percent_is_drawn() -> None:
    """Every shipped order of every day without tracking: a tracking rate of 0 % each day (no threshold,
    no floor) once divided by a scale of 0 and took the tenants page down."""
    svg = daily_chart("Tracking rate per day", [DayValue(d, 0.0, 0, 4) for d in DAYS])
    assert bars(svg) == [1.0, 1.0, 1.0]  # the thinnest bar, on a 1 % scale
    assert ">1 %<" in svg


def test_bars_grow_with_their_figure_and_a_breach_is_marked() -> None:
    limit = Threshold(0.015, "max", "MALL's limit")
    values = [DayValue(DAYS[0], 0.0, 0, 10), DayValue(DAYS[1], 0.01, 1, 100), DayValue(DAYS[2], 0.02, 2, 100)]
    svg = daily_chart("Cancel rate per day", values, threshold=limit, floor=0.05)
    low, mid, high = bars(svg)
    assert low < mid < high
    assert svg.count('class="bad"') == 1  # 2 % is over the 1.5 % limit
