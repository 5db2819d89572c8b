"""A lane's history in the default lane's topics, on the real broker: a tenant moved to a lane whose topics
have another partition count than the default lane's (a big merchant's lane often gets more) is rebuilt
by the member that owns each order in the lane, whichever partition its history lies in."""

from __future__ import annotations

from collections import defaultdict

import pytest

from mallbridge_core.eventlog import open_event_log
from mallbridge_core.topics import Topics
from mallbridge_publisher.rebuild import fold_partitions
from mallbridge_schema.events import Event
from tests.support.orders import OrderEventWriter

pytestmark = pytest.mark.kafka
T = "big"


async def test_a_lane_with_more_partitions_folds_each_orders_history_into_the_member_that_owns_it(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    default, lane = Topics(prefix=topic_prefix), Topics(prefix=topic_prefix, lane="big")
    orders = [(f"big-{i}", str(10085400000 + i)) for i in range(60)]
    history_log = open_event_log(f"kafka://{kafka_bootstrap}", partitions=6)
    lane_log = open_event_log(f"kafka://{kafka_bootstrap}", partitions=12)
    await history_log.start()
    await lane_log.start()
    try:
        await history_log.ensure_topics([default.order_events, default.sync_events, default.operator_events])
        await lane_log.ensure_topics([lane.order_events, lane.sync_events, lane.operator_events])
        before = OrderEventWriter(history_log, default.order_events)
        await before.write(*[before.first_seen(T, order, mall_id, "in_process") for order, mall_id in orders])
        after = OrderEventWriter(lane_log, lane.order_events)
        await after.write(*[after.first_seen(T, order, mall_id, "in_process") for order, mall_id in orders])
        # Where the lane put each order (the lane's members own these partitions), read back from the broker.
        owner: dict[str, int] = {}
        async for batch in lane_log.replay(lane.order_events):
            owner.update({record.key.decode().split(":")[1]: record.partition for record in batch if record.key})

        members = [frozenset(range(m, 12, 4)) for m in range(4)]  # four publishers of the lane
        history_of: dict[str, list[int]] = defaultdict(list)
        for partitions in members:

            def fold(event: Event, partition: int, partitions: frozenset[int] = partitions) -> None:
                assert partition in partitions
                history_of[event.order_number].append(partition)

            await fold_partitions(lane_log, lane, partitions, tenants={T}, fold=fold)
    finally:
        await history_log.close()
        await lane_log.close()
    # Each order's two events (its history in the default lane, its new one in the lane) were folded once,
    # both by the member that owns the order's partition of the lane.
    assert dict(history_of) == {order: [owner[order], owner[order]] for order, _ in orders}
