"""The notifier's one handler body: a batch of records (one lane's sync-events or operator-events) in, owed
alerts out.

Both entry points call `Notifier.handle` with the records they read (FastStream's Kafka subscribers,
and the event-log port's subscriptions on the embedded engine), and acknowledge the records' position
only after it returns. `handle` returns once every alert the batch calls for is durable in the
ledger (`AlertQueued`); it never waits for a delivery. So an acknowledged position never loses an
alert (it is owed in the ledger), and a dead receiver never holds the consumer back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime

from mallbridge_core.tenants import Tenant
from mallbridge_notify.adapters.ledger_log import LedgerLog
from mallbridge_notify.delivery import Deliveries
from mallbridge_notify.domain.alerts import Alert, Channel, alert_for, alert_id, is_stale
from mallbridge_notify.domain.ledger import AlertQueued, LedgerState
from mallbridge_notify.domain.records import UnreadableRecord
from mallbridge_notify.metrics import NotifyMetrics
from mallbridge_schema.events import OperatorEvent, SyncEvent

log = logging.getLogger(__name__)


class Notifier:
    def __init__(
        self,
        *,
        tenants: Mapping[str, Tenant],
        channels: Callable[[Tenant], Sequence[Channel]],
        ledger: LedgerLog,
        state: LedgerState,
        deliveries: Deliveries,
        metrics: NotifyMetrics,
        max_age_s: float,
        clock: Callable[[], datetime],
    ) -> None:
        self._tenants = tenants
        self._channels = channels
        self.ledger = ledger
        self._state = state
        self.deliveries = deliveries
        self._metrics = metrics
        self._max_age_s = max_age_s
        self._clock = clock

    async def handle(
        self, records: Sequence[SyncEvent | OperatorEvent | UnreadableRecord], *, lane: str, topic: str
    ) -> None:
        """Queue the alerts `records` call for; return when they are durable in the ledger.

        `topic` is the records' topic without prefix and lane (`sync-events.v1`, `operator-events.v1`):
        which counters count them.
        """
        read, unreadable = self._metrics.read_counters(topic)
        read.labels(lane).inc(len(records))
        owed: list[AlertQueued] = []
        now = self._clock()
        for record in records:
            if isinstance(record, UnreadableRecord):
                unreadable.labels(lane, record.kind).inc()
                log.debug("record skipped", extra={"lane": lane, "topic": topic, "problem": record.problem})
                continue
            alert = alert_for(record)
            if alert is not None:
                owed.extend(self._owed(alert, now=now, already=owed))
        if not owed:
            return
        await self.ledger.append(owed)
        for queued in owed:
            self._state.apply(queued)
            self._metrics.queued.labels(queued.tenant_id, queued.channel, queued.alert.kind).inc()
            self.deliveries.submit(queued)

    def _owed(self, alert: Alert, *, now: datetime, already: Sequence[AlertQueued]) -> list[AlertQueued]:
        tenant = self._tenants.get(alert.tenant_id)
        if tenant is None:
            self._metrics.skipped.labels("unknown_tenant").inc()
            return []
        if is_stale(alert.recorded_at, now=now, max_age_s=self._max_age_s):
            self._metrics.skipped.labels("stale").inc()
            return []
        channels = self._channels(tenant)
        if not channels:
            self._metrics.skipped.labels("no_target").inc()
            return []
        in_batch = {queued.alert_id for queued in already}
        owed = []
        for channel in channels:
            key = alert_id(alert.event_id, channel)
            if self._state.knows(key) or key in in_batch:
                self._metrics.skipped.labels("duplicate").inc()
                continue
            owed.append(
                AlertQueued(alert_id=key, channel=channel, tenant_id=tenant.tenant_id, alert=alert, queued_at=now)
            )
        return owed
