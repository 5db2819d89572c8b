"""The embedded-engine entry point: the same handler run from the event-log port's subscription.

FastStream has no broker for the SQLite log, so this loop plays the subscriber's part: poll a batch,
read each record tolerantly (`read_sync_record`, the function `SyncRecord` validates with), call
`Notifier.handle`, and only then commit the offsets after the batch. It speaks only the port, so it
runs on either engine; `mallbridge notify` uses it when `--log` is `sqlite://`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from mallbridge_core.eventlog import EventLog
from mallbridge_notify.domain.records import read_sync_record
from mallbridge_notify.notifier import Notifier


class LogSubscriptionConsumer:
    """Reads one lane's sync-events through `EventLog.subscribe` until `stop` is set."""

    def __init__(self, event_log: EventLog, *, topic: str, group: str, lane: str, notifier: Notifier) -> None:
        self._log = event_log
        self._topic = topic
        self._group = group
        self._lane = lane
        self._notifier = notifier
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
                await self._notifier.handle([read_sync_record(r.value) for r in records], lane=self._lane)
                ends: dict[int, int] = {}
                for record in records:
                    ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
                await subscription.commit(ends)
        finally:
            await subscription.close()
