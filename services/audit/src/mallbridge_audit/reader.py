"""Reading the log for the audit: the three topics of every lane, from offset 0 to the end offsets taken at start.

Only the EventLog port is used (Kafka or the embedded engine alike): `end_offsets` once per topic before
anything is read, then `replay(topic, stop=those)`, which uses no consumer group and commits nothing,
so the audit never waits for new data and leaves no trace. One kind of topic is read after another, in
the order of `KINDS`: every lane's order-events, then operator-events, then sync-events (the verifier
needs each order's facts, and what people asked for, before the publisher's decisions).

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
    decode_operator_fact,
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
class Kind:
    """One kind of topic: how a lane names it, and how its records are decoded and fed."""

    name: str
    topic_of: Callable[[Topics], str]
    decode_full: Callable[[bytes], Any]
    decode_fact: Callable[[bytes], Any]
    add_event: str  # the ReportBuilder's (and the Verifier's) method for a full event
    add_fact: str  # the ReportBuilder's method for a fast fact


KINDS: tuple[Kind, ...] = (
    Kind(
        "order",
        lambda t: t.order_events,
        decode_order_event_full,
        decode_order_fact,
        "add_order_event",
        "add_order_fact",
    ),
    Kind(
        "operator",
        lambda t: t.operator_events,
        decode_operator_event_full,
        decode_operator_fact,
        "add_operator_event",
        "add_operator_fact",
    ),
    Kind("sync", lambda t: t.sync_events, decode_sync_event_full, decode_sync_fact, "add_sync_event", "add_sync_fact"),
)
"""The kinds of topic the audit reads, in the order it reads them (a fourth kind is one more row)."""

TopicEnds = tuple[tuple[str, dict[int, int]], ...]


@dataclass(frozen=True, slots=True)
class Plan:
    """What one audit run reads: per kind (the order of KINDS), per lane, a topic and its end offsets taken
    before reading anything."""

    kinds: tuple[TopicEnds, ...]

    @property
    def topics(self) -> TopicEnds:
        """Every topic with its end offsets, in the order they are read."""
        return tuple(pair for topics in self.kinds for pair in topics)

    @property
    def by_lane(self) -> tuple[TopicEnds, ...]:
        """Per lane, its topics of every kind."""
        return tuple(zip(*self.kinds, strict=True))

    @property
    def total(self) -> int:
        return sum(sum(ends.values()) for _, ends in self.topics)


async def take_end_offsets(log: EventLog, lanes: Sequence[Topics]) -> Plan:
    """The end of every topic now; a topic that does not exist has no partitions and is read as empty."""
    kinds = []
    for kind in KINDS:
        kinds.append(tuple([(kind.topic_of(t), await log.end_offsets(kind.topic_of(t))) for t in lanes]))
    return Plan(tuple(kinds))


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
    end is not read (how parallel workers share the log). The callers turn the cyclic collector off around
    the read and what they build from it (`gc_tuning.no_cyclic_gc`).
    """
    for kind, topics in zip(KINDS, plan.kinds, strict=True):
        for topic, ends in topics:
            start = (starts or {}).get(topic, {})
            if not any(end > start.get(p, 0) for p, end in ends.items()):
                continue
            async for batch in log.replay(topic, start=start, stop=ends):
                _read_batch(batch, builder, verifier, kind)
                if progress is not None:
                    progress(len(batch))


def _read_batch(batch: list[LogRecord], builder: ReportBuilder, verifier: Verifier | None, kind: Kind) -> None:
    """Full events where a timeline or --verify needs them, narrow facts everywhere else (the fast path)."""
    scope = builder.scope
    filters = scope.filters_keys
    timelines = bool(scope.orders)
    add_event: Callable[[Any], None] = getattr(builder, kind.add_event)
    add_fact: Callable[[Any], None] = getattr(builder, kind.add_fact)
    verify: Callable[[Any], None] | None = getattr(verifier, kind.add_event) if verifier is not None else None
    decode_full, decode_fact = kind.decode_full, kind.decode_fact
    for record in batch:
        if filters and scope.wants_key(record.key) is False:
            continue
        try:
            if timelines and scope.wants_key(record.key) is not False:
                event = decode_full(record.value)
                add_event(event)
                if verify is not None:
                    verify(event)
            elif verify is not None:
                # The verifier needs the whole event; the report still folds the fast fact (equal to the
                # event's, see views.py), decoded after the event so a record the schema refuses is
                # undecodable for both, as when the report folded the event itself.
                verify(decode_full(record.value))
                add_fact(decode_fact(record.value))
            else:
                add_fact(decode_fact(record.value))
        except UnknownEventType:
            builder.skip_unknown()
        except EventDecodeError as exc:
            builder.note_undecodable(record.topic, record.partition, record.offset, str(exc))
