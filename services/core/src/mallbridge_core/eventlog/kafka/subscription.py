"""The port's Subscription on Kafka: a consumer-group member with manual commits.

On an assignment the member's `on_assigned` says where each new partition starts (the consumer seeks
there before the first fetch); before partitions are taken away `on_revoked` lets it finish them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from mallbridge_core.eventlog.kafka.closing import stop_within
from mallbridge_core.eventlog.kafka.records import to_records
from mallbridge_core.eventlog.port import LogRecord, LogUnavailableError, OnAssigned, OnRevoked


class _Listener(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, sub: KafkaSubscription, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        self._sub = sub
        self._on_assigned = on_assigned
        self._on_revoked = on_revoked

    async def on_partitions_revoked(self, revoked: Any) -> None:
        parts = frozenset(tp.partition for tp in revoked if tp.topic == self._sub.topic)
        if parts:
            await self._on_revoked(parts)

    async def on_partitions_assigned(self, assigned: Any) -> None:
        parts = frozenset(tp.partition for tp in assigned if tp.topic == self._sub.topic)
        if not parts:
            return
        positions = await self._on_assigned(parts)
        for p, offset in positions.items():
            if p in parts:
                self._sub.consumer.seek(TopicPartition(self._sub.topic, p), offset)


class KafkaSubscription:
    """A consumer-group member with manual commits (the port's Subscription)."""

    def __init__(self, bootstrap: str, topic: str, *, group: str, client_id: str, request_timeout_ms: int) -> None:
        self.topic = topic
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            client_id=client_id,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            request_timeout_ms=request_timeout_ms,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=2_000,
            max_poll_interval_ms=300_000,
        )

    async def start(self, on_assigned: OnAssigned, on_revoked: OnRevoked) -> None:
        self.consumer.subscribe([self.topic], listener=_Listener(self, on_assigned, on_revoked))
        await self.consumer.start()

    async def poll(self, *, timeout_s: float, max_records: int = 500) -> list[LogRecord]:
        try:
            batch = await self.consumer.getmany(timeout_ms=int(timeout_s * 1000), max_records=max_records)
        except KafkaError as exc:
            raise LogUnavailableError(f"reading {self.topic} failed: {exc!r}") from exc
        return [record for msgs in batch.values() for record in to_records(msgs)]

    async def commit(self, offsets: Mapping[int, int]) -> None:
        mine = self.assignment()
        owned = {TopicPartition(self.topic, p): off for p, off in offsets.items() if p in mine}
        if owned:
            try:
                await asyncio.wait_for(self.consumer.commit(owned), timeout=10.0)
            except (KafkaError, TimeoutError) as exc:
                raise LogUnavailableError(f"committing {self.topic} failed: {exc!r}") from exc

    def assignment(self) -> frozenset[int]:
        return frozenset(tp.partition for tp in self.consumer.assignment() if tp.topic == self.topic)

    async def close(self) -> None:
        # Bounded: after a broker outage, leaving the group can wait on a coordinator that is gone.
        await stop_within(self.consumer.stop(), self.consumer._client, timeout_s=10.0)
