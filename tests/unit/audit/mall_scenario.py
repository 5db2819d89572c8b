"""A recorded scenario of MALL's side and people's actions for the audit tests: tenant gamma, every event
spelled out by hand (as MALL, ingest, a correct publisher and the operators write them), with the figures
the tests expect computed by hand below. Times are UTC; `T` is the scenario's start (scenario.T).

gamma (7 orders)
  G1  MALL cancels it (the customer): webhook → read → attention cancelled_at_mall; FastCentrik still moves
      it to in_process; eva acknowledges it with a note
  G2  MALL Delivery: shipping, shipped; MALL Delivery delivers it (webhook → read); eva asks for a resync
  G3  shipped with tracking; `returned` set by hand in the MALL portal, seen by the unconfirmed poll
  G4  shipped with tracking; petr returns it (the parcel came back): `PUT returned` once
  G5  MALL still has it blocked: `shipping` refused, the read shows blocked (deferred); MALL opens it
      (webhook → read): `shipping` with confirmed goes out
  G6  shipped; MALL edits the order (webhook → read: unconfirmed): one confirm-only PUT
  G7  `mallbridge balance` sees MALL cancelled it; the publisher's resync read; attention (open)
Webhook receipts: four deliveries naming five ids, one of them unknown to FastCentrik.
`mallbridge balance` (tenant-level, operator-events): at T+26h two MALL orders FastCentrik never got
(399999999999, the one G6's webhook named, and 399999999998); at T+50h only 399999999999 is left.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mallbridge_schema.events import (
    AttentionAcknowledged,
    Event,
    MallOrderChanged,
    MallStateObserved,
    MallWebhookReceived,
    OrderResyncRequested,
    OrderReturnRequested,
    UnknownMallOrder,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.statuses import MallStatus

from .order_builder import URL, H, M, Order, S, T
from .scenario import AS_OF

__all__ = ["AS_OF", "EXPECTED", "EXPECTED_ORDERS", "EXPECTED_UNKNOWN", "MallOrder", "build", "operator_events"]

_NS = uuid.UUID("6f1c3d1e-7d3a-4bde-9a55-0c6c1b1f0001")


@dataclass
class MallOrder(Order):
    operator_events: list[Event] = field(default_factory=list)
    receipts: list[MallWebhookReceived] = field(default_factory=list)

    def webhook(self, at: datetime, *, also: tuple[str, ...] = (), unknown: tuple[str, ...] = ()) -> None:
        """MALL's webhook names the order (and `also`): the receipt, then ingest's MallOrderChanged."""
        receipt_id = uuid.uuid5(_NS, f"{self.number}:receipt:{len(self.receipts)}")
        self.receipts.append(
            MallWebhookReceived(
                event_id=receipt_id,
                tenant_id=self.tenant,
                occurred_at=at,
                recorded_at=at,
                order_ids=(self.mall_id, *also),
                unknown_ids=unknown,
            )
        )
        seq = len(self.order_events) + 1
        self.order_events.append(MallOrderChanged(**self._env("o", seq, at, at), seq=seq, receipt_id=receipt_id))

    def read(self, at: datetime, source: str, status: str, *, based_on: int, **said: Any) -> None:
        """A read of MALL the publisher recorded (MallStateObserved in sync-events)."""
        self.sync_events.append(
            MallStateObserved(
                **self._sync_env(at), based_on_seq=based_on, source=source, status=MallStatus(status), **said
            )
        )

    def _operator_env(self, at: datetime) -> dict[str, Any]:
        return self._env("p", len(self.operator_events) + 1, at, at)

    def returned_by(self, at: datetime, by: str, reason: str) -> None:
        self.operator_events.append(OrderReturnRequested(**self._operator_env(at), by=by, reason=reason))

    def resync_by(self, at: datetime, by: str, reason: str = "") -> None:
        self.operator_events.append(OrderResyncRequested(**self._operator_env(at), by=by, reason=reason))

    def ack_by(self, at: datetime, by: str, code: str, note: str) -> None:
        self.operator_events.append(AttentionAcknowledged(**self._operator_env(at), by=by, reason=note, code=code))

    def balance_saw(self, at: datetime, status: str, **said: Any) -> None:
        """What `mallbridge balance` recorded (a MallStateObserved with source balance, in operator-events)."""
        self.operator_events.append(
            MallStateObserved(**self._operator_env(at), source="balance", status=MallStatus(status), **said)
        )


def _trk(number: str) -> dict[str, str]:
    return {"tracking_number": number, "tracking_url": URL + number}


UNCONFIRMED: dict[str, Any] = {"confirmed": False}


def build() -> list[MallOrder]:
    return [_g1(), _g2(), _g3(), _g4(), _g5(), _g6(), _g7()]


def _g1() -> MallOrder:
    g1 = MallOrder("gamma", "G1", "300000000001")
    g1.seen(T, "pending")
    g1.webhook(T + 2 * H)  # seq 2
    g1.read(T + 2 * H + 5 * S, "webhook", "cancelled", based_on=1, changed=("status", "confirmed"), **UNCONFIRMED)
    g1.attention(T + 2 * H + 6 * S, "cancelled_at_mall", based_on=1)
    g1.changed(T + 3 * H, "pending", "in_process")  # seq 3: the warehouse did not notice; nothing is sent
    g1.ack_by(T + 4 * H, "eva", "cancelled_at_mall", "told the warehouse; cancelling it in FastCentrik")
    return g1


def _g2() -> MallOrder:
    g2 = MallOrder("gamma", "G2", "300000000002")
    g2.seen(T + 10 * M, "pending", mdp=True)
    g2.changed(T + H, "pending", "in_process")  # seq 2
    g2.put(T + H + 2 * S, 1, {"status": "shipping", "confirmed": True}, based_on=2)  # lag 3 s
    g2.changed(T + 20 * H, "in_process", "settled")  # seq 3: MALL Delivery ships without our tracking
    g2.put(T + 20 * H + 3 * S, 2, {"status": "shipped"}, based_on=3)  # lag 4 s
    g2.webhook(T + 44 * H)  # seq 4
    g2.read(
        T + 44 * H + 5 * S,
        "webhook",
        "delivered",
        based_on=3,
        changed=("status", "confirmed", "tracking", "delivered_at"),
        mdp=True,
        tracking_number="MDP123",
        tracking_url="https://mdp.example/MDP123",
        delivered_at="2026-10-07 10:00:00",
        **UNCONFIRMED,
    )
    g2.resync_by(T + 45 * H, "eva", "check MALL Delivery's delivery")
    g2.read(T + 45 * H + 2 * S, "resync", "delivered", based_on=3, **UNCONFIRMED)
    return g2


def _g3() -> MallOrder:
    g3 = MallOrder("gamma", "G3", "300000000003")
    g3.seen(T + 20 * M, "settled", tracking_number="TRKG3", tracking_url=URL + "TRKG3")
    g3.put(T + 20 * M + 5 * S, 1, {"status": "shipped", "confirmed": True, **_trk("TRKG3")}, based_on=1)  # 6 s
    g3.read(T + 30 * H, "poll", "returned", based_on=1, changed=("status", "confirmed"), **UNCONFIRMED)
    return g3


def _g4() -> MallOrder:
    g4 = MallOrder("gamma", "G4", "300000000004")
    g4.seen(T + 30 * M, "settled", tracking_number="TRKG4", tracking_url=URL + "TRKG4")
    g4.put(T + 30 * M + 5 * S, 1, {"status": "shipped", "confirmed": True, **_trk("TRKG4")}, based_on=1)  # 6 s
    g4.returned_by(T + 50 * H, "petr", "parcel came back uncollected")
    g4.put(T + 50 * H + 2 * S, 2, {"status": "returned"}, based_on=1)  # a person's step: no FastCentrik lag
    return g4


def _g5() -> MallOrder:
    g5 = MallOrder("gamma", "G5", "300000000005")
    g5.seen(T + 40 * M, "in_process")
    g5.put(T + 40 * M + S, 1, {"status": "shipping", "confirmed": True}, based_on=1, refused=True)
    g5.read(
        T + 40 * M + 3 * S,
        "refusal",
        "blocked",
        based_on=1,
        request_no=1,
        changed=("status", "confirmed"),
        **UNCONFIRMED,
    )
    g5.deferred(T + 40 * M + 4 * S, "shipping", "waiting for MALL to open the order", based_on=1)
    g5.webhook(T + 3 * H)  # seq 2
    g5.read(T + 3 * H + 5 * S, "webhook", "open", based_on=1, changed=("status",), **UNCONFIRMED)
    g5.put(T + 3 * H + 6 * S, 2, {"status": "shipping", "confirmed": True}, based_on=1)  # lag 2h20m07s
    return g5


def _g6() -> MallOrder:
    g6 = MallOrder("gamma", "G6", "300000000006")
    g6.seen(T + 50 * M, "settled", tracking_number="TRKG6", tracking_url=URL + "TRKG6")
    g6.put(T + 50 * M + 5 * S, 1, {"status": "shipped", "confirmed": True, **_trk("TRKG6")}, based_on=1)  # 6 s
    g6.webhook(T + 10 * H, also=("399999999999",), unknown=("399999999999",))  # seq 2
    g6.read(T + 10 * H + 5 * S, "webhook", "shipped", based_on=1, changed=("confirmed",), **UNCONFIRMED)
    g6.put(T + 10 * H + 6 * S, 2, {"confirmed": True}, based_on=1, status_now="shipped")  # confirm-only: no lag
    return g6


def _g7() -> MallOrder:
    g7 = MallOrder("gamma", "G7", "300000000007")
    g7.seen(T + H, "pending")
    g7.balance_saw(T + 26 * H, "cancelled", based_on_seq=1, changed=("status",))
    g7.read(T + 26 * H + 3 * S, "resync", "cancelled", based_on=1, changed=("confirmed",), **UNCONFIRMED)
    g7.attention(T + 26 * H + 4 * S, "cancelled_at_mall", based_on=1)
    return g7


def order_events(orders: list[MallOrder]) -> list[Event]:
    """Order events in the log: the receipts with the orders' facts (ingest writes both)."""
    return [e for o in orders for e in (*o.receipts, *o.order_events)]


def balance_saw_unknown(at: datetime, *listed: tuple[str, str], total: int | None = None) -> UnknownMallOrdersObserved:
    """What `mallbridge balance` recorded about gamma: the MALL orders FastCentrik never got ((id, status))."""
    return UnknownMallOrdersObserved(
        event_id=uuid.uuid5(_NS, f"gamma:unknown:{at.isoformat()}"),
        tenant_id="gamma",
        occurred_at=at,
        recorded_at=at,
        orders=tuple(UnknownMallOrder(mall_order_id=i, status=MallStatus(s), opened_at=None) for i, s in listed),
        total=len(listed) if total is None else total,
    )


UNKNOWN_SEEN = (
    balance_saw_unknown(T + 26 * H, ("399999999999", "open"), ("399999999998", "open")),
    balance_saw_unknown(T + 50 * H, ("399999999999", "open")),  # 399999999998 got into FastCentrik, or was cancelled
)


def operator_events(orders: list[MallOrder]) -> list[Event]:
    """People's actions and balance's reads of the orders, then balance's tenant-level observations."""
    return [*(e for o in orders for e in o.operator_events), *UNKNOWN_SEEN]


def sync_events(orders: list[MallOrder]) -> list[Event]:
    return [e for o in orders for e in o.sync_events]


# Lags of the FastCentrik changes (accepted update − occurred_at of its based_on order event), by hand:
# G2 3, 4; G3 6; G4 6 (its `returned` is a person's step: not a FastCentrik lag); G5 8407 (2h20m07s: it
# waited for MALL to open the order); G6 6 (its confirm-only PUT: no lag). Sorted: 3 4 6 6 6 8407.
EXPECTED: dict[str, Any] = {
    "orders": 7,
    "partner_cancellations": 0,  # G1 and G7 were cancelled by MALL: not the partner's
    "cancel_rate": 0.0,
    "cancel_breach": False,
    "tracking_orders": 4,  # G2 delivered, G3 and G4 returned, G6 shipped (G5 is only shipping)
    "tracking_with": 4,
    "tracking_mdp": 1,
    "tracking_rate": 1.0,
    "tracking_rate_own": 1.0,
    "delivered_orders": 1,  # G2: MALL Delivery's own delivered counts, on time
    "delivered_on_time": 1,
    "on_time_rate": 1.0,
    "on_time_breach": False,
    "lag_count": 6,
    "lag_p50_s": 6.0,
    "lag_p95_s": 8407.0,
    "lag_max_s": 8407.0,
    "open_attention": 1,  # G7
    "acknowledged_attention": 1,  # G1
    "orders_deferred": 0,
    "orders_in_sync": 5,  # G2, G3, G4 ended at their final status; G5, G6 in sync
    "requests": 9,
    "updates": 8,
    "rejections": 1,
    "deferrals": 1,
    "observations": 9,
    "attention_raised": 2,
    "mall_reads": (("balance", 1), ("poll", 1), ("refusal", 1), ("resync", 2), ("webhook", 4)),
    "mall_changes": (
        ("blocked_at_mall", 1),
        ("cancelled_at_mall", 2),
        ("changed_at_mall", 1),
        ("delivered_by_mall_delivery", 1),
        ("opened_at_mall", 1),
        ("returned_in_portal", 1),
    ),
    "webhook_receipts": 4,
    "webhook_order_ids": 5,
    "webhook_unknown_ids": 1,
    "returns_requested": 1,
    "resyncs_requested": 1,
    "acknowledgements": 1,
    "operator_people": (("eva", "ack", 1), ("eva", "resync", 1), ("petr", "return", 1)),
}

# balance's last word on the MALL orders FastCentrik never got (UNKNOWN_SEEN[-1]): (total, ids, recorded at)
EXPECTED_UNKNOWN = (1, ("399999999999",), T + 50 * H)

# number: (desired, MALL status, who set it, state)
EXPECTED_ORDERS: dict[str, tuple[str, str, str, str]] = {
    "G1": ("shipping", "cancelled", "mall", "acknowledged"),
    "G2": ("shipped", "delivered", "mall", "ended"),
    "G3": ("shipped", "returned", "mall", "ended"),
    "G4": ("shipped", "returned", "us", "ended"),
    "G5": ("shipping", "shipping", "us", "in_sync"),
    "G6": ("shipped", "shipped", "us", "in_sync"),
    "G7": ("open", "cancelled", "mall", "attention"),
}
