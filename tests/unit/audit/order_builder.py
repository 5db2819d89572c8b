"""The event builder of the audit's recorded scenarios (scenario.py, mall_scenario.py): one order's order
events and the sync events a publisher writes for it, each call one event with every field spelled out."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    ObservationSource,
    ObservedField,
    OrderEventBase,
    OrderFirstSeen,
    OrderStatusChanged,
    StepDeferred,
    SyncEventBase,
    TrackingAssigned,
)
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

T = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
URL = "https://tracking.example/"
_NS = uuid.UUID("6f1c3d1e-7d3a-4bde-9a55-0c6c1b1f0000")


@dataclass
class Order:
    tenant: str
    number: str
    mall_id: str
    order_events: list[OrderEventBase] = field(default_factory=list)
    sync_events: list[SyncEventBase] = field(default_factory=list)

    def _env(self, kind: str, n: int, occurred: datetime, recorded: datetime) -> dict[str, Any]:
        return {
            "event_id": uuid.uuid5(_NS, f"{self.tenant}:{self.number}:{kind}:{n}"),
            "tenant_id": self.tenant,
            "order_number": self.number,
            "mall_order_id": self.mall_id,
            "occurred_at": occurred,
            "recorded_at": recorded,
        }

    # ---- FastCentrik facts (recorded 1 s after they happened) ----

    def seen(self, at: datetime, status: str, **extra: Any) -> None:
        fc = FastCentrikStatus(status)
        self.order_events.append(
            OrderFirstSeen(**self._env("o", 1, at, at + S), seq=1, status=fc, status_label=fc.value, **extra)
        )

    def changed(self, at: datetime, before: str, after: str) -> None:
        seq = len(self.order_events) + 1
        self.order_events.append(
            OrderStatusChanged(
                **self._env("o", seq, at, at + S),
                seq=seq,
                from_status=FastCentrikStatus(before),
                to_status=FastCentrikStatus(after),
                status_label=after,
            )
        )

    def tracking(self, at: datetime, number: str) -> None:
        seq = len(self.order_events) + 1
        self.order_events.append(
            TrackingAssigned(
                **self._env("o", seq, at, at + S), seq=seq, tracking_number=number, tracking_url=URL + number
            )
        )

    def delivery(self, at: datetime, value: str) -> None:
        seq = len(self.order_events) + 1
        self.order_events.append(DeliveryDateSet(**self._env("o", seq, at, at + S), seq=seq, delivered_at=value))

    # ---- the publisher's records ----

    def _sync_env(self, at: datetime) -> dict[str, Any]:
        return self._env("s", len(self.sync_events) + 1, at, at)

    def put(
        self,
        at: datetime,
        no: int,
        body: dict[str, Any],
        *,
        based_on: int,
        answer: timedelta = S,
        refused: bool = False,
        status_now: str | None = None,
    ) -> None:
        """MallUpdateRequested at `at`, then MALL's answer `answer` later. A confirm-only body (no status)
        names the status MALL has in `status_now`."""
        status = MallStatus(str(body.get("status", status_now)))
        self.sync_events.append(
            MallUpdateRequested(**self._sync_env(at), based_on_seq=based_on, request_no=no, status=status, request=body)
        )
        if refused:
            self.sync_events.append(
                MallUpdateRejected(
                    **self._sync_env(at + answer),
                    based_on_seq=based_on,
                    request_no=no,
                    status=status,
                    request=body,
                    http_status=400,
                    response={"result": {"code": 400, "status": "ERROR", "message": "Invalid status transition"}},
                    message="Invalid status transition",
                )
            )
            return
        self.sync_events.append(
            MallStatusUpdated(
                **self._sync_env(at + answer),
                based_on_seq=based_on,
                request_no=no,
                status=status,
                request=body,
                http_status=200,
                latency_ms=answer.total_seconds() * 1000,
            )
        )

    def put_in_doubt(self, at: datetime, no: int, body: dict[str, Any], *, based_on: int) -> None:
        """MallUpdateRequested at `at` whose answer was lost (a timeout): no outcome is recorded."""
        status = MallStatus(str(body["status"]))
        self.sync_events.append(
            MallUpdateRequested(**self._sync_env(at), based_on_seq=based_on, request_no=no, status=status, request=body)
        )

    def read_after_doubt(self, at: datetime, no: int, status: str, *, based_on: int) -> None:
        """The GET after request `no`'s answer was lost: MALL has `status` (the PUT landed when it asked for it)."""
        self._read(at, no, status, based_on=based_on, source="outcome_unknown", changed=("status",), confirmed=True)

    def read_after_refusal(self, at: datetime, no: int, status: str, *, based_on: int) -> None:
        """The one GET after MALL refused request `no` (ARCHITECTURE.md §6): MALL has the order as we thought."""
        self._read(at, no, status, based_on=based_on, source="refusal", changed=(), confirmed=False)

    def _read(
        self,
        at: datetime,
        no: int,
        status: str,
        *,
        based_on: int,
        source: ObservationSource,
        changed: tuple[ObservedField, ...],
        confirmed: bool,
    ) -> None:
        self.sync_events.append(
            MallStateObserved(
                **self._sync_env(at),
                based_on_seq=based_on,
                request_no=no,
                source=source,
                changed=changed,
                status=MallStatus(status),
                confirmed=confirmed,
            )
        )

    def deferred(self, at: datetime, status: str, reason: str, *, based_on: int) -> None:
        self.sync_events.append(
            StepDeferred(**self._sync_env(at), based_on_seq=based_on, status=MallStatus(status), reason=reason)
        )

    def attention(self, at: datetime, code: str, *, based_on: int, scope: str = "order") -> None:
        self.sync_events.append(
            AttentionNeeded(
                **self._sync_env(at), based_on_seq=based_on, code=code, reason=f"reason for {code}", scope=scope
            )
        )

    def resolved(self, at: datetime, code: str, *, based_on: int) -> None:
        self.sync_events.append(AttentionResolved(**self._sync_env(at), based_on_seq=based_on, code=code))
