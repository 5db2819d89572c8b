"""The embedded-engine entry point: the same handler run from the event-log port's subscription.

FastStream has no broker for the SQLite log, so this loop plays a subscriber's part: poll a batch,
read each record tolerantly (`read_sync_record` or `read_operator_record`, the functions `SyncRecord` and
`OperatorRecord` validate with), call `Notifier.handle`, and only then commit the offsets after the
batch. It speaks only the port, so it runs on either engine; `mallbridge notify` runs two per lane (its
sync-events and its operator-events, each in the group the Kafka subscriber would use) when `--log` is
`sqlite://`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping

from mallbridge_core.eventlog import EventLog
from mallbridge_notify.domain.records import UnreadableRecord
from mallbridge_notify.notifier import Notifier
from mallbridge_schema.events import OperatorEvent, SyncEvent

RecordReader = Callable[[object], SyncEvent | OperatorEvent | UnreadableRecord]


class LogSubscriptionConsumer:
    """Reads one lane's topic through `EventLog.subscribe` until `stop` is set.

    `read` turns a record's value into an event (`read_sync_record`, `read_operator_record`);
    `topic_label` is the topic without prefix and lane (`sync-events.v1`, `operator-events.v1`), the
    metrics' label.
    """

    def __init__(
        self,
        event_log: EventLog,
        *,
        topic: str,
        group: str,
        lane: str,
        notifier: Notifier,
        read: RecordReader,
        topic_label: str,
    ) -> None:
        self._log = event_log
        self._topic = topic
        self._group = group
        self._lane = lane
        self._notifier = notifier
        self._read = read
        self._topic_label = topic_label
        self.assigned = False

    async def _on_assigned(self, partitions: frozenset[int]) -> Mapping[int, int]:
        self.assigned = True
        return {}  # start at the committed offsets (0 where none)

    async def _on_revoked(self, partitions: frozenset[int]) -> None:
        return None  # every handled batch is committed before the next poll

    async def run(self, stop: asyncio.Event) -> None:
        subscription = await self._log.subscribe(
            self._topic, group=self._group, on_assigned=self._on_assigned, on_revoked=self._on_revoked
        )
        try:
            while not stop.is_set():
                records = await subscription.poll(timeout_s=0.2)
                if not records:
                    continue
                events = [self._read(r.value) for r in records]
                await self._notifier.handle(events, lane=self._lane, topic=self._topic_label)
                ends: dict[int, int] = {}
                for record in records:
                    ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
                await subscription.commit(ends)
        finally:
            await subscription.close()
