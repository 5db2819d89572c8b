"""`KafkaEventLog`: the port's EventLog on an Apache Kafka cluster, and its producer.

Producer: idempotent, acks=all; `append` waits for every acknowledgement. A failed or timed-out append
discards the producer, so nothing buffered from a failed call can slip out later unannounced. A large
append is handed over as one record batch per partition (`batches.py`): a third of the CPU time per
record of one `send` each; a small one record by record, so that concurrent small appends (the
publisher's, a push's) still share the producer's batches.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from mallbridge_core.eventlog.kafka.batches import BATCHED_FROM, send_batched
from mallbridge_core.eventlog.kafka.closing import stop_within
from mallbridge_core.eventlog.kafka.partitioner import default_partition
from mallbridge_core.eventlog.kafka.replay import bounds, read_range
from mallbridge_core.eventlog.kafka.subscription import KafkaSubscription
from mallbridge_core.eventlog.kafka.topics import TopicAdmin
from mallbridge_core.eventlog.port import LogRecord, LogUnavailableError, OnAssigned, OnRevoked, OutgoingRecord


class KafkaEventLog:
    """EventLog on an Apache Kafka cluster."""

    def __init__(
        self,
        bootstrap: str,
        *,
        partitions: int = 6,
        client_id: str = "mallbridge",
        append_timeout_s: float = 15.0,
        request_timeout_s: float = 10.0,
    ) -> None:
        self._bootstrap = bootstrap
        self._client_id = client_id
        self._append_timeout_s = append_timeout_s
        self._request_timeout_ms = int(request_timeout_s * 1000)
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._topics = TopicAdmin(
            bootstrap, partitions=partitions, client_id=client_id, request_timeout_ms=self._request_timeout_ms
        )

    @property
    def url(self) -> str:
        return f"kafka://{self._bootstrap}"

    async def start(self) -> None:
        """Nothing to do eagerly: connections are made on first use, so a service starts while Kafka is down."""

    async def close(self) -> None:
        await self._discard_producer(flush=True)
        await self._topics.close()

    # ---- producing -----------------------------------------------------------------------------------

    async def _get_producer(self) -> AIOKafkaProducer:
        if self._producer is not None:  # the common case, without the lock's await
            return self._producer
        async with self._producer_lock:
            if self._producer is None:
                producer = AIOKafkaProducer(
                    bootstrap_servers=self._bootstrap,
                    client_id=self._client_id,
                    enable_idempotence=True,
                    acks="all",
                    linger_ms=2,
                    max_batch_size=1 << 20,
                    request_timeout_ms=self._request_timeout_ms,
                    partitioner=default_partition,
                )
                try:
                    await producer.start()
                except Exception:
                    await stop_within(producer.stop(), producer.client, timeout_s=5.0)
                    raise
                self._producer = producer
            return self._producer

    async def _discard_producer(self, *, flush: bool = False) -> None:
        async with self._producer_lock:
            producer, self._producer = self._producer, None
        if producer is None:
            return
        if not flush:
            # Drop whatever is still buffered: the caller was told it failed. (A batch already in flight
            # may still land; consumers are idempotent by per-order seq, so that is harmless.)
            with contextlib.suppress(Exception):
                producer._message_accumulator.fail_all(LogUnavailableError("append abandoned"))
        await stop_within(producer.stop(), producer.client, timeout_s=5.0)

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        try:
            async with asyncio.timeout(self._append_timeout_s):  # no task of its own, unlike wait_for
                await self._send_all(topic, records)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._discard_producer()
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not acknowledge the write: {exc!r}") from exc

    async def _send_all(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        producer = await self._get_producer()
        if len(records) >= BATCHED_FROM:
            await send_batched(producer, topic, records)
            return
        futures = [
            await producer.send(topic, value=r.value, key=r.key, headers=list(r.headers) or None) for r in records
        ]
        if len(futures) == 1:  # the publisher's and a push's common case: no gathering future
            await futures[0]
            return
        await asyncio.gather(*futures)

    # ---- topics and offsets (topics.py) --------------------------------------------------------------

    async def ping(self) -> bool:
        return await self._topics.ping()

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        await self._topics.ensure(topics)

    async def list_topics(self) -> list[str]:
        """Every topic of the cluster, internal ones left out, sorted (extension: `mallbridge log export`)."""
        return await self._topics.list_topics()

    async def end_offsets(self, topic: str) -> dict[int, int]:
        return await self._topics.end_offsets(topic)

    # ---- reading -------------------------------------------------------------------------------------

    async def replay(
        self,
        topic: str,
        *,
        start: Mapping[int, int] | None = None,
        stop: Mapping[int, int] | None = None,
        max_records: int = 5000,
    ) -> AsyncIterator[list[LogRecord]]:
        starts, stops = bounds(await self.end_offsets(topic), start, stop)
        batches = read_range(
            self._bootstrap,
            topic,
            starts,
            stops,
            client_id=self._client_id,
            request_timeout_ms=self._request_timeout_ms,
            max_records=max_records,
        )
        async with contextlib.aclosing(batches):  # a reader that stops early stops the consumer now
            async for batch in batches:
                yield batch

    async def subscribe(
        self,
        topic: str,
        *,
        group: str,
        on_assigned: OnAssigned,
        on_revoked: OnRevoked,
    ) -> KafkaSubscription:
        # Subscribing to a missing topic would let the broker auto-create it with its default partition count.
        await self.ensure_topics([topic])
        subscription = KafkaSubscription(
            self._bootstrap, topic, group=group, client_id=self._client_id, request_timeout_ms=self._request_timeout_ms
        )
        await subscription.start(on_assigned, on_revoked)
        return subscription
