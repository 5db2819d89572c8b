"""A recorded scenario for the audit tests: two tenants' order events and the sync events a correct
publisher writes for them, every body spelled out by hand (not produced by the reconciler).

Times are UTC; Prague is UTC+2 in early October 2026. `T` is the first order's first sight.

alpha (5 orders)
  A1  in_process → settled → delivered on time (delivered_at 14:00 Prague, sent 30m31s later)
  A2  first seen in_process → settled+tracking → delivered late (date only, entered two days later)
  A3  cancelled by the partner before shipping
  A4  settled without tracking: `shipped` deferred, never sent
  A5  MALL refuses `shipping`: rejection, the read after it, open attention item
beta (4 orders)
  B1  MALL Delivery: shipping → shipped without tracking; delivered is MALL's (deferral recorded)
  B2  first seen settled with tracking → shipped; then cancelled in FastCentrik: attention (open)
  B3  `shipping` refused (read, attention), then settled with tracking → shipped, attention resolved
  B4  pending, nothing to send; a tenant-scope attention item (401) was raised on it and is still open

Every figure the tests expect is written out in EXPECTED, computed by hand from the lines below.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mallbridge_schema.events import Event, OrderEventBase, SyncEventBase

from .order_builder import URL, H, M, Order, S, T

__all__ = [
    "AS_OF",
    "EXPECTED",
    "EXPECTED_COUNTS",
    "EXPECTED_ORDERS",
    "EXPECTED_TENANT_ATTENTION",
    "URL",
    "H",
    "M",
    "Order",
    "S",
    "T",
    "all_events",
    "build",
    "order_events",
    "sync_events",
]


def _trk(number: str) -> dict[str, str]:
    return {"tracking_number": number, "tracking_url": URL + number}


def build() -> list[Order]:
    return [*_alpha(), *_beta()]


def _alpha() -> list[Order]:
    orders: list[Order] = []
    a1 = Order("alpha", "A1", "100000000001")
    a1.seen(T, "pending")
    a1.changed(T + H, "pending", "in_process")  # seq 2
    a1.put(T + H + 10 * S, 1, {"status": "shipping", "confirmed": True}, based_on=2)  # accepted at +11 s
    a1.tracking(T + 5 * H, "TRK1")  # seq 3: desired still shipping, nothing sent
    a1.changed(T + 6 * H, "in_process", "settled")  # seq 4
    a1.put(T + 6 * H + 20 * S, 2, {"status": "shipped", **_trk("TRK1")}, based_on=4)  # +21 s
    delivered_a1 = datetime(2026, 10, 6, 12, 30, tzinfo=UTC)
    a1.delivery(delivered_a1, "2026-10-06T14:00:00+02:00")  # seq 5: 12:00 UTC
    a1.put(delivered_a1 + 30 * S, 3, {"status": "delivered", "delivered_at": "2026-10-06 14:00:00"}, based_on=5)
    orders.append(a1)  # delivered accepted 12:30:31 UTC: 30m31s after the delivery moment → on time

    a2 = Order("alpha", "A2", "100000000002")
    a2.seen(T + 10 * M, "in_process")
    a2.put(T + 10 * M + 30 * S, 1, {"status": "shipping", "confirmed": True}, based_on=1)  # +31 s
    a2.changed(T + 3 * H, "in_process", "settled")  # seq 2
    a2.tracking(T + 3 * H, "TRK2")  # seq 3, same snapshot
    a2.put(T + 3 * H + 40 * S, 2, {"status": "shipped", **_trk("TRK2")}, based_on=3)  # +41 s
    late = datetime(2026, 10, 9, 9, 0, tzinfo=UTC)
    a2.delivery(late, "2026-10-07")  # seq 4: noon Prague on the 7th = 10:00 UTC
    a2.put(late + 50 * S, 3, {"status": "delivered", "delivered_at": "2026-10-07 12:00:00"}, based_on=4)
    orders.append(a2)  # accepted 2026-10-09 09:00:51 UTC: 47h00m51s after → late

    a3 = Order("alpha", "A3", "100000000003")
    a3.seen(T + 20 * M, "pending")
    a3.changed(T + 4 * H, "pending", "cancelled")  # seq 2
    a3.put(T + 4 * H + 5 * S, 1, {"status": "cancelled", "confirmed": True}, based_on=2)  # +6 s
    orders.append(a3)

    a4 = Order("alpha", "A4", "100000000004")
    a4.seen(T + 30 * M, "pending")
    a4.changed(T + 5 * H, "pending", "settled")  # seq 2, no tracking
    a4.deferred(T + 5 * H + 3 * S, "shipped", "waiting for the tracking number and tracking URL", based_on=2)
    orders.append(a4)

    a5 = Order("alpha", "A5", "100000000005")
    a5.seen(T + 40 * M, "pending")
    a5.changed(T + 6 * H, "pending", "in_process")  # seq 2
    a5.put(T + 6 * H + 4 * S, 1, {"status": "shipping", "confirmed": True}, based_on=2, refused=True)
    a5.read_after_refusal(T + 6 * H + 5 * S, 1, "open", based_on=2)
    a5.attention(T + 6 * H + 6 * S, "mall_rejected", based_on=2)
    orders.append(a5)
    return orders


def _beta() -> list[Order]:
    orders: list[Order] = []
    b1 = Order("beta", "B1", "200000000001")
    b1.seen(T + 1 * H, "pending", mdp=True)
    b1.changed(T + 7 * H, "pending", "in_process")  # seq 2
    b1.put(T + 7 * H + 2 * S, 1, {"status": "shipping", "confirmed": True}, based_on=2)  # +3 s
    b1.changed(T + 24 * H, "in_process", "settled")  # seq 3: MDP ships without tracking
    b1.put(T + 24 * H + 3 * S, 2, {"status": "shipped"}, based_on=3)  # +4 s
    b1.delivery(T + 48 * H, "2026-10-07T09:00:00+02:00")  # seq 4: MALL sets delivered itself
    b1.deferred(T + 48 * H + 2 * S, "delivered", "MALL Delivery order: MALL sets delivered itself", based_on=4)
    orders.append(b1)

    b2 = Order("beta", "B2", "200000000002")
    b2.seen(T + 2 * H, "settled", tracking_number="TRKB2", tracking_url=URL + "TRKB2")
    b2.put(T + 2 * H + 7 * S, 1, {"status": "shipped", "confirmed": True, **_trk("TRKB2")}, based_on=1)  # +8 s
    b2.changed(T + 48 * H, "settled", "cancelled")  # seq 2: too late, MALL has it shipped
    b2.attention(T + 48 * H + 1 * S, "cancel_after_shipped", based_on=2)
    orders.append(b2)

    b3 = Order("beta", "B3", "200000000003")
    b3.seen(T + 3 * H, "pending")
    b3.changed(T + 8 * H, "pending", "in_process")  # seq 2
    b3.put(T + 8 * H + 2 * S, 1, {"status": "shipping", "confirmed": True}, based_on=2, refused=True)
    b3.read_after_refusal(T + 8 * H + 3 * S, 1, "open", based_on=2)
    b3.attention(T + 8 * H + 4 * S, "mall_rejected", based_on=2)
    b3.changed(T + 30 * H, "in_process", "settled")  # seq 3
    b3.tracking(T + 30 * H, "TRKB3")  # seq 4
    b3.put(T + 30 * H + 9 * S, 2, {"status": "shipped", "confirmed": True, **_trk("TRKB3")}, based_on=4)  # +10 s
    b3.resolved(T + 30 * H + 11 * S, "mall_rejected", based_on=4)
    orders.append(b3)

    b4 = Order("beta", "B4", "200000000004")
    b4.seen(T + 4 * H, "pending")
    b4.attention(T + 9 * H, "mall_unauthorized", based_on=1, scope="tenant")
    orders.append(b4)
    return orders


def order_events(orders: list[Order]) -> list[OrderEventBase]:
    return [e for o in orders for e in o.order_events]


def sync_events(orders: list[Order]) -> list[SyncEventBase]:
    return [e for o in orders for e in o.sync_events]


def all_events(orders: list[Order]) -> list[Event]:
    return [*order_events(orders), *sync_events(orders)]


AS_OF = datetime(2026, 10, 20, 12, 0, tzinfo=UTC)

# Lags (accepted update − occurred_at of its based_on order event), seconds, by hand:
#   A1: 11, 21, 31   A2: 31, 41, 51   A3: 6          → alpha: 6 11 21 31 31 41 51
#   B1: 3, 4         B2: 8            B3: 10         → beta: 3 4 8 10
EXPECTED: dict[str, dict[str, Any]] = {
    "alpha": {
        "orders": 5,
        "partner_cancellations": 1,
        "cancel_rate": 0.2,
        "cancel_breach": True,
        "tracking_orders": 2,
        "tracking_with": 2,
        "tracking_rate": 1.0,
        "tracking_mdp": 0,
        "tracking_rate_own": 1.0,
        "delivered_orders": 2,
        "delivered_on_time": 1,
        "on_time_rate": 0.5,
        "on_time_breach": True,
        "lag_count": 7,
        "lag_p50_s": 31.0,  # nearest rank: 4th of 7
        "lag_p95_s": 51.0,  # 7th of 7
        "lag_max_s": 51.0,
        "open_attention": 1,
        "orders_deferred": 1,
        "orders_in_sync": 3,  # A1, A2 delivered = desired; A3 cancelled = desired
        "requests": 8,
        "updates": 7,
        "rejections": 1,
        "deferrals": 1,
        "attention_raised": 1,
    },
    "beta": {
        "orders": 4,
        "partner_cancellations": 0,
        "cancel_rate": 0.0,
        "cancel_breach": False,
        "tracking_orders": 3,
        "tracking_with": 3,
        "tracking_rate": 1.0,
        "tracking_mdp": 1,
        "tracking_rate_own": 1.0,
        "delivered_orders": 0,
        "delivered_on_time": 0,
        "on_time_rate": None,
        "on_time_breach": False,
        "lag_count": 4,
        "lag_p50_s": 4.0,  # 2nd of 4
        "lag_p95_s": 10.0,  # 4th of 4
        "lag_max_s": 10.0,
        "open_attention": 1,
        "orders_deferred": 0,
        "orders_in_sync": 3,  # B1 (MALL Delivery: waits on MALL), B3 shipped, B4 pending = open
        "requests": 5,
        "updates": 4,
        "rejections": 1,
        "deferrals": 1,
        "attention_raised": 2,
    },
}
EXPECTED_COUNTS = {"order_events": 26, "sync_events": 35}
EXPECTED_TENANT_ATTENTION = {"beta": (("mall_unauthorized", "reason for mall_unauthorized"),), "alpha": ()}

# Final states per order, by hand.
EXPECTED_ORDERS: dict[str, tuple[str | None, str, str]] = {
    # number: (desired, MALL status, state)
    "A1": ("delivered", "delivered", "in_sync"),
    "A2": ("delivered", "delivered", "in_sync"),
    "A3": ("cancelled", "cancelled", "in_sync"),
    "A4": ("shipped", "open", "deferred"),
    "A5": ("shipping", "open", "attention"),
    "B1": ("delivered", "shipped", "mdp_by_mall"),
    "B2": ("cancelled", "shipped", "attention"),
    "B3": ("shipped", "shipped", "in_sync"),
    "B4": ("open", "open", "in_sync"),
}
