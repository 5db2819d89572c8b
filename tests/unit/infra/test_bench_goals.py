"""`make bench`'s goal verdicts: the ratio or the figure against the target, and an aim told from a goal."""

from __future__ import annotations

import pytest

from tests.bench.goals import MET, NOT_MEASURED, NOT_MET, goal, verdict_line


def test_a_ratio_goal_is_judged_on_figure_over_baseline() -> None:
    met = goal("import vs raw", 80.0, 100.0, at_least=0.8, unit="records/s")
    missed = goal("import vs raw", 79.0, 100.0, at_least=0.8, unit="records/s")

    assert (met["ratio"], met["verdict"]) == (0.8, MET)
    assert (missed["ratio"], missed["verdict"]) == (0.79, NOT_MET)


def test_an_absolute_goal_is_judged_on_the_figure() -> None:
    assert goal("verify", 100_000, at_least=100_000, unit="events/s")["verdict"] == MET
    assert goal("verify", 99_999, at_least=100_000, unit="events/s")["verdict"] == NOT_MET
    assert goal("p99", 2.1, 1.0, at_most=2.0)["verdict"] == NOT_MET


def test_a_goal_not_measured_says_so() -> None:
    assert goal("e2e", None, 10.0, at_most=2.0)["verdict"] == NOT_MEASURED
    assert goal("e2e", float("nan"), 10.0, at_most=2.0)["figure"] is None


def test_a_stated_reason_makes_a_goal_unmet_whatever_the_figure() -> None:
    judged = goal("keeps up", 1.0, 1.0, at_least=0.95, unmet_because="the load generator reached 180/s")

    assert judged["verdict"] == NOT_MET
    assert judged["note"] == "the load generator reached 180/s"


def test_a_goal_needs_exactly_one_bound() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        goal("x", 1.0)
    with pytest.raises(ValueError, match="exactly one"):
        goal("x", 1.0, at_least=1.0, at_most=2.0)


def test_an_aim_is_marked_in_its_verdict_line_and_a_goal_is_not() -> None:
    aim = goal("publisher vs its own transport", 1_795, 3_789, at_least=0.8, unit="PUT/s", aim=True)
    plain = goal("publisher vs httpx", 1_795, 1_285, at_least=0.8, unit="PUT/s")

    assert aim["verdict"] == NOT_MET
    assert aim["kind"] == "aim"
    assert "kind" not in plain
    assert verdict_line("publisher", aim).startswith("NOT MET (aim)  publisher ")
    assert verdict_line("publisher", plain).startswith("MET            publisher ")
    assert "1,795 PUT/s vs 3,789 PUT/s: ratio 0.474 (goal >= 0.8)" in verdict_line("publisher", aim)
