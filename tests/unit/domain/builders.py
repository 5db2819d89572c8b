"""Small event builders for the domain tests: one order, deterministic ids and times."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from mallbridge_core.domain.mall_side import StatusBy
from mallbridge_core.domain.projection import MallSide, OrderState, fold
from mallbridge_schema.events import (
    AttentionAcknowledged,
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallOrderChanged,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MallWebhookReceived,
    MdpFlagSet,
    ObservationSource,
    ObservedField,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderReturnRequested,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
)
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

TENANT = "acme"
ORDER = "FC-1001"
MALL_ID = "10085339302"
T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)

_ids = itertools.count(1)


def envelope(at: datetime = T0) -> dict[str, Any]:
    return {
        "event_id": UUID(int=next(_ids)),
        "tenant_id": TENANT,
        "order_number": ORDER,
        "mall_order_id": MALL_ID,
        "occurred_at": at,
        "recorded_at": at + timedelta(seconds=1),
    }


def _at(seq: int) -> datetime:
    return T0 + timedelta(minutes=seq)


def first_seen(
    status: FastCentrikStatus | str,
    *,
    seq: int = 1,
    delivered_at: str | None = None,
    tracking: tuple[str | None, str | None] = (None, None),
    mdp: bool = False,
    at: datetime | None = None,
) -> OrderFirstSeen:
    fc = FastCentrikStatus(status)
    return OrderFirstSeen(
        **envelope(at or _at(seq)),
        seq=seq,
        status=fc,
        status_label=fc.value,
        delivered_at=delivered_at,
        tracking_number=tracking[0],
        tracking_url=tracking[1],
        mdp=mdp,
    )


def status_changed(seq: int, before: FastCentrikStatus | str, after: FastCentrikStatus | str) -> OrderStatusChanged:
    return OrderStatusChanged(
        **envelope(_at(seq)),
        seq=seq,
        from_status=FastCentrikStatus(before),
        to_status=FastCentrikStatus(after),
        status_label=FastCentrikStatus(after).value,
    )


def delivery_set(seq: int, delivered_at: str | None, *, at: datetime | None = None) -> DeliveryDateSet:
    return DeliveryDateSet(**envelope(at or _at(seq)), seq=seq, delivered_at=delivered_at)


def tracking_assigned(seq: int, number: str | None, url: str | None) -> TrackingAssigned:
    return TrackingAssigned(**envelope(_at(seq)), seq=seq, tracking_number=number, tracking_url=url)


def mdp_set(seq: int, mdp: bool) -> MdpFlagSet:
    return MdpFlagSet(**envelope(_at(seq)), seq=seq, mdp=mdp)


def requested(request_no: int, status: MallStatus | str, body: dict[str, Any], *, seq: int = 1) -> MallUpdateRequested:
    return MallUpdateRequested(
        **envelope(), based_on_seq=seq, request_no=request_no, status=MallStatus(status), request=body
    )


def updated(request_no: int, status: MallStatus | str, body: dict[str, Any], *, seq: int = 1) -> MallStatusUpdated:
    return MallStatusUpdated(
        **envelope(),
        based_on_seq=seq,
        request_no=request_no,
        status=MallStatus(status),
        request=body,
        http_status=200,
        latency_ms=3.0,
    )


def rejected(
    request_no: int,
    status: MallStatus | str,
    *,
    seq: int,
    http_status: int = 400,
    body: dict[str, Any] | None = None,
) -> MallUpdateRejected:
    return MallUpdateRejected(
        **envelope(),
        based_on_seq=seq,
        request_no=request_no,
        status=MallStatus(status),
        request={"status": MallStatus(status).value} if body is None else body,
        http_status=http_status,
        response={"result": {"code": http_status, "status": "ERROR", "message": "Invalid status transition"}},
        message="Invalid status transition",
    )


def observed(
    status: MallStatus | str,
    *,
    confirmed: bool | None,
    request_no: int = 0,
    seq: int = 0,
    source: ObservationSource = "outcome_unknown",
    changed: tuple[ObservedField, ...] = (),
    mdp: bool | None = None,
    tracking: tuple[str | None, str | None] = (None, None),
    delivered_at: str | None = None,
) -> MallStateObserved:
    return MallStateObserved(
        **envelope(),
        based_on_seq=seq,
        request_no=request_no,
        source=source,
        changed=changed,
        status=MallStatus(status),
        confirmed=confirmed,
        mdp=mdp,
        tracking_number=tracking[0],
        tracking_url=tracking[1],
        delivered_at=delivered_at,
    )


def mall_changed(seq: int) -> MallOrderChanged:
    """MALL's webhook named the order (ingest wrote it with the order's next seq)."""
    return MallOrderChanged(**envelope(_at(seq)), seq=seq, receipt_id=UUID(int=0))


def receipt(*ids: str) -> MallWebhookReceived:
    env = {**envelope(), "order_number": "", "mall_order_id": ""}
    return MallWebhookReceived(**env, order_ids=ids or (MALL_ID,))


def return_requested(by: str = "jana", *, at: datetime = T0) -> OrderReturnRequested:
    return OrderReturnRequested(**envelope(at), by=by, reason="parcel came back")


def resync_requested(by: str = "jana", *, at: datetime = T0) -> OrderResyncRequested:
    return OrderResyncRequested(**envelope(at), by=by)


def acknowledged(code: str, *, at: datetime, by: str = "jana") -> AttentionAcknowledged:
    return AttentionAcknowledged(**envelope(at), by=by, reason="handled", code=code)


def balance_seen(status: MallStatus | str, *, mdp: bool | None = None, seq: int = 0) -> MallStateObserved:
    """What `mallbridge balance` recorded (operator-events.v1): it lists only non-final statuses."""
    return MallStateObserved(
        **envelope(), based_on_seq=seq, source="balance", changed=("status",), status=MallStatus(status), mdp=mdp
    )


def deferred(status: MallStatus | str, reason: str, *, until: datetime | None = None, seq: int = 1) -> StepDeferred:
    return StepDeferred(**envelope(), based_on_seq=seq, status=MallStatus(status), reason=reason, until=until)


def attention(code: str, *, scope: str = "order", seq: int = 1, at: datetime = T0) -> AttentionNeeded:
    return AttentionNeeded(**envelope(at), based_on_seq=seq, code=code, reason=f"because {code}", scope=scope)  # type: ignore[arg-type]


def resolved(code: str, *, scope: str = "order", seq: int = 1) -> AttentionResolved:
    return AttentionResolved(**envelope(), based_on_seq=seq, code=code, scope=scope)  # type: ignore[arg-type]


def state_of(events: Sequence[Event]) -> OrderState:
    return fold(list(events))[(TENANT, ORDER)]


def with_mall(
    state: OrderState,
    status: MallStatus | str,
    *,
    confirmed: bool | None,
    by: StatusBy = "us",
    mdp: bool | None = None,
    tracking: tuple[str | None, str | None] = (None, None),
) -> OrderState:
    """The same FastCentrik side with MALL's side set directly (any status, `blocked` included), with the
    tracking MALL is known to have."""
    mall = MallSide(
        status=MallStatus(status),
        confirmed=confirmed,
        status_by=by,
        mdp=mdp,
        tracking_number=tracking[0],
        tracking_url=tracking[1],
    )
    return state._replace(mall=mall)
