"""A large append goes to Kafka as one record batch per partition (kafka/batches.py): the records must land
exactly where a one-record append puts them, in order, also when a partition's records fill more
than one batch."""

from __future__ import annotations

import asyncio
import json

import pytest
from aiokafka import AIOKafkaProducer  # the test's own producer, to set a linger no append may wait for

from mallbridge_core.eventlog import LogRecord, OutgoingRecord
from mallbridge_core.eventlog.kafka import KafkaEventLog
from mallbridge_core.eventlog.kafka.batches import BATCHED_FROM, send_batched
from mallbridge_core.eventlog.kafka.partitioner import default_partition

pytestmark = pytest.mark.kafka


async def _replay(log: KafkaEventLog, topic: str) -> list[LogRecord]:
    out: list[LogRecord] = []
    async for batch in log.replay(topic):
        out.extend(batch)
    return out


async def test_a_batched_append_puts_each_key_where_a_single_append_does(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    keys = [f"acme:FC-{n:05d}".encode() for n in range(300)] + [b"", b"acme:"]  # "" as a dead letter may have
    batched, single = f"{topic_prefix}batched", f"{topic_prefix}single"
    log = KafkaEventLog(kafka_bootstrap, partitions=6)
    try:
        await log.ensure_topics([batched, single])
        assert len(keys) >= BATCHED_FROM
        await log.append(batched, [OutgoingRecord(k, b"b", (("h", k),)) for k in keys])
        for k in keys:
            await log.append(single, [OutgoingRecord(k, b"s")])
        by_batch = {r.key: (r.partition, r.headers) for r in await _replay(log, batched)}
        by_single = {r.key: r.partition for r in await _replay(log, single)}
    finally:
        await log.close()
    assert len(by_batch) == len(keys)
    assert {k: p for k, (p, _) in by_batch.items()} == by_single
    assert len(set(by_single.values())) == 6  # the keys are spread: the check above means something
    assert all(headers == (("h", k or b""),) for k, (_, headers) in by_batch.items())


async def test_a_partition_whose_records_fill_several_batches_keeps_their_order(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    topic = f"{topic_prefix}big"
    log = KafkaEventLog(kafka_bootstrap, partitions=2)
    filler = "x" * 20_000
    # ~2.4 MB for one key: more than two batches of the producer's 1 MiB.
    records = [OutgoingRecord(b"acme:one", json.dumps({"n": n, "f": filler}).encode()) for n in range(120)]
    records += [OutgoingRecord(b"acme:other", json.dumps({"n": n}).encode()) for n in range(40)]
    try:
        await log.ensure_topics([topic])
        await log.append(topic, records)
        replayed = await _replay(log, topic)
    finally:
        await log.close()
    for key, count in ((b"acme:one", 120), (b"acme:other", 40)):
        mine = sorted((r.offset, json.loads(r.value)["n"]) for r in replayed if r.key == key)
        assert [n for _, n in mine] == list(range(count)), key


async def test_a_batched_append_goes_out_at_once_not_after_the_producers_linger(
    kafka_bootstrap: str, topic_prefix: str
) -> None:
    """The batches are complete when handed over, so they are closed: an open one would wait out the
    producer's linger for records nobody will add (2 ms per append with the adapter's producer; here a
    minute, so the difference is not a matter of timing)."""
    topic = f"{topic_prefix}linger"
    log = KafkaEventLog(kafka_bootstrap, partitions=3)
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, linger_ms=60_000, partitioner=default_partition)
    try:
        await log.ensure_topics([topic])
        await producer.start()
        records = [OutgoingRecord(f"acme:L-{n}".encode(), b"v") for n in range(BATCHED_FROM)]
        await asyncio.wait_for(send_batched(producer, topic, records), timeout=20)
        assert len(await _replay(log, topic)) == BATCHED_FROM
    finally:
        await producer.stop()
        await log.close()
