"""Reading the log for the audit: the three topics of every lane, from offset 0 to the end offsets taken at start.

Only the EventLog port is used (Kafka or the embedded engine alike): `end_offsets` once per topic before
anything is read, then `replay(topic, stop=those)`, which uses no consumer group and commits nothing,
so the audit never waits for new data and leaves no trace. All order-events topics are read first, then
operator-events (what people decided), then sync-events (the verifier needs each order's facts and
people's requests before the publisher's decisions). Operator events are few and always decoded whole.

Records whose key names an order outside the scope are skipped without decoding. Values are decoded
with the fast views (`views.py`); records of the orders whose timeline is kept, and every record when
verifying, are decoded in full by the schema.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.verify import Verifier
from mallbridge_audit.views import (
    UnknownEventType,
    decode_operator_event_full,
    decode_order_event_full,
    decode_order_fact,
    decode_sync_event_full,
    decode_sync_fact,
)
from mallbridge_core.eventlog.port import EventLog, LogRecord
from mallbridge_core.topics import Topics
from mallbridge_schema.serde import EventDecodeError

Progress = Callable[[int], None]
"""Called with the number of records just read (for a progress bar)."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What one audit run reads: per topic, the end offsets taken before reading anything."""

    order_topics: tuple[tuple[str, dict[int, int]], ...]
    sync_topics: tuple[tuple[str, dict[int, int]], ...]
    operator_topics: tuple[tuple[str, dict[int, int]], ...] = ()

    @property
    def topics(self) -> tuple[tuple[str, dict[int, int]], ...]:
        """Every topic with its end offsets, in the order they are read."""
        return (*self.order_topics, *self.operator_topics, *self.sync_topics)

    @property
    def total(self) -> int:
        return sum(sum(ends.values()) for _, ends in self.topics)


async def take_end_offsets(log: EventLog, lanes: Sequence[Topics]) -> Plan:
    """The end of every topic now; a topic that does not exist has no partitions and is read as empty."""
    orders = tuple([(t.order_events, await log.end_offsets(t.order_events)) for t in lanes])
    syncs = tuple([(t.sync_events, await log.end_offsets(t.sync_events)) for t in lanes])
    operators = tuple([(t.operator_events, await log.end_offsets(t.operator_events)) for t in lanes])
    return Plan(orders, syncs, operators)


async def read_log(
    log: EventLog,
    plan: Plan,
    builder: ReportBuilder,
    *,
    verifier: Verifier | None = None,
    progress: Progress | None = None,
    starts: Mapping[str, Mapping[int, int]] | None = None,
) -> None:
    """Feed every record of the plan into the builder (and the verifier), one kind of topic after another.

    `starts`: per topic, the offset to start each partition at (default 0); a partition starting at its
    end is not read (how parallel workers share the log).
    """
    kinds = (
        (plan.order_topics, _order_batch),
        (plan.operator_topics, _operator_batch),
        (plan.sync_topics, _sync_batch),
    )
    for topics, read_batch in kinds:
        for topic, ends in topics:
            start = (starts or {}).get(topic, {})
            if not any(end > start.get(p, 0) for p, end in ends.items()):
                continue
            async for batch in log.replay(topic, start=start, stop=ends):
                read_batch(batch, builder, verifier)
                if progress is not None:
                    progress(len(batch))


def _order_batch(batch: list[LogRecord], builder: ReportBuilder, verifier: Verifier | None) -> None:
    _read_batch(
        batch,
        builder,
        decode_order_event_full,
        builder.add_order_event,
        verifier.add_order_event if verifier is not None else None,
        decode_order_fact,
        builder.add_order_fact,
    )


def _operator_batch(batch: list[LogRecord], builder: ReportBuilder, verifier: Verifier | None) -> None:
    scope = builder.scope
    for record in batch:
        if scope.filters_keys and scope.wants_key(record.key) is False:
            continue
        try:
            event = decode_operator_event_full(record.value)
        except UnknownEventType:
            builder.skip_unknown()
            continue
        except EventDecodeError as exc:
            builder.note_undecodable(record.topic, record.partition, record.offset, str(exc))
            continue
        builder.add_operator_event(event)
        if verifier is not None:
            verifier.add_operator_event(event)


def _sync_batch(batch: list[LogRecord], builder: ReportBuilder, verifier: Verifier | None) -> None:
    _read_batch(
        batch,
        builder,
        decode_sync_event_full,
        builder.add_sync_event,
        verifier.add_sync_event if verifier is not None else None,
        decode_sync_fact,
        builder.add_sync_fact,
    )


def _read_batch(
    batch: list[LogRecord],
    builder: ReportBuilder,
    decode_full: Callable[[bytes], Any],
    add_event: Callable[[Any], None],
    verify: Callable[[Any], None] | None,
    decode_fact: Callable[[bytes], Any],
    add_fact: Callable[[Any], None],
) -> None:
    """Full events where a timeline or --verify needs them, narrow facts everywhere else (the fast path)."""
    scope = builder.scope
    filters = scope.filters_keys
    timelines = bool(scope.orders)
    for record in batch:
        if filters and scope.wants_key(record.key) is False:
            continue
        try:
            if verify is not None or (timelines and scope.wants_key(record.key) is not False):
                event = decode_full(record.value)
                add_event(event)
                if verify is not None:
                    verify(event)
            else:
                add_fact(decode_fact(record.value))
        except UnknownEventType:
            builder.skip_unknown()
        except EventDecodeError as exc:
            builder.note_undecodable(record.topic, record.partition, record.offset, str(exc))
