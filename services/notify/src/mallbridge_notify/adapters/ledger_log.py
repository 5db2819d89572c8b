"""The ledger (`domain/ledger.py`) on the event log: rebuilt by one bounded replay at start, appended after.

Both engines keep it through the event-log port. Appends are group-committed: whatever the handler and
the delivery workers hand in while one write is under way goes out together in the next, and each
caller returns when its own entries are durable. (Every delivery records its `AlertDelivered`; one write
per delivery would cost about as much CPU as the webhook call itself.) A write the log does not
acknowledge is retried with backoff until it is.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime

from mallbridge_core.backoff import Backoff
from mallbridge_core.eventlog import EventLog, LogUnavailableError, OutgoingRecord
from mallbridge_notify.domain.ledger import (
    LedgerEntry,
    LedgerRecord,
    LedgerState,
    decode_entry,
    encode_entry,
    fold_ledger,
)

log = logging.getLogger(__name__)


class LedgerLog:
    def __init__(self, event_log: EventLog, topic: str) -> None:
        self.event_log = event_log
        self.topic = topic
        self._waiting: list[tuple[list[OutgoingRecord], asyncio.Future[None]]] = []
        self._writer: asyncio.Task[None] | None = None

    async def rebuild(self, *, now: datetime, max_age_s: float) -> LedgerState:
        """The ledger's state, read from offset 0 to its end now."""
        entries: list[LedgerRecord] = []
        async for batch in self.event_log.replay(self.topic):
            for record in batch:
                entry = decode_entry(record.value)
                if entry is not None:
                    entries.append(entry)
        return fold_ledger(entries, now=now, max_age_s=max_age_s)

    async def append(self, entries: Sequence[LedgerEntry]) -> None:
        """Return when `entries` are durable (retrying until the log acknowledges them)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append(([OutgoingRecord(e.alert_id.encode(), encode_entry(e)) for e in entries], done))
        if self._writer is None or self._writer.done():
            self._writer = asyncio.create_task(self._write_waiting(), name="notify-ledger-writer")
        await asyncio.shield(done)  # a cancelled caller leaves the write to finish for the others

    async def _write_waiting(self) -> None:
        taken: list[tuple[list[OutgoingRecord], asyncio.Future[None]]] = []
        try:
            while self._waiting:
                taken, self._waiting = self._waiting, []
                await self._write([record for records, _ in taken for record in records])
                for _, done in taken:
                    if not done.done():
                        done.set_result(None)
                taken = []
        finally:  # cancelled (shutdown): nobody may wait for what was not written
            for _, done in [*taken, *self._waiting]:
                done.cancel()

    async def _write(self, records: list[OutgoingRecord]) -> None:
        backoff = Backoff(base_s=0.2, cap_s=5.0)
        while True:
            try:
                await self.event_log.append(self.topic, records)
            except LogUnavailableError as exc:
                log.warning("ledger write not acknowledged; retrying", extra={"error": str(exc)})
                await backoff.sleep()
                continue
            return

    async def close(self) -> None:
        """Wait for the write under way, if any (after the last caller has handed in its entries)."""
        if self._writer is not None and not self._writer.done():
            await asyncio.wait([self._writer], timeout=10)
