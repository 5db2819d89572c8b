"""The one retry-delay policy: exponential, capped, jittered, reset after success."""

from __future__ import annotations

import random

import pytest

from mallbridge_core.backoff import Backoff


def test_delays_double_up_to_the_cap_and_stay_within_the_jitter_band() -> None:
    backoff = Backoff(base_s=0.1, cap_s=1.0, jitter=0.5, _random=random.Random(7))
    ceilings = []
    for _ in range(8):
        ceiling = backoff.ceiling()
        delay = backoff.next_delay()
        assert ceiling / 2 <= delay <= ceiling
        ceilings.append(ceiling)
    assert ceilings == [0.1, 0.2, 0.4, 0.8, 1.0, 1.0, 1.0, 1.0]


def test_reset_starts_over_after_a_success() -> None:
    backoff = Backoff(base_s=0.5, cap_s=8.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(3)] == [0.5, 1.0, 2.0]
    backoff.reset()
    assert backoff.next_delay() == 0.5


def test_no_jitter_gives_the_exact_ceiling() -> None:
    backoff = Backoff(base_s=1.0, cap_s=3.0, jitter=0.0)
    assert [backoff.next_delay() for _ in range(4)] == [1.0, 2.0, 3.0, 3.0]


@pytest.mark.parametrize(("base", "cap", "jitter"), [(0, 1, 0.5), (2, 1, 0.5), (1, 2, 1.5)])
def test_impossible_policies_are_refused(base: float, cap: float, jitter: float) -> None:
    with pytest.raises(ValueError, match="backoff"):
        Backoff(base_s=base, cap_s=cap, jitter=jitter)
