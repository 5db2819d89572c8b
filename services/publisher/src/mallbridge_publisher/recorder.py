"""Writes the publisher's records durably: sync events before the projection sees them, dead letters.

An outcome MALL already gave must not be lost, so every write is retried (with the one backoff policy)
until the log acknowledges it; each failure is reported through `on_unavailable`, so the engine knows
the log was away and rejoins its group once it answers again.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import datetime

from mallbridge_core.backoff import Backoff
from mallbridge_core.eventlog import EventLog, LogRecord, LogUnavailableError, OutgoingRecord
from mallbridge_publisher.effects import Stamp
from mallbridge_schema.events import SyncEventBase
from mallbridge_schema.serde import encode_event, event_key

log = logging.getLogger(__name__)


class SyncRecorder:
    def __init__(
        self,
        log_: EventLog,
        topic: str,
        *,
        clock: Callable[[], datetime],
        on_unavailable: Callable[[], None] = lambda: None,
    ) -> None:
        self._log = log_
        self._on_unavailable = on_unavailable
        self._topic = topic
        self._clock = clock

    def stamp(self) -> Stamp:
        """The moment and the id source for the sync events about to be built."""
        return Stamp(now=self._clock(), new_id=uuid.uuid4)

    async def write(self, event: SyncEventBase) -> None:
        """Append `event` to the sync-events topic until the log acknowledges it."""
        record = OutgoingRecord(key=event_key(event.tenant_id, event.order_number), value=encode_event(event))
        await self.append_until_written(self._topic, record, what=type(event).__name__)

    async def append_until_written(self, topic: str, record: OutgoingRecord, *, what: str) -> None:
        """Append `record` to `topic`, retrying with backoff while the log is unavailable."""
        backoff = Backoff(base_s=0.2, cap_s=5.0)
        while True:
            try:
                await self._log.append(topic, [record])
                return
            except LogUnavailableError as exc:
                self._on_unavailable()
                log.warning("record not yet written; retrying", extra={"error": str(exc), "type": what, "topic": topic})
                await backoff.sleep()


def dead_letter(record: LogRecord, error: str) -> OutgoingRecord:
    """`record` as it goes to the dead-letter topic: same key and value, its origin and error in headers."""
    headers = (
        ("source-topic", record.topic.encode()),
        ("source-partition", str(record.partition).encode()),
        ("source-offset", str(record.offset).encode()),
        ("error", error[:2000].encode()),
    )
    return OutgoingRecord(record.key, record.value, headers)
