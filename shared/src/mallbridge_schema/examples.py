"""One example of every event type of every topic, each field set to a non-default value.

The serde tests round-trip them, and the AsyncAPI document (`mallbridge asyncapi`) shows them as the
message examples of each topic, so the examples an integrator reads are the ones the tests prove.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from mallbridge_schema.events import (
    AttentionAcknowledged,
    AttentionNeeded,
    AttentionResolved,
    DeliveryDateSet,
    Event,
    MallOrderChanged,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    MallWebhookReceived,
    MdpFlagSet,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderReturnRequested,
    OrderStatusChanged,
    StepDeferred,
    TrackingAssigned,
    UnknownMallOrder,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

AT = datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC)
LATER = datetime(2026, 3, 29, 1, 0, 1, tzinfo=UTC)
ENVELOPE: dict[str, Any] = {
    "event_id": UUID("6f1c2a8e-1d0b-4c55-9a77-0e6a3b1f2d10"),
    "tenant_id": "acme",
    "order_number": "FC-2026/0042",
    "mall_order_id": "10085339302",  # exceeds 32 bits: kept as text
    "occurred_at": AT,
    "recorded_at": LATER,
}

RECEIPT_ID = UUID("0b9e1c52-6a3d-4f0e-8c1b-2d7f5e4a3c21")

# One instance of every event type, every field set to a non-default value.
ORDER_EXAMPLES: list[Event] = [
    OrderFirstSeen(
        **ENVELOPE,
        seq=1,
        status=FastCentrikStatus.SETTLED,
        status_label="Vyřízená",
        delivered_at="2026-03-28",
        tracking_number="DR-1_2",
        tracking_url="https://t.example/DR-1_2?a=1&b=ř",
        mdp=True,
    ),
    OrderStatusChanged(
        **ENVELOPE,
        seq=2,
        from_status=FastCentrikStatus.PENDING,
        to_status=FastCentrikStatus.IN_PROCESS,
        status_label="vyřizuje se",
    ),
    DeliveryDateSet(**ENVELOPE, seq=3, delivered_at="2026-03-29T02:30:00+01:00"),
    DeliveryDateSet(**ENVELOPE, seq=4, delivered_at=None),
    TrackingAssigned(**ENVELOPE, seq=5, tracking_number="ZX9", tracking_url="https://t.example/ZX9"),
    TrackingAssigned(**ENVELOPE, seq=6, tracking_number=None, tracking_url=None),
    MdpFlagSet(**ENVELOPE, seq=7, mdp=True),
    MallOrderChanged(**ENVELOPE, seq=8, receipt_id=RECEIPT_ID),
    MallWebhookReceived(
        **{**ENVELOPE, "order_number": "", "mall_order_id": "", "event_id": RECEIPT_ID},
        order_ids=("10085339302", "10085339303", "99999999999"),
        unknown_ids=("99999999999",),
    ),
]
SYNC_EXAMPLES: list[Event] = [
    MallUpdateRequested(
        **ENVELOPE, based_on_seq=7, request_no=3, status=MallStatus.SHIPPED, request={"status": "shipped"}
    ),
    MallStatusUpdated(
        **ENVELOPE,
        based_on_seq=7,
        request_no=3,
        status=MallStatus.SHIPPED,
        request={"status": "shipped", "confirmed": True, "tracking_number": "ZX9", "tracking_url": "https://x/ZX9"},
        http_status=200,
        latency_ms=12.5,
        attempts=2,
    ),
    MallUpdateRejected(
        **ENVELOPE,
        based_on_seq=7,
        request_no=4,
        status=MallStatus.DELIVERED,
        request={"status": "delivered", "delivered_at": "2026-03-29 03:30:00"},
        http_status=400,
        response={"result": {"code": 400, "status": "ERROR", "message": "bad"}, "errorCodes": []},
        message="bad",
    ),
    MallUpdateRejected(
        **ENVELOPE,
        request_no=5,
        status=MallStatus.CANCELLED,
        request={"status": "cancelled"},
        http_status=502,
        response="<html>Bad gateway</html>",
        message="Bad gateway",
    ),
    MallStateObserved(
        **ENVELOPE,
        based_on_seq=7,
        request_no=4,
        source="refusal",
        changed=("status", "confirmed", "tracking", "delivered_at"),
        status=MallStatus.SHIPPED,
        confirmed=True,
        tracking_number="ZX9",
        tracking_url="https://x/ZX9",
        delivered_at="2026-03-29 03:30:00",
        mdp=False,
    ),
    StepDeferred(**ENVELOPE, based_on_seq=7, status=MallStatus.DELIVERED, reason="in the future", until=LATER),
    AttentionNeeded(**ENVELOPE, based_on_seq=7, code="mall_final", reason="MALL says cancelled", scope="tenant"),
    AttentionResolved(**ENVELOPE, based_on_seq=8, code="mall_final", scope="tenant"),
    MallUpdateRequested(  # a confirm-only request: status is the one the order has, unchanged
        **ENVELOPE, based_on_seq=8, request_no=6, status=MallStatus.SHIPPING, request={"confirmed": True}
    ),
    MallReadRefused(
        **ENVELOPE,
        based_on_seq=7,
        source="resync",
        http_status=404,
        message="read order: HTTP 404: Order not found",
    ),
]
OPERATOR_EXAMPLES: list[Event] = [
    OrderReturnRequested(**ENVELOPE, by="jana.novakova", reason="parcel came back uncollected"),
    OrderResyncRequested(**ENVELOPE, by="ops", reason="customer says MALL shows it cancelled"),
    AttentionAcknowledged(**ENVELOPE, by="jana.novakova", reason="called MALL Operations", code="mall_rejected"),
    MallStateObserved(
        **ENVELOPE,
        based_on_seq=8,
        source="balance",
        changed=("status",),
        status=MallStatus.CANCELLED,
        confirmed=False,
        mdp=True,
    ),
    UnknownMallOrdersObserved(
        **{**ENVELOPE, "order_number": "", "mall_order_id": ""},
        orders=(
            UnknownMallOrder(mall_order_id="10085339411", status=MallStatus.OPEN, opened_at="2026-03-28 21:14:03"),
            UnknownMallOrder(mall_order_id="10085339412", status=MallStatus.SHIPPING),
        ),
        total=3,
    ),
]
