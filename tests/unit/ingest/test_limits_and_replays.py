"""The token buckets of the push rate limit, and the bounded replay cache."""

from __future__ import annotations

import pytest

from mallbridge_ingest.adapters.rate_limit import PushRateLimits
from mallbridge_ingest.adapters.replay import ReplayCache


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    clock = Clock()
    limits = PushRateLimits({"a": 2.0, "b": 2.0, "off": 0.0}, burst=3, clock=clock)
    for _ in range(3):
        assert limits.retry_after("a") == 0
        limits.charge("a")
    assert limits.retry_after("a") == 1  # 0.5 s to the next token, rounded up to whole seconds
    assert limits.retry_after("b") == 0  # another tenant's bucket is its own
    clock.now += 0.5
    assert limits.retry_after("a") == 0
    for _ in range(100):
        limits.charge("off")
    assert limits.retry_after("off") == 0
    assert limits.describe("off") == "no limit"


def test_concurrent_pushes_past_the_check_leave_the_bucket_in_debt() -> None:
    clock = Clock()
    limits = PushRateLimits({"a": 1.0}, burst=1, clock=clock)
    assert limits.retry_after("a") == 0
    for _ in range(4):  # four passed the check together, then all were charged
        limits.charge("a")
    assert limits.retry_after("a") == 4
    clock.now += 4
    assert limits.retry_after("a") == 0


async def test_replays_are_forgotten_after_the_window_and_beyond_the_bound() -> None:
    cache = ReplayCache(per_tenant=2, window_s=300)
    calls = 0

    async def first() -> dict[str, int]:
        nonlocal calls
        calls += 1
        return {"n": calls}

    assert await cache.answer("t", ("1000", "a"), 1000, 1000, first) == ({"n": 1}, False)
    assert await cache.answer("t", ("1000", "a"), 1000, 1299, first) == ({"n": 1}, True)
    assert await cache.answer("u", ("1000", "a"), 1000, 1299, first) == ({"n": 2}, False)  # per tenant
    assert await cache.answer("t", ("1000", "a"), 1000, 1300, first) == ({"n": 1}, True)  # the last second of it
    assert await cache.answer("t", ("1000", "a"), 1000, 1301, first) == ({"n": 3}, False)  # the window is over
    # Both expired answers (t's and u's) were purged, and the late one was not kept: no replay of it can be.
    assert len(cache) == 0
    for second in (1400, 1401, 1402):
        await cache.answer("t", (str(second), "x"), second, second, first)
    assert len(cache) == 2  # t keeps its newest two
    assert (await cache.answer("t", ("1400", "x"), 1400, 1402, first))[1] is False  # the oldest went first
    assert (await cache.answer("t", ("1402", "x"), 1402, 1402, first))[1] is True


async def test_a_failed_first_attempt_is_not_remembered() -> None:
    cache = ReplayCache(per_tenant=10, window_s=300)

    async def failing() -> dict[str, int]:
        raise RuntimeError("log down")

    with pytest.raises(RuntimeError):
        await cache.answer("t", ("1", "a"), 1000, 1000, failing)

    async def ok() -> dict[str, int]:
        return {"n": 1}

    assert await cache.answer("t", ("1", "a"), 1000, 1001, ok) == ({"n": 1}, False)
