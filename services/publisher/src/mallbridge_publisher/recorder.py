"""Builds sync events with their envelope and writes them durably before the projection sees them."""

from __future__ import annotations

import asyncio
import logging
import random
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.eventlog import EventLog, LogUnavailableError, OutgoingRecord
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

    def envelope(
        self, state: OrderState, *, occurred_at: datetime | None = None, based_on_seq: int | None = None
    ) -> dict[str, Any]:
        """The common fields of a sync event about `state`'s order; `based_on_seq` defaults to the order
        event seq the state is at (give the seq a decision was made on when that was earlier)."""
        now = self._clock()
        return {
            "event_id": uuid.uuid4(),
            "tenant_id": state.tenant_id,
            "order_number": state.order_number,
            "mall_order_id": state.mall_order_id,
            "occurred_at": occurred_at or now,
            "recorded_at": now,
            "based_on_seq": state.fc.seq if based_on_seq is None else based_on_seq,
        }

    async def write(self, event: SyncEventBase, *, give_up: asyncio.Event | None = None) -> None:
        """Append until the log acknowledges; an outcome MALL already gave must not be lost."""
        record = OutgoingRecord(key=event_key(event.tenant_id, event.order_number), value=encode_event(event))
        await self.append_until_written(self._topic, record, what=type(event).__name__, give_up=give_up)

    async def append_until_written(
        self, topic: str, record: OutgoingRecord, *, what: str, give_up: asyncio.Event | None = None
    ) -> None:
        """Append `record` to `topic`, retrying with backoff while the log is unavailable (each failure
        is reported through `on_unavailable`); with `give_up` set, the failure is raised instead."""
        delay = 0.2
        while True:
            try:
                await self._log.append(topic, [record])
                return
            except LogUnavailableError as exc:
                self._on_unavailable()
                if give_up is not None and give_up.is_set():
                    raise
                log.warning("record not yet written; retrying", extra={"error": str(exc), "type": what, "topic": topic})
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
