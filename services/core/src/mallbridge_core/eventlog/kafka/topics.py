"""Topics on Kafka: creating them, their partitions and end offsets (an admin client and a metadata consumer).

Looking never creates a topic: aiokafka's `describe_topics` asks with `allow_auto_topic_creation=True`,
so on a broker with `auto.create.topics.enable` (Kafka's default) merely describing an unknown topic
would create it with the broker's default partition count, which `ensure_topics` could not fix later.
Only names the cluster lists are described.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError

from mallbridge_core.eventlog.port import LogUnavailableError


class TopicAdmin:
    """Creates and describes the topics of one cluster; clients are made on first use."""

    def __init__(self, bootstrap: str, *, partitions: int, client_id: str, request_timeout_ms: int) -> None:
        self._bootstrap = bootstrap
        self._partitions = partitions
        self._client_id = client_id
        self._request_timeout_ms = request_timeout_ms
        self._meta: AIOKafkaConsumer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._known_topics: set[str] = set()

    async def close(self) -> None:
        if self._meta is not None:
            meta, self._meta = self._meta, None
            with contextlib.suppress(Exception):
                await meta.stop()
        if self._admin is not None:
            admin, self._admin = self._admin, None
            with contextlib.suppress(Exception):
                await admin.close()

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

    async def ping(self) -> bool:
        try:
            admin = await self._get_admin()
            await asyncio.wait_for(admin.describe_cluster(), timeout=5.0)
        except Exception:  # any failure means "not reachable now"
            return False
        return True

    def _new_topic(self, name: str) -> NewTopic:
        # The topics are the source of truth (ingest state, publisher rebuild, audit): never expire them.
        return NewTopic(
            name=name,
            num_partitions=self._partitions,
            replication_factor=1,
            topic_configs={"retention.ms": "-1", "retention.bytes": "-1"},
        )

    async def ensure(self, topics: Sequence[str]) -> None:
        """Create the missing topics with the configured partition count and wait until they are there."""
        missing = [t for t in topics if t not in self._known_topics]
        if not missing:
            return
        try:
            await self._create(missing)
        except (KafkaError, OSError) as exc:
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not create {missing}: {exc!r}") from exc

    async def _create(self, missing: list[str]) -> None:
        admin = await self._get_admin()
        for name in missing:
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics([self._new_topic(name)])
        for _ in range(100):
            if all([await self._partition_ids(t) for t in missing]):
                self._known_topics.update(missing)
                return
            await asyncio.sleep(0.1)
        raise LogUnavailableError(f"topics {missing} did not appear on Kafka at {self._bootstrap} within 10 s")

    async def list_topics(self) -> list[str]:
        """Every topic of the cluster, internal ones left out, sorted."""
        try:
            admin = await self._get_admin()
            names = await admin.list_topics()
        except (KafkaError, OSError) as exc:
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not list its topics: {exc!r}") from exc
        return sorted(str(name) for name in names if not str(name).startswith("__"))

    async def _partition_ids(self, topic: str) -> list[int]:
        """The topic's partitions; [] when it does not exist (see the module doc: looking never creates it)."""
        admin = await self._get_admin()
        if topic not in self._known_topics and topic not in await admin.list_topics():
            return []
        described = await admin.describe_topics([topic])
        parts: list[int] = []
        for entry in described:
            if entry.get("topic") == topic and not entry.get("error_code"):
                parts.extend(int(p.get("partition", p.get("partition_index", 0))) for p in entry.get("partitions", ()))
        return sorted(parts)

    async def end_offsets(self, topic: str) -> dict[int, int]:
        """Per partition, the offset the next record will get; {} for a topic that does not exist."""
        try:
            meta = await self._get_meta()
            parts = await self._partition_ids(topic)
            if not parts:
                return {}
            await _track(meta, topic)
            ends = await meta.end_offsets([TopicPartition(topic, p) for p in parts])
        except (KafkaError, OSError) as exc:
            raise LogUnavailableError(f"Kafka at {self._bootstrap} did not give end offsets: {exc!r}") from exc
        return {tp.partition: off for tp, off in ends.items()}


async def _track(meta: AIOKafkaConsumer, topic: str) -> None:
    """Have the metadata consumer know `topic` (an existing one) before it is asked for offsets.

    Asked for a partition of a topic its metadata does not list yet, aiokafka's consumer marks the topic
    for a refresh and sleeps its retry backoff (100 ms) before asking again: every first look at a topic
    cost 100 ms (an audit's plan, a rebuild's start). Tracking it first costs one metadata round trip
    (1–4 ms here); a topic already tracked costs nothing."""
    await meta._client.add_topic(topic)
