"""Topics mallbridge creates on Kafka keep their history forever: they are the source of truth."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

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
