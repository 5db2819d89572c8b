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

    def envelope(self, state: OrderState, *, occurred_at: datetime | None = None) -> dict[str, Any]:
        now = self._clock()
        return {
            "event_id": uuid.uuid4(),
            "tenant_id": state.tenant_id,
            "order_number": state.order_number,
            "mall_order_id": state.mall_order_id,
            "occurred_at": occurred_at or now,
            "recorded_at": now,
            "based_on_seq": state.fc.seq,
        }

    async def write(self, event: SyncEventBase, *, give_up: asyncio.Event | None = None) -> None:
        """Append until the log acknowledges; an outcome MALL already gave must not be lost."""
        record = OutgoingRecord(key=event_key(event.tenant_id, event.order_number), value=encode_event(event))
        delay = 0.2
        while True:
            try:
                await self._log.append(self._topic, [record])
                return
            except LogUnavailableError as exc:
                self._on_unavailable()
                if give_up is not None and give_up.is_set():
                    raise
                log.warning(
                    "sync event not yet written; retrying", extra={"error": str(exc), "type": type(event).__name__}
                )
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, 5.0)
