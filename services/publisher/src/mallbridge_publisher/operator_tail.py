"""The live tail of the lane's operator-events topic, for the partitions this member owns (ARCHITECTURE.md §7).

What people decide (`mallbridge order return|resync|ack`) and what `mallbridge balance` saw reach the
publisher here. A rebuild folds the topic from offset 0 (`rebuild.py`) and says where it stopped
(`assign`); from there `read_news()` reads what was appended since, with the port's bounded `replay`, only
when the topic's end offsets moved for an owned partition: no consumer group and no commits, because
every assignment rebuilds from offset 0 anyway. The engine calls it about once a second, folds what it
read with `apply()` (under its rebuild lock, which the reads themselves do not hold up), and
schedules each order an event was folded for (resync and balance observations plan a read, returns and
acks plan again). Operator events share the order's key, so they sit in the same partition number as
the order's own events (the topics of a lane have the same partition count). An event of no order
(balance's `UnknownMallOrdersObserved`, key `{tenant}:`) goes to `fold_tenant` instead, as in a rebuild.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field

from mallbridge_core.eventlog import EventLog
from mallbridge_schema.events import Event
from mallbridge_schema.serde import EventDecodeError, decode_operator_event

log = logging.getLogger(__name__)
Key = tuple[str, str]


@dataclass(frozen=True, slots=True)
class News:
    """Events read past the tail's positions: per partition the range read, and the decoded events."""

    ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    events: list[tuple[int, Event]] = field(default_factory=list)


class OperatorTail:
    def __init__(
        self,
        log_: EventLog,
        topic: str,
        *,
        fold: Callable[[Event, int], Key | None],
        fold_tenant: Callable[[Event, int], object] | None = None,
    ) -> None:
        """`fold(event, partition)` takes in one decoded event of an order; it returns the order's key to
        schedule, or None when the event is not this member's business (another lane's tenant).
        `fold_tenant(event, partition)` takes in an event of no order (a tenant-level one), if given; such
        an event schedules nothing (and never reaches `fold`: it has no order to fold into)."""
        self._log = log_
        self.topic = topic
        self._fold = fold
        self._fold_tenant = fold_tenant
        self._next: dict[int, int] = {}  # owned partition -> the next offset to read

    @property
    def positions(self) -> dict[int, int]:
        return dict(self._next)

    def assign(self, partitions: Collection[int], read_up_to: Mapping[int, int]) -> None:
        """The rebuild of `partitions` folded the topic up to `read_up_to`: the tail goes on from there."""
        for partition in partitions:
            self._next[partition] = read_up_to.get(partition, 0)

    def revoke(self, partitions: Collection[int]) -> None:
        for partition in partitions:
            self._next.pop(partition, None)

    async def read_news(self) -> News:
        """What was appended to the owned partitions since the last `apply` (no lock needed: nothing is
        folded here, and `apply` drops what a rebuild meanwhile made stale)."""
        if not self._next:
            return News()
        ends = await self._log.end_offsets(self.topic)
        moved = {p: (self._next[p], end) for p, end in ends.items() if p in self._next and end > self._next[p]}
        if not moved:
            return News()
        start = {p: (moved[p][0] if p in moved else end) for p, end in ends.items()}
        events: list[tuple[int, Event]] = []
        async for batch in self._log.replay(self.topic, start=start, stop=ends):
            for record in batch:
                if record.partition in moved:
                    event = self._decode(record.value, record.partition, record.offset)
                    if event is not None:
                        events.append((record.partition, event))
        return News(moved, events)

    def apply(self, news: News) -> list[Key]:
        """Fold `news` (synchronously: call it holding the engine's rebuild lock); the keys to schedule.

        A partition revoked, or rebuilt from another position, since `read_news` is skipped: its rebuild
        has folded the same events already.
        """
        current = {p for p, (begin, _) in news.ranges.items() if self._next.get(p) == begin}
        keys: dict[Key, None] = {}
        for partition, event in news.events:
            if partition not in current:
                continue
            if not event.order_number:
                if self._fold_tenant is not None:
                    self._fold_tenant(event, partition)
            elif (key := self._fold(event, partition)) is not None:
                keys[key] = None
        for partition in current:
            self._next[partition] = news.ranges[partition][1]
        return list(keys)

    def _decode(self, value: bytes, partition: int, offset: int) -> Event | None:
        try:
            event = decode_operator_event(value)
        except EventDecodeError as exc:
            # tolerant reader: a newer writer's event type, or a bad record, is skipped (never retried)
            log.warning(
                "operator event not understood; skipped",
                extra={"topic": self.topic, "partition": partition, "offset": offset, "error": str(exc)[:300]},
            )
            return None
        return event
