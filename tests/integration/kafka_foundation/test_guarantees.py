"""What the design relies on from Kafka, proven on the real broker (issue 2, "Must show").

aiokafka is used directly here on purpose: these tests check the broker and client, not our adapter.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from tests.support.eventually import eventually

pytestmark = pytest.mark.kafka


async def _create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name=name, num_partitions=partitions, replication_factor=1)])

        async def has_all_partitions() -> bool:
            described = await admin.describe_topics([name])
            return bool(described) and len(described[0].get("partitions", ())) == partitions

        await eventually(has_all_partitions, timeout=10, what=f"topic {name} with {partitions} partitions")
    finally:
        await admin.close()


async def _read_all(
    bootstrap: str, topic: str, partitions: int, *, isolation_level: str = "read_committed"
) -> list[tuple[int, int, bytes | None, bytes]]:
    """Every record of `topic` up to its end offsets now: (partition, offset, key, value)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, isolation_level=isolation_level
    )
    await consumer.start()
    try:
        tps = [TopicPartition(topic, p) for p in range(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        ends = await consumer.end_offsets(tps)
        out: list[tuple[int, int, bytes | None, bytes]] = []

        async def read_to_the_end() -> bool:
            if not [tp for tp in tps if await consumer.position(tp) < ends[tp]]:
                return True
            batch = await consumer.getmany(timeout_ms=500)
            for tp, msgs in batch.items():
                out.extend((tp.partition, m.offset, m.key, m.value) for m in msgs if m.offset < ends[tp])
            return False

        await eventually(read_to_the_end, interval=0, what="a read up to the end offsets")
        return out
    finally:
        await consumer.stop()


@pytest.fixture
async def idempotent_producer(kafka_bootstrap: str) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def test_idempotent_producer_with_acks_all_delivers_every_message_once(
    kafka_bootstrap: str, topic_prefix: str, idempotent_producer: AIOKafkaProducer
) -> None:
    topic = f"{topic_prefix}idempotent"
    await _create_topic(kafka_bootstrap, topic, 3)
    n = 600
    futures = [
        await idempotent_producer.send(topic, key=f"k{i % 17}".encode(), value=f"v{i}".encode()) for i in range(n)
    ]
    metadata = await asyncio.gather(*futures)

    # Every send was acknowledged with an offset; per partition the offsets are 0..count-1, no gaps, no repeats.
    per_partition: dict[int, list[int]] = defaultdict(list)
    for md in metadata:
        per_partition[md.partition].append(md.offset)
    for offsets in per_partition.values():
        assert sorted(offsets) == list(range(len(offsets)))

    records = await _read_all(kafka_bootstrap, topic, 3)
    assert sorted(v for _, _, _, v in records) == sorted(f"v{i}".encode() for i in range(n))
    assert len(records) == n


async def test_same_key_keeps_its_order_on_a_multi_partition_topic(
    kafka_bootstrap: str, topic_prefix: str, idempotent_producer: AIOKafkaProducer
) -> None:
    topic = f"{topic_prefix}ordered"
    await _create_topic(kafka_bootstrap, topic, 6)
    keys = [f"tenant-a:order-{i}".encode() for i in range(24)]
    rounds = 40
    # Interleave the keys and send without waiting, so batching and in-flight requests are exercised.
    futures = [
        await idempotent_producer.send(topic, key=key, value=f"{key.decode()}#{seq}".encode())
        for seq in range(rounds)
        for key in keys
    ]
    await asyncio.gather(*futures)

    records = await _read_all(kafka_bootstrap, topic, 6)
    assert len(records) == rounds * len(keys)
    partitions_used = {p for p, _, _, _ in records}
    assert len(partitions_used) > 1, "the keys should have spread over several partitions"
    by_key: dict[bytes, list[tuple[int, int, int]]] = defaultdict(list)
    for partition, offset, key, value in records:
        assert key is not None
        by_key[key].append((partition, offset, int(value.split(b"#")[1])))
    for key, entries in by_key.items():
        assert len({p for p, _, _ in entries}) == 1, f"{key!r} was spread over partitions"
        seqs = [seq for _, _, seq in sorted(entries, key=lambda e: e[1])]
        assert seqs == list(range(rounds)), f"{key!r} out of order"


async def test_consumer_group_resumes_exactly_at_first_uncommitted_message(
    kafka_bootstrap: str, topic_prefix: str, idempotent_producer: AIOKafkaProducer
) -> None:
    topic = f"{topic_prefix}resume"
    group = f"{topic_prefix}group"
    await _create_topic(kafka_bootstrap, topic, 3)
    n = 300
    futures = [await idempotent_producer.send(topic, key=f"k{i}".encode(), value=str(i).encode()) for i in range(n)]
    await asyncio.gather(*futures)

    def consumer() -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            topic,
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
        )

    # First member: processes messages and commits after each batch of 10 *processed* messages; then it
    # sees (fetches) more messages that it never processes, and stops without committing them.
    first = consumer()
    await first.start()
    committed: dict[int, int] = {}
    processed_first: set[bytes] = set()
    fetched_uncommitted = 0
    try:
        pending: dict[TopicPartition, int] = {}
        count = 0

        async def first_processes_120() -> None:
            nonlocal count, fetched_uncommitted
            batch = await first.getmany(timeout_ms=1000, max_records=7)
            for tp, msgs in batch.items():
                for m in msgs:
                    if count < 120:
                        processed_first.add(m.value)
                        pending[tp] = m.offset + 1
                        count += 1
                        if count % 10 == 0:
                            await first.commit(dict(pending))
                            committed.update({tp.partition: off for tp, off in pending.items()})
                    else:
                        fetched_uncommitted += 1
            assert count >= 120, f"the first member processed {count} of 120"

        await eventually(first_processes_120, interval=0)
        # Fetch more, never process nor commit them (as if the process stopped mid-batch).
        more = await first.getmany(timeout_ms=1000, max_records=20)
        fetched_uncommitted += sum(len(v) for v in more.values())
    finally:
        await first.stop()
    assert fetched_uncommitted > 0, "the first member should have fetched messages it never committed"
    assert len(processed_first) == 120

    # Restart: a new member of the same group starts exactly at the first uncommitted offset per partition.
    second = consumer()
    await second.start()
    try:
        first_seen: dict[int, int] = {}
        processed_second: list[bytes] = []

        async def second_gets_the_rest() -> None:
            batch = await second.getmany(timeout_ms=1000)
            for tp, msgs in batch.items():
                for m in msgs:
                    first_seen.setdefault(tp.partition, m.offset)
                    processed_second.append(m.value)
            assert len(processed_second) >= n - 120, f"the second member got {len(processed_second)} of {n - 120}"

        await eventually(second_gets_the_rest, interval=0)
    finally:
        await second.stop()

    for partition, offset in first_seen.items():
        assert offset == committed.get(partition, 0), f"partition {partition} resumed at {offset}"
    assert not processed_first & set(processed_second), "a committed message was delivered again"
    assert processed_first | set(processed_second) == {str(i).encode() for i in range(n)}, "a message was lost"
    assert len(processed_second) == n - 120


async def test_aborted_transaction_is_invisible_to_read_committed(kafka_bootstrap: str, topic_prefix: str) -> None:
    topic = f"{topic_prefix}txn"
    await _create_topic(kafka_bootstrap, topic, 2)
    producer = AIOKafkaProducer(
        bootstrap_servers=kafka_bootstrap, transactional_id=f"{topic_prefix}tx-{uuid.uuid4().hex[:6]}"
    )
    await producer.start()
    try:
        async with producer.transaction():
            for i in range(5):
                await producer.send(topic, key=f"k{i}".encode(), value=f"committed-1-{i}".encode())

        await producer.begin_transaction()
        for i in range(5):
            await producer.send(topic, key=f"k{i}".encode(), value=f"aborted-{i}".encode())
        await producer.flush()  # the aborted records really reach the log
        await producer.abort_transaction()

        async with producer.transaction():
            for i in range(5):
                await producer.send(topic, key=f"k{i}".encode(), value=f"committed-2-{i}".encode())
    finally:
        await producer.stop()

    committed_view = sorted(v for _, _, _, v in await _read_all(kafka_bootstrap, topic, 2))
    expected = sorted([f"committed-1-{i}".encode() for i in range(5)] + [f"committed-2-{i}".encode() for i in range(5)])
    assert committed_view == expected

    # The aborted records were written (a read_uncommitted reader sees them), so the check above means something.
    uncommitted_view = {
        v for _, _, _, v in await _read_all(kafka_bootstrap, topic, 2, isolation_level="read_uncommitted")
    }
    assert {f"aborted-{i}".encode() for i in range(5)} <= uncommitted_view
