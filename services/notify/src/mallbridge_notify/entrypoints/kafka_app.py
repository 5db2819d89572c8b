"""The Kafka entry point: a FastStream application, two batch subscribers per lane: its sync-events and
its operator-events.

Each subscriber is typed with the schema's union of its topic (`SyncRecord`, `OperatorRecord`: read
tolerantly, so an unknown type or a broken record is skipped, never fatal), has its own consumer group,
starts at the earliest offset when the group has none, and uses `AckPolicy.ACK`. The groups, for
`--group G`: sync-events `G` (default lane) or `G.x` (lane `x`); operator-events `G.default.operator` or
`G.x.operator`. A lane name holds no dot, so no operator group is ever some lane's sync group.

What `AckPolicy.ACK` commits, as faststream 0.7.8 (with aiokafka 0.14) does it: when the handler has
returned, and also when it raised anything other than faststream's own `HandlerException`s or a
cancellation, `KafkaAckableMessage.ack()` calls `AIOKafkaConsumer.commit()` with no offsets, which
commits the consumer's whole position: for every partition assigned to that subscriber's consumer,
the offset after the last record it handed out. A subscriber fetches its next batch only after the
handler and the ack returned, so that position covers exactly the records handled so far.

What that position means here: `Notifier.handle` returns once the batch's alerts are durable in the
ledger (`AlertQueued`), not once they are delivered; delivery is tracked in the ledger, per alert. So
the committed position says "read, and every alert it calls for owed in the ledger". That is why one
tenant's dead webhook never holds back the position (nor anyone else's alerts), and why nothing is
lost at a crash: what is owed and undelivered is sent after the next start. Because ACK would also
commit after an unexpected exception, the handler turns one into `NackMessage` (faststream seeks back
to the batch's first records and commits nothing) and stops the service (crash-only).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from faststream import AckPolicy, FastStream
from faststream.exceptions import NackMessage
from faststream.kafka import KafkaBroker
from faststream.kafka.schemas import Topic

from mallbridge_notify.domain.records import OperatorRecord, SyncRecord
from mallbridge_notify.notifier import Notifier
from mallbridge_schema.serde import OPERATOR_EVENTS_TOPIC, SYNC_EVENTS_TOPIC

log = logging.getLogger(__name__)
BATCH_MAX_RECORDS = 500
TOPIC_ALREADY_EXISTS = 36  # Kafka protocol error code


class AssignmentWatch:
    """A rebalance listener that remembers that this subscriber has been given its partitions."""

    def __init__(self) -> None:
        self.assigned = False

    async def on_partitions_assigned(self, assigned: set[Any]) -> None:
        self.assigned = True

    async def on_partitions_revoked(self, revoked: set[Any]) -> None:
        return None


def record_values(message: Any) -> list[bytes]:
    """The batch's raw record values (faststream's decoder would parse JSON itself; the schema's decoders,
    with their upcasters, do that in `SyncRecord` and `OperatorRecord`)."""
    body = message.body
    return list(body) if isinstance(body, list | tuple) else [body]


def lane_group(group: str, lane: str) -> str:
    """The consumer group of a lane's sync-events (the default lane's is `group` itself, as ever)."""
    return group if lane == "default" else f"{group}.{lane}"


def operator_group(group: str, lane: str) -> str:
    """The consumer group of a lane's operator-events: two segments after `group`, where a sync group
    has at most one (a lane name has no dot), so the two never collide, not even for a lane "operator"."""
    return f"{group}.{lane}.operator"


def build_kafka_app(
    bootstrap: str,
    *,
    sync_topics: Mapping[str, str],
    operator_topics: Mapping[str, str],
    group: str,
    notifier: Notifier,
    on_crash: Callable[[BaseException], None],
) -> tuple[FastStream, KafkaBroker, dict[str, AssignmentWatch]]:
    """A FastStream app with a subscriber on each lane's sync-events and one on its operator-events (lane ->
    topic in `sync_topics` and `operator_topics`); the watches are keyed by topic."""
    broker = KafkaBroker(
        bootstrap.split(","),
        client_id="mallbridge-notify",
        logger=log,
        log_level=logging.DEBUG,  # faststream logs every message it consumes: not at INFO
    )
    watches: dict[str, AssignmentWatch] = {}
    for lane, topic in sync_topics.items():
        watches[topic] = _subscribe(
            broker,
            topic,
            group=lane_group(group, lane),
            handler=_sync_handler(notifier, lane, on_crash),
            description="Attention events of this lane, pushed to each tenant's webhook and/or e-mail.",
        )
    for lane, topic in operator_topics.items():
        watches[topic] = _subscribe(
            broker,
            topic,
            group=operator_group(group, lane),
            handler=_operator_handler(notifier, lane, on_crash),
            description="Balance's MALL orders unknown to FastCentrik, pushed to each tenant's webhook and/or e-mail.",
        )
    return FastStream(broker, logger=log), broker, watches


def _subscribe(
    broker: KafkaBroker, topic: str, *, group: str, handler: Callable[..., Any], description: str
) -> AssignmentWatch:
    watch = AssignmentWatch()
    subscriber = broker.subscriber(
        # declare=False: FastStream would create a missing topic with 1 partition; mallbridge creates its
        # topics with the configured count (the service ensures them before it starts the broker)
        Topic(topic, declare=False),
        group_id=group,
        batch=True,
        max_records=BATCH_MAX_RECORDS,
        batch_timeout_ms=200,
        auto_offset_reset="earliest",
        ack_policy=AckPolicy.ACK,
        decoder=record_values,
        listener=watch,
        title=f"{topic}:notify",
        description=description,
    )
    subscriber(handler)
    return watch


# Two handlers, not one: FastStream reads each record through the type of the handler's parameter.


def _sync_handler(notifier: Notifier, lane: str, on_crash: Callable[[BaseException], None]) -> Callable[..., Any]:
    async def on_sync_events(events: list[SyncRecord]) -> None:
        try:
            await notifier.handle(events, lane=lane, topic=SYNC_EVENTS_TOPIC)
        except Exception as exc:
            on_crash(exc)
            raise NackMessage() from exc

    return on_sync_events


def _operator_handler(notifier: Notifier, lane: str, on_crash: Callable[[BaseException], None]) -> Callable[..., Any]:
    async def on_operator_events(events: list[OperatorRecord]) -> None:
        try:
            await notifier.handle(events, lane=lane, topic=OPERATOR_EVENTS_TOPIC)
        except Exception as exc:
            on_crash(exc)
            raise NackMessage() from exc

    return on_operator_events


async def ensure_compacted(bootstrap: str, topic: str, *, partitions: int) -> None:
    """Create `topic` with `cleanup.policy=compact` through FastStream's admin client, if it is missing.

    The event-log port creates topics that keep every record forever; the ledger needs only the last
    record per key. A topic that exists already is left as it is (its policy is the operator's).
    """
    broker = KafkaBroker(bootstrap.split(","), client_id="mallbridge-notify-admin", logger=None)
    try:
        await broker.connect()
        new_topic = Topic(topic, num_partitions=partitions).to_aiokafka()
        new_topic.topic_configs = {"cleanup.policy": "compact"}
        response = await broker.config.admin_client.create_topics([new_topic])
    finally:
        await broker.stop()
    for error in response.to_object().get("topic_errors", ()):
        code = error.get("error_code", 0)
        if code not in (0, TOPIC_ALREADY_EXISTS):
            log.warning("ledger topic not created as compacted", extra={"topic": topic, "error_code": code})
