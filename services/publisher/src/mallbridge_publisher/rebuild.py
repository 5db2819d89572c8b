"""The rebuild of newly assigned partitions: the lane's three topics folded from offset 0 (sync events,
order events, operator events).

A lane also folds its tenants' history from the default lane's topics first (`Topics.history()`): a
tenant moved to a lane keeps what MALL already has (the same partition count on both, so the same
partition numbers). Folding is idempotent, so a rebuild cut short by the log can simply start over.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from mallbridge_core.eventlog import EventLog
from mallbridge_core.topics import Topics
from mallbridge_schema.events import Event
from mallbridge_schema.serde import EventDecodeError, decode_operator_event, decode_order_event, decode_sync_event


async def fold_partitions(
    log: EventLog,
    topics: Topics,
    partitions: Collection[int],
    *,
    tenants: Collection[str],
    fold: Callable[[Event, int], object],
) -> dict[str, dict[int, int]]:
    """Fold every event of `partitions` (sync, then order, then operator events, per lane in history order).

    In the default lane's topics read for another lane, only the events of that lane's `tenants` count.
    Returns, per topic, the end offsets it was read up to (where a live tail of the topic goes on).
    """
    sources: list[tuple[str, Callable[[bytes], Any], bool]] = []
    for lane in topics.history():
        history_only = lane != topics
        sources.append((lane.sync_events, decode_sync_event, history_only))
        sources.append((lane.order_events, decode_order_event, history_only))
        sources.append((lane.operator_events, decode_operator_event, history_only))
    read_up_to: dict[str, dict[int, int]] = {}
    for topic, decode, only_these_tenants in sources:
        ends = await log.end_offsets(topic)
        read_up_to[topic] = ends
        skip = {p: end for p, end in ends.items() if p not in partitions}
        async for batch in log.replay(topic, start=skip, stop=ends):
            for record in batch:
                try:
                    event: Event = decode(record.value)
                except EventDecodeError:
                    continue  # order events: dead-lettered when the subscription reaches them
                if not event.order_number or (only_these_tenants and event.tenant_id not in tenants):
                    continue
                fold(event, record.partition)
    return read_up_to
