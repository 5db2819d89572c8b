"""One order's history, read from the log on demand: its events in the three topics of its lane history.

For `mallbridge order ...` (the decision is made on what the log says now) and the console's order page
(the timeline). The lanes are read in history order, the default lane first (a tenant moved to a lane
wrote there before), and each lane's order-, sync- and operator-events. Records are compared by key
before anything is decoded. Every topic of one lane history shares the key → partition mapping (the
publisher folds partition p of each), so once the order's partition is known only that partition of the
next topics is read: the first topic holding the order is scanned whole, the rest cost one partition.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from mallbridge_core.domain.projection import OrderState, apply
from mallbridge_core.eventlog import EventLog
from mallbridge_core.topics import Topics
from mallbridge_schema.events import Event
from mallbridge_schema.serde import (
    EventDecodeError,
    decode_operator_event,
    decode_order_event,
    decode_sync_event,
    event_key,
)

TopicKind = Literal["order", "sync", "operator"]
_DECODERS: tuple[tuple[TopicKind, Callable[[bytes], Any]], ...] = (
    ("order", decode_order_event),
    ("sync", decode_sync_event),
    ("operator", decode_operator_event),
)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: TopicKind
    event: Event


@dataclass(frozen=True, slots=True)
class OrderHistory:
    """What the log says about one order, in log order per topic (order-, sync-, operator-events)."""

    tenant_id: str
    order_number: str
    entries: tuple[HistoryEntry, ...]
    undecodable: int = 0

    @property
    def state(self) -> OrderState | None:
        """The order's projected state (None: the log holds nothing about it). The fold does not depend on
        how the topics interleave, so reading them one after the other gives the publisher's state."""
        state: OrderState | None = None
        for entry in self.entries:
            state = apply(state, entry.event)
        return state


def lane_sources(lane: Topics) -> tuple[tuple[TopicKind, str, Callable[[bytes], Any]], ...]:
    """One lane's three topics, each with its kind and the schema's decoder, in the order they are read."""
    names = {"order": lane.order_events, "sync": lane.sync_events, "operator": lane.operator_events}
    return tuple((kind, names[kind], decode) for kind, decode in _DECODERS)


async def read_order_history(log: EventLog, topics: Topics, tenant_id: str, order_number: str) -> OrderHistory:
    """Every event of the order in `topics`' lane history (raises LogUnavailableError when the log is away)."""
    key = event_key(tenant_id, order_number)
    entries: list[HistoryEntry] = []
    undecodable = 0
    found: tuple[int, int] | None = None  # (partition, partition count) once the order was seen
    for lane in topics.history():
        for kind, topic, decode in lane_sources(lane):
            ends = await log.end_offsets(topic)
            if not any(ends.values()):
                continue
            async for batch in log.replay(topic, start=_only(found, ends), stop=ends):
                for record in batch:
                    if record.key != key:
                        continue
                    found = (record.partition, len(ends))
                    try:
                        entries.append(HistoryEntry(kind, decode(record.value)))
                    except EventDecodeError:
                        undecodable += 1
    return OrderHistory(tenant_id, order_number, tuple(entries), undecodable)


def _only(found: tuple[int, int] | None, ends: Mapping[int, int]) -> dict[int, int] | None:
    """Start offsets that skip every partition but the order's (None: read them all)."""
    if found is None or found[1] != len(ends) or found[0] not in ends:
        return None
    partition = found[0]
    return {p: end for p, end in ends.items() if p != partition}
