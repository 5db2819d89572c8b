"""The ledger (`domain/ledger.py`) on the event log: rebuilt by one bounded replay at start, appended after.

Both engines keep it through the event-log port. An append that the log does not acknowledge is
retried (with backoff) until it is: the caller acknowledges the source events only after it returns.
"""

from __future__ import annotations

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
        """Write `entries` durably, retrying until the log acknowledges them."""
        records = [OutgoingRecord(entry.alert_id.encode(), encode_entry(entry)) for entry in entries]
        backoff = Backoff(base_s=0.2, cap_s=5.0)
        while True:
            try:
                await self.event_log.append(self.topic, records)
            except LogUnavailableError as exc:
                log.warning("ledger write not acknowledged; retrying", extra={"error": str(exc)})
                await backoff.sleep()
                continue
            return
