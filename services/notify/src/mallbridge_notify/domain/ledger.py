"""The notifier's ledger: which alert is owed on which channel, and which went out (pure fold).

Topic `{prefix}notify-alerts.v1`, written by `mallbridge notify` only, keyed by the alert id
`{event_id}:{channel}` (so Kafka's log compaction keeps the last record per alert). Two records:
- `AlertQueued`: the alert is owed on this channel; durable *before* the position (on sync-events or
  operator-events) that contains its source event is acknowledged, so an acknowledged event's alert is
  never lost;
- `AlertDelivered`: the receiver accepted it (webhook 2xx, SMTP accepted the message).
An alert id the ledger knows is never queued again, so a redelivered event (a restart, a rebalance)
alerts no one twice. What is queued and not delivered is sent after a restart.

Reading is tolerant both ways: a field added to `Alert` has a default, so an older notifier's records
still read; a record this build does not know (a newer kind or type) reads as None and is skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter

from mallbridge_notify.domain.alerts import Alert, Channel, is_stale
from mallbridge_schema.serde import NOTIFY_ALERTS_TOPIC

LEDGER_TOPIC = NOTIFY_ALERTS_TOPIC


class LedgerEntry(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    schema_version: int = 1
    alert_id: str = Field(description="`{event_id}:{channel}`, the record's key")
    channel: Channel
    tenant_id: str


class AlertQueued(LedgerEntry):
    """The alert is owed on `channel`; the source event's position may be acknowledged."""

    type: Literal["AlertQueued"] = "AlertQueued"
    alert: Alert
    queued_at: AwareDatetime


class AlertDelivered(LedgerEntry):
    """The receiver accepted the alert on `channel`."""

    type: Literal["AlertDelivered"] = "AlertDelivered"
    delivered_at: AwareDatetime
    attempts: int = Field(ge=1)
    recorded_at: AwareDatetime = Field(description="when the alert's source event was written")


LedgerRecord = Annotated[AlertQueued | AlertDelivered, Field(discriminator="type")]
LEDGER_ADAPTER: TypeAdapter[LedgerRecord] = TypeAdapter(LedgerRecord)


def encode_entry(entry: LedgerEntry) -> bytes:
    return entry.__pydantic_serializer__.to_json(entry)


def decode_entry(raw: bytes) -> LedgerRecord | None:
    """A ledger record, or None for one this build does not know (a newer notifier's)."""
    try:
        return LEDGER_ADAPTER.validate_json(raw)
    except ValueError:
        return None


@dataclass
class LedgerState:
    """Owed alerts in the order they were queued, and the ids of those delivered."""

    pending: dict[str, AlertQueued] = field(default_factory=dict)
    delivered: set[str] = field(default_factory=set)

    def knows(self, alert_id: str) -> bool:
        return alert_id in self.pending or alert_id in self.delivered

    def apply(self, entry: LedgerRecord) -> None:
        if isinstance(entry, AlertQueued):
            if entry.alert_id not in self.delivered:
                self.pending.setdefault(entry.alert_id, entry)
        else:
            self.pending.pop(entry.alert_id, None)
            self.delivered.add(entry.alert_id)


def fold_ledger(entries: Iterable[LedgerRecord], *, now: datetime, max_age_s: float) -> LedgerState:
    """The ledger's state after `entries`; delivered alerts older than `max_age_s` are forgotten.

    Forgetting them bounds memory and loses nothing: an event older than `max_age_s` is stale, and the
    notifier never queues a stale alert, so such an id could never be queued again anyway.
    """
    state = LedgerState()
    ages: dict[str, datetime] = {}
    for entry in entries:
        state.apply(entry)
        if isinstance(entry, AlertDelivered):
            ages[entry.alert_id] = entry.recorded_at
    state.delivered -= {i for i, recorded_at in ages.items() if is_stale(recorded_at, now=now, max_age_s=max_age_s)}
    # a restart sends what was owed in the order the events were written (the ledger's partitions mix it)
    state.pending = dict(sorted(state.pending.items(), key=lambda item: item[1].alert.recorded_at))
    return state
