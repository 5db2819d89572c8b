"""The rebuild of newly assigned partitions: the lane's three topics folded from offset 0 (sync events,
order events, operator events).

A lane also folds its tenants' history from the default lane's topics first (`Topics.history()`): a
tenant moved to a lane keeps what MALL already has. With the same partition count on both, an order's
history is in the same partition number; a lane given more (or fewer) partitions than the default lane
(a big merchant's lane often is) has its history read from every partition of the default lane's topics,
each record kept only when its key falls into one of the member's partitions of the lane. Folding is
idempotent, so a rebuild cut short by the log can simply start over.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime
from typing import Any

from mallbridge_core.eventlog import EventLog, LogRecord, key_partition
from mallbridge_core.topics import Topics
from mallbridge_publisher.orders import Key
from mallbridge_schema.events import AttentionNeeded, AttentionResolved, Event, MallOrderChanged, MallStateObserved
from mallbridge_schema.serde import EventDecodeError, decode_operator_event, decode_order_event, decode_sync_event

log = logging.getLogger(__name__)


async def fold_partitions(
    log: EventLog,
    topics: Topics,
    partitions: Collection[int],
    *,
    tenants: Collection[str],
    fold: Callable[[Event, int], object],
    fold_tenant: Callable[[Event, int], object] | None = None,
) -> dict[str, dict[int, int]]:
    """Fold every event of `partitions` (sync, then order, then operator events, per lane in history order).

    In the default lane's topics read for another lane, only the events of that lane's `tenants` count.
    An event of no order (a tenant's own attention item, balance's `UnknownMallOrdersObserved`) goes to
    `fold_tenant`, if given, with the lane's partition it was read for (`fold` gets that too).
    Returns, per topic, the end offsets it was read up to (where a live tail of the topic goes on).
    """
    sources: list[tuple[str, Callable[[bytes], Any], bool]] = []
    for lane in topics.history():
        history_only = lane != topics
        sources.append((lane.sync_events, decode_sync_event, history_only))
        sources.append((lane.order_events, decode_order_event, history_only))
        sources.append((lane.operator_events, decode_operator_event, history_only))
    # the lane's own partition count, which only a lane reading the default lane's history needs to know
    lane_partitions = 0 if topics.is_default_lane else len(await log.end_offsets(topics.order_events))
    read_up_to: dict[str, dict[int, int]] = {}
    for topic, decode, only_these_tenants in sources:
        ends = await log.end_offsets(topic)
        read_up_to[topic] = ends
        # Another partition count than the lane's (history only): an order's partition number differs, so
        # every partition is read and each record goes to the partition its key has in the lane.
        rehash = only_these_tenants and len(ends) != lane_partitions
        skip = None if rehash else {p: end for p, end in ends.items() if p not in partitions}
        async for batch in log.replay(topic, start=skip, stop=ends):
            for record in batch:
                partition = _lane_partition(record, lane_partitions) if rehash else record.partition
                if partition is None or partition not in partitions:
                    continue
                event = _decoded(record, decode)
                if event is None or (only_these_tenants and event.tenant_id not in tenants):
                    continue
                if event.order_number:
                    fold(event, partition)
                elif fold_tenant is not None:
                    fold_tenant(event, partition)
    return read_up_to


def _lane_partition(record: LogRecord, lane_partitions: int) -> int | None:
    """The partition a record of the default lane's history has in a lane of another partition count (None:
    a record with no key, which no order's history has)."""
    return None if record.key is None else key_partition(record.key, lane_partitions)


def _decoded(record: LogRecord, decode: Callable[[bytes], Any]) -> Event | None:
    """The record's event, or None for one the schema cannot read (said, except order events, which are
    dead-lettered when consumed)."""
    try:
        event: Event = decode(record.value)
    except EventDecodeError as exc:
        if decode is not decode_order_event:
            _skipped(record.topic, record.partition, record.offset, exc)
        return None
    return event


def _skipped(topic: str, partition: int, offset: int, exc: EventDecodeError) -> None:
    """A sync or operator record the schema cannot read: skipped (tolerant reading), but said, at every
    rebuild that meets it (copying it to dead-letter at every rebuild would multiply it)."""
    log.warning(
        "record not understood; skipped by the rebuild",
        extra={"topic": topic, "partition": partition, "offset": offset, "error": str(exc)[:300]},
    )


class NoticesSeen:
    """A rebuild's fold that also notes MALL's notices (`MallOrderChanged`) no read has answered yet.

    After a restart the consumer goes on from the committed offset, behind the rebuild: a notice among the
    records it redelivers would only be seen after the rebuilt orders were planned, and an order MALL
    blocked or cancelled meanwhile could get a PUT MALL refuses. So the rebuild tells which notices are
    still owed a read: those with no `MallStateObserved` of their order recorded after them (compared by
    `recorded_at`: the topics are folded one after the other, not in time order). A read on a notice that
    found nothing new recorded nothing, so such a notice is read once more after a rebuild: rare (a MALL
    change resets `confirmed`, which a read records) and harmless.
    """

    def __init__(self, fold: Callable[[Event, int], Key]) -> None:
        self._fold = fold
        self._notice_at: dict[Key, datetime] = {}
        self._read_at: dict[Key, datetime] = {}

    def fold(self, event: Event, partition: int) -> Key:
        key = self._fold(event, partition)
        if type(event) is MallOrderChanged:
            self._notice_at[key] = max(event.recorded_at, self._notice_at.get(key, event.recorded_at))
        elif type(event) is MallStateObserved:
            self._read_at[key] = max(event.recorded_at, self._read_at.get(key, event.recorded_at))
        return key

    def unanswered(self) -> list[Key]:
        """The orders whose last notice came after their last read (or that were never read)."""
        return [k for k, at in self._notice_at.items() if (read := self._read_at.get(k)) is None or read < at]


class TenantItemsSeen:
    """A rebuild's view of the tenants' own attention items of one code (`mall_unauthorized`): which are
    still open, so a restarted publisher knows a tenant it paused (and does not raise the item again, nor
    leave it open when the fixed client_id works at once).

    The latest item by `recorded_at` wins (as in the audit), not the last one folded: a later rebuild of one
    more partition folds older items again after the ones this instance wrote since. Only the partitions a
    publisher rebuilds are seen: another instance may hold the item, and then raises it again itself at its
    first refusal, as before.
    """

    def __init__(self, code: str) -> None:
        self._code = code
        self._latest: dict[str, tuple[datetime, bool]] = {}

    def fold(self, event: Event) -> None:
        if (type(event) is AttentionNeeded or type(event) is AttentionResolved) and event.scope == "tenant":
            if event.code != self._code:
                return
            known = self._latest.get(event.tenant_id)
            if known is None or known[0] <= event.recorded_at:
                self._latest[event.tenant_id] = (event.recorded_at, type(event) is AttentionNeeded)

    def open_for(self) -> list[str]:
        """The tenants whose latest item of the code is open."""
        return sorted(tenant for tenant, (_, is_open) in self._latest.items() if is_open)
