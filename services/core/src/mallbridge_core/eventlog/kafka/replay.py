"""A bounded read of one topic: manual assignment of its partitions, no consumer group, nothing committed."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping

from aiokafka import AIOKafkaConsumer, TopicPartition

from mallbridge_core.eventlog.kafka.records import to_records
from mallbridge_core.eventlog.port import LogRecord


def bounds(
    ends: Mapping[int, int], start: Mapping[int, int] | None, stop: Mapping[int, int] | None
) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition, where to start and where to stop, never past the end offsets taken now."""
    stops = dict(ends)
    if stop is not None:
        # A replay is bounded and never waits for new data: `stop` beyond the end means the end.
        stops.update({p: min(o, stops[p]) for p, o in stop.items() if p in stops})
    starts = {p: (start or {}).get(p, 0) for p in stops}
    return starts, stops


async def read_range(
    bootstrap: str,
    topic: str,
    starts: Mapping[int, int],
    stops: Mapping[int, int],
    *,
    client_id: str,
    request_timeout_ms: int,
    max_records: int,
) -> AsyncGenerator[list[LogRecord], None]:
    """Batches of the records of each partition p in [starts[p], stops[p])."""
    todo = {p for p in stops if starts[p] < stops[p]}
    if not todo:
        return
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        client_id=f"{client_id}-replay",
        group_id=None,
        enable_auto_commit=False,
        # A start offset below the log start (retention removed it) must read from the first record
        # still there, not jump to the end ("latest", the default) and skip everything.
        auto_offset_reset="earliest",
        isolation_level="read_committed",
        max_partition_fetch_bytes=1 << 20,
        fetch_max_bytes=4 << 20,
        request_timeout_ms=request_timeout_ms,
    )
    await consumer.start()
    try:
        tps = {p: TopicPartition(topic, p) for p in todo}
        consumer.assign(list(tps.values()))
        for p, tp in tps.items():
            consumer.seek(tp, starts[p])
        while todo:
            batch = await consumer.getmany(*[tps[p] for p in todo], timeout_ms=500, max_records=max_records)
            out: list[LogRecord] = []
            for tp, msgs in batch.items():
                end = stops[tp.partition]
                out.extend(to_records(msgs, end))
            for p in list(todo):
                if await consumer.position(tps[p]) >= stops[p]:
                    todo.discard(p)
            if out:
                yield out
    finally:
        await consumer.stop()
