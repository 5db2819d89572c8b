"""Topics mallbridge creates on Kafka keep their history forever: they are the source of truth."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_core.eventlog.kafka import KafkaEventLog


async def test_created_topics_never_expire(kafka_bootstrap: str, topic_prefix: str) -> None:
    log = KafkaEventLog(kafka_bootstrap, partitions=3)
    topic = f"{topic_prefix}order-events.v1"
    try:
        await log.ensure_topics([topic])
        assert sorted(await log.end_offsets(topic)) == [0, 1, 2]
    finally:
        await log.close()
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    entries = {entry[0]: entry[1] for resource in response.resources for entry in resource[4]}
    assert entries["retention.ms"] == "-1"
    assert entries["retention.bytes"] == "-1"


async def test_a_first_look_at_a_topic_another_client_writes(kafka_bootstrap: str, topic_prefix: str) -> None:
    """A log that never saw the topic gets its ends (its metadata consumer learns the topic first, see
    `topics._track`), and fresh ones after more records; a topic that is not there is {} and stays absent."""
    topic, absent = f"{topic_prefix}sync-events.v1", f"{topic_prefix}absent.v1"
    writer = KafkaEventLog(kafka_bootstrap, partitions=3)
    reader = KafkaEventLog(kafka_bootstrap, partitions=3)
    try:
        await writer.ensure_topics([topic])
        await writer.append(topic, [OutgoingRecord(f"t:{i}".encode(), b"{}") for i in range(5)])
        first = await reader.end_offsets(topic)
        assert sorted(first) == [0, 1, 2]
        assert sum(first.values()) == 5
        await writer.append(topic, [OutgoingRecord(f"t:{i}".encode(), b"{}") for i in range(5, 12)])
        assert sum((await reader.end_offsets(topic)).values()) == 12
        assert await reader.end_offsets(absent) == {}
        assert absent not in await reader.list_topics()
    finally:
        await writer.close()
        await reader.close()
