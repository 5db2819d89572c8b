"""TenantGate: the daily request budget, 429 waits and pauses, with a fake clock."""

from __future__ import annotations

import asyncio

import pytest

from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.tenant_gate import DAY_S, TenantGate


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _remaining(metrics: PublisherMetrics, tenant: str) -> float:
    return metrics.registry.get_sample_value("mallbridge_publisher_request_budget_remaining", {"tenant": tenant}) or 0


async def _try_slot(gate: TenantGate, timeout: float = 0.05) -> bool:
    async def take() -> None:
        async with gate.slot():
            pass

    try:
        await asyncio.wait_for(take(), timeout)
    except TimeoutError:
        return False
    return True


async def test_spent_budget_holds_requests_until_the_day_window_turns() -> None:
    clock, metrics = FakeClock(), PublisherMetrics()
    gate = TenantGate("acme", concurrency=2, metrics=metrics, daily_budget=3, monotonic=clock)
    assert _remaining(metrics, "acme") == 3
    assert [await _try_slot(gate) for _ in range(3)] == [True, True, True]
    assert _remaining(metrics, "acme") == 0
    assert await _try_slot(gate) is False  # the fourth request of the day waits
    clock.now += DAY_S
    assert await _try_slot(gate) is True
    assert _remaining(metrics, "acme") == 2


async def test_no_budget_means_no_limit() -> None:
    gate = TenantGate("acme", concurrency=1, metrics=PublisherMetrics(), monotonic=FakeClock())
    assert all([await _try_slot(gate) for _ in range(50)])


async def test_rate_limit_waits_for_the_reset_then_lets_requests_through() -> None:
    clock = FakeClock()
    gate = TenantGate("acme", concurrency=1, metrics=PublisherMetrics(), monotonic=clock)
    gate.rate_limited(30)
    assert await _try_slot(gate) is False
    clock.now += 31
    assert await _try_slot(gate) is True


async def test_pause_is_probed_again_and_resume_clears_the_metric() -> None:
    clock, metrics = FakeClock(), PublisherMetrics()
    gate = TenantGate("acme", concurrency=1, metrics=metrics, pause_probe_s=30, monotonic=clock)
    gate.pause()
    assert metrics.registry.get_sample_value("mallbridge_publisher_tenant_paused", {"tenant": "acme"}) == 1
    assert await _try_slot(gate) is False
    clock.now += 31
    assert await _try_slot(gate) is True  # one probe request goes out
    gate.resume()
    assert metrics.registry.get_sample_value("mallbridge_publisher_tenant_paused", {"tenant": "acme"}) == 0


async def test_a_paused_tenant_is_probed_by_one_request_while_the_others_wait_for_its_answer() -> None:
    clock = FakeClock()
    gate = TenantGate("acme", concurrency=3, metrics=PublisherMetrics(), pause_probe_s=30, monotonic=clock)
    gate.pause()
    clock.now += 31
    entered = answered = 0

    async def request() -> None:
        nonlocal entered
        async with gate.slot():
            entered += 1
            me = entered
            while answered < me:  # at MALL until its answer comes
                await asyncio.sleep(0.01)

    tasks = [asyncio.create_task(request()) for _ in range(3)]
    await asyncio.sleep(0.2)
    assert entered == 1  # the probe; the other two wait for its answer
    gate.pause()  # MALL refused the client_id again
    answered = 1
    await asyncio.sleep(0.2)
    assert entered == 1  # the next round waits for the next probe time
    clock.now += 31
    await asyncio.sleep(1.2)  # a waiter looks at the clock at least once a second
    assert entered == 2  # one probe again
    gate.resume()  # MALL accepted it: everything goes
    answered = 3
    await asyncio.wait_for(asyncio.gather(*tasks), 2)
    assert entered == 3


async def test_a_pause_the_log_recorded_probes_at_once_with_one_request() -> None:
    clock, metrics = FakeClock(), PublisherMetrics()
    gate = TenantGate("acme", concurrency=3, metrics=metrics, pause_probe_s=30, monotonic=clock)
    gate.pause_as_recorded()
    assert gate.paused
    assert metrics.registry.get_sample_value("mallbridge_publisher_tenant_paused", {"tenant": "acme"}) == 1
    async with gate.slot():  # no wait for the probe time: the first request is the probe, now
        assert await _try_slot(gate) is False  # the others wait for its answer
    gate.resume()
    assert await _try_slot(gate) is True


async def test_a_pause_the_log_recorded_leaves_a_live_pause_as_it_is() -> None:
    clock = FakeClock()
    gate = TenantGate("acme", concurrency=1, metrics=PublisherMetrics(), pause_probe_s=30, monotonic=clock)
    gate.pause()  # a 401 this run: the next probe in 30 s
    gate.pause_as_recorded()
    assert await _try_slot(gate) is False


@pytest.mark.parametrize("concurrency", [1, 3])
async def test_concurrency_is_bounded_per_tenant(concurrency: int) -> None:
    gate = TenantGate("acme", concurrency=concurrency, metrics=PublisherMetrics(), monotonic=FakeClock())
    inside = 0
    peak = 0

    async def work() -> None:
        nonlocal inside, peak
        async with gate.slot():
            inside += 1
            peak = max(peak, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(work() for _ in range(10)))
    assert peak == concurrency
