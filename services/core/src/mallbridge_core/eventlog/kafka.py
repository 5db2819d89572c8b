"""The Kafka adapter of the event-log port (aiokafka). The only module that imports aiokafka.

Producer: idempotent, acks=all; `append` waits for every acknowledgement. A failed or timed-out append
discards the producer, so nothing buffered from a failed call can slip out later unannounced.
Consumers: manual partition assignment for replays, a consumer group with manual commits for
subscriptions. See port.py for the semantics.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRebalanceListener, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from mallbridge_core.eventlog.port import (
    LogRecord,
    LogUnavailableError,
    OnAssigned,
    OnRevoked,
    OutgoingRecord,
)

log = logging.getLogger(__name__)


def _to_record(msg: Any) -> LogRecord:
    # Hot path of every replay (about a microsecond per record): positional arguments, no headers tuple
    # built when there are none.
    headers = msg.headers
    return LogRecord(
        msg.topic,
        msg.partition,
        msg.offset,
        msg.key,
        msg.value if msg.value is not None else b"",
        msg.timestamp,
        tuple((k, bytes(v)) for k, v in headers) if headers else (),
    )


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
        self._partitions = partitions
        self._client_id = client_id
        self._append_timeout_s = append_timeout_s
        self._request_timeout_ms = int(request_timeout_s * 1000)
        self._producer: AIOKafkaProducer | None = None
        self._producer_lock = asyncio.Lock()
        self._meta: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._known_topics: set[str] = set()

    @property
    def url(self) -> str:
        return f"kafka://{self._bootstrap}"

    @property
    def bootstrap(self) -> str:
        return self._bootstrap

    async def start(self) -> None:
        """Nothing to do eagerly: connections are made on first use, so a service starts while Kafka is down."""

    async def close(self) -> None:
        await self._discard_producer(flush=True)
        if self._meta is not None:
            meta, self._meta = self._meta, None
            with contextlib.suppress(Exception):
                await meta.stop()
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()

    # ---- producing -----------------------------------------------------------------------------------

    async def _get_producer(self) -> AIOKafkaProducer:
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
                )
                try:
                    await producer.start()
                except Exception:
                    with contextlib.suppress(Exception):
                        await producer.stop()
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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(producer.stop(), timeout=5.0)

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if not records:
            return
        try:
            await asyncio.wait_for(self._send_all(topic, records), timeout=self._append_timeout_s)
        except (KafkaError, OSError, TimeoutError) as exc:
            await self._discard_producer()
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not acknowledge the write: {exc!r}") from exc

    async def _send_all(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        producer = await self._get_producer()
        futures = [
            await producer.send(topic, value=r.value, key=r.key, headers=list(r.headers) or None) for r in records
        ]
        await asyncio.gather(*futures)

    # ---- topics and offsets --------------------------------------------------------------------------

    async def ping(self) -> bool:
        try:
            admin = await self._get_admin()
            await asyncio.wait_for(admin.describe_cluster(), timeout=5.0)
        except Exception:  # any failure means "not reachable now"
            return False
        return True

    async def _get_admin(self) -> AIOKafkaAdminClient:
        if self._admin is None:
            admin = AIOKafkaAdminClient(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-admin",
                request_timeout_ms=self._request_timeout_ms,
            )
            try:
                await admin.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await admin.close()
                raise
            self._admin = admin
        return self._admin

    async def _get_meta(self) -> AIOKafkaConsumer:
        if self._meta is None:
            meta = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap,
                client_id=f"{self._client_id}-meta",
                enable_auto_commit=False,
                request_timeout_ms=self._request_timeout_ms,
            )
            try:
                await meta.start()
            except BaseException:
                with contextlib.suppress(Exception):
                    await meta.stop()
                raise
            self._meta = meta
        return self._meta

    def _new_topic(self, name: str) -> NewTopic:
        # The topics are the source of truth (ingest state, publisher rebuild, audit): never expire them.
        return NewTopic(
            name=name,
            num_partitions=self._partitions,
            replication_factor=1,
            topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
        )

    async def ensure_topics(self, topics: Sequence[str]) -> None:
        missing = [t for t in topics if t not in self._known_topics]
        if not missing:
            return
        try:
            await self._create_topics(missing)
        except (KafkaError, OSError) as exc:
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not create {missing}: {exc!r}") from exc

    async def _create_topics(self, missing: list[str]) -> None:
        admin = await self._get_admin()
        for name in missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([self._new_topic(name)])
        for _ in range(100):
            if all([await self.partitions(t) for t in missing]):
                self._known_topics.update(missing)
                return
            await asyncio.sleep(0.1)
        raise LogUnavailableError(f"topics {missing} did not appear on Kafka at {self._bootstrap} within 10 s")

    async def list_topics(self) -> list[str]:
        """Every topic of the cluster, internal ones left out, sorted (extension: `mallbridge log export`)."""
        try:
            admin = await self._get_admin()
            names = await admin.list_topics()
        except (KafkaError, OSError) as exc:
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not list its topics: {exc!r}") from exc
        return sorted(str(name) for name in names if not str(name).startswith("__"))

    async def partitions(self, topic: str) -> list[int]:
        """The topic's partitions; [] when it does not exist (and looking never creates it)."""
        admin = await self._get_admin()
        # aiokafka's describe_topics asks with allow_auto_topic_creation=True: on a broker with
        # auto.create.topics.enable (Kafka's default) merely describing an unknown topic would create it
        # with the broker's default partition count, and ensure_topics could not fix that later.
        if topic not in self._known_topics and topic not in await admin.list_topics():
            return []
        described = await admin.describe_topics([topic])
        parts: list[int] = []
        for entry in described:
            if entry.get("topic") == topic and not entry.get("error_code"):
                parts.extend(int(p.get("partition", p.get("partition_index", 0))) for p in entry.get("partitions", ()))
        return sorted(parts)

    async def end_offsets(self, topic: str) -> dict[int, int]:
        try:
            meta = await self._get_meta()
            parts = await self.partitions(topic)
            if not parts:
                return {}
            ends = await meta.end_offsets([TopicPartition(topic, p) for p in parts])
        except (KafkaError, OSError) as exc:
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not give end offsets: {exc!r}") from exc
        return {tp.partition: off for tp, off in ends.items()}

    # ---- reading -------------------------------------------------------------------------------------

    async def replay(
        self,
        topic: str,
        *,
        start: Mapping[int, int] | None = None,
        stop: Mapping[int, int] | None = None,
        max_records: int = 5000,
    ) -> AsyncIterator[list[LogRecord]]:
        ends = dict(await self.end_offsets(topic))
        if stop is not None:
            # Never past the end offsets taken now: a replay is bounded and never waits for new data.
            ends.update({p: min(o, ends[p]) for p, o in stop.items() if p in ends})
        starts = {p: (start or {}).get(p, 0) for p in ends}
        todo = {p for p in ends if starts[p] < ends[p]}
        if not todo:
            return
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            client_id=f"{self._client_id}-replay",
            group_id=None,
            enable_auto_commit=False,
            # A start offset below the log start (retention removed it) must read from the first record
            # still there, not jump to the end ("latest", the default) and skip everything.
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            max_partition_fetch_bytes=1 << 20,
            fetch_max_bytes=4 << 20,
            request_timeout_ms=self._request_timeout_ms,
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
                    end = ends[tp.partition]
                    out.extend(_to_record(m) for m in msgs if m.offset < end)
                for p in list(todo):
                    if await consumer.position(tps[p]) >= ends[p]:
                        todo.discard(p)
                if out:
                    yield out
        finally:
            await consumer.stop()

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
        return [_to_record(m) for msgs in batch.values() for m in msgs]

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
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.consumer.stop(), timeout=10.0)
