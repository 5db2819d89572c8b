"""Balance's record of the MALL orders the shop never got reaches a running publisher (both engines): one written
while it runs is followed live, one written before a restart is rebuilt, and an empty one clears it; the gauge
`mallbridge_publisher_unknown_mall_orders` says how many."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mallbridge_publisher.bootstrap import PublisherService
from tests.integration.publisher.conftest import Harness
from tests.support.eventually import eventually
from tests.unit.publisher.unknown_seen import record_unknown, unknown_seen

T = "acme"


def _counted(service: PublisherService) -> float | None:
    return service.metrics.registry.get_sample_value("mallbridge_publisher_unknown_mall_orders", {"tenant": T})


def _held(service: PublisherService) -> list[tuple[str, ...]]:
    return [
        tuple(o.mall_order_id for o in seen.orders) for e in service.engines for seen in e.unknown_orders.outstanding()
    ]


async def test_balances_unknown_orders_are_followed_live_rebuilt_after_a_restart_and_cleared(harness: Harness) -> None:
    h = harness
    await h.log.ensure_topics([h.topics.operator_events])
    seen_at = datetime.now(UTC)
    publisher = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        await eventually(lambda: all(e.ready.is_set() for e in publisher.service.engines), on_loop=True)
        await record_unknown(
            h.log, h.topics.operator_events, unknown_seen(T, "10085339601", "10085339602", total=3, at=seen_at)
        )
        await eventually(lambda: _counted(publisher.service) == 3, on_loop=True)
        assert _held(publisher.service) == [("10085339601", "10085339602")]
    finally:
        await publisher.stop()

    restarted = h.start_publisher(operator_tail_interval_s=0.1)
    try:
        await eventually(lambda: _counted(restarted.service) == 3, on_loop=True)  # the rebuild folded it
        later = seen_at + timedelta(seconds=1)
        await record_unknown(h.log, h.topics.operator_events, unknown_seen(T, at=later))  # balance found none
        await eventually(lambda: _counted(restarted.service) == 0, on_loop=True)
        assert _held(restarted.service) == []
    finally:
        await restarted.stop()
