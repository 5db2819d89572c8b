"""A benchmark goal as `make bench` prints it: the figure, its baseline from the same run, the ratio, a verdict.

A stage (`tests/bench/<name>_bench.py`, an `async def run(bootstrap[, tmpdir])` returning a JSON-able
dict) reports its goals under the key `"goals"`: a list of `goal(...)` dicts. The harness prints every
stage's goals at the end of the run, one line each, so any stage that follows this shape shows up there.

    {"goal": "import, default workers vs a raw producer", "figure": 41000, "baseline": 52000,
     "unit": "records/s", "ratio": 0.79, "target": ">= 0.8", "verdict": "NOT MET"}

`ratio` is figure ÷ baseline; the target applies to the ratio, or to the figure itself when there is
no baseline (an absolute goal such as events/s). A goal that could not be measured has `figure: null`
and the verdict `NOT MEASURED`.

An *aim* (`aim=True`, `"kind": "aim"`) is a stricter target of our own beside the goals, e.g. the publisher
against raw PUTs on its own lean transport: judged and printed the same way, its verdict marked `(aim)` so
that a missed aim does not read as a missed goal.
"""

from __future__ import annotations

import math
from typing import Any

MET, NOT_MET, NOT_MEASURED = "MET", "NOT MET", "NOT MEASURED"


def goal(
    name: str,
    figure: float | None,
    baseline: float | None = None,
    *,
    at_least: float | None = None,
    at_most: float | None = None,
    unit: str = "",
    note: str | None = None,
    unmet_because: str | None = None,
    aim: bool = False,
) -> dict[str, Any]:
    """One goal: `at_least`/`at_most` bound the ratio (figure ÷ baseline), or the figure without a baseline.
    `unmet_because` says why the goal is not met whatever the figure (e.g. the stated load was not reached);
    `aim` marks a stricter target of our own, not one of the goals."""
    if (at_least is None) == (at_most is None):
        raise ValueError("a goal needs exactly one of at_least, at_most")
    if figure is not None and math.isnan(figure):
        figure = None  # not measured (JSON has no NaN)
    ratio = None
    if figure is not None and baseline:
        ratio = figure / baseline
    judged = ratio if baseline is not None else figure
    if judged is None or math.isnan(judged):
        verdict = NOT_MEASURED
    elif at_least is not None:
        verdict = MET if judged >= at_least else NOT_MET
    else:
        assert at_most is not None
        verdict = MET if judged <= at_most else NOT_MET
    if unmet_because and verdict == MET:
        verdict = NOT_MET
    if unmet_because:
        note = f"{unmet_because}; {note}" if note else unmet_because
    result: dict[str, Any] = {
        "goal": name,
        "figure": _round(figure),
        "baseline": _round(baseline),
        "unit": unit,
        "ratio": None if ratio is None else round(ratio, 3),
        "target": f">= {at_least}" if at_least is not None else f"<= {at_most}",
        "verdict": verdict,
    }
    if aim:
        result["kind"] = "aim"
    if note:
        result["note"] = note
    return result


def _round(value: float | None) -> float | None:
    if value is None or math.isnan(value):
        return None
    return round(value, 1) if abs(value) < 1000 else round(value)


def verdict_line(stage: str, g: dict[str, Any]) -> str:
    """`MET      stage  goal: figure unit vs baseline (ratio; target)` for the summary at the end of a run."""
    figure = "-" if g.get("figure") is None else f"{g['figure']:,}"
    unit = f" {g['unit']}" if g.get("unit") else ""
    if g.get("baseline") is not None:
        measured = f"{figure}{unit} vs {g['baseline']:,}{unit}: ratio {g.get('ratio')} (goal {g['target']})"
    else:
        measured = f"{figure}{unit} (goal {g['target']})"
    note = f"  [{g['note']}]" if g.get("note") else ""
    verdict = g.get("verdict", "?") + (" (aim)" if g.get("kind") == "aim" else "")
    return f"{verdict:<14} {stage:<10} {g.get('goal', '?')}: {measured}{note}"
