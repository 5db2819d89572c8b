"""The projection: a fold of the three topics' events into per-order state.

`apply(state, event) -> state` returns new frozen values and never mutates. It is idempotent under
redelivery: order events carry a per-order `seq` and are applied only when newer; MALL's status only
moves forward along its own graph (`mall_side_fold`), so a replayed or duplicated sync event changes
nothing; operator requests are kept by event id (`operator_side`). The topics are independent inputs:
the result does not depend on how they interleave.

- order-events.v1 → `OrderState.fc` (FastCentrik's side, folded by `fastcentrik.apply_fact`, the one fold
  ingest's state is built on too). `MallOrderChanged` is MALL's fact, not
  FastCentrik's: it changes nothing here (`fc.seq` stays the seq of the last FastCentrik fact, which is
  what decisions are based on, so a webhook cannot make an old refusal look resolved).
  `MallWebhookReceived` is tenant-level (no order): `fold` skips it, `apply` returns the state as is.
- sync-events.v1 → `OrderState.mall` (MALL's side, see `mall_side` and `mall_side_fold`).
- operator-events.v1 → `OrderState.ops` (what people asked for, see `operator_side`); a `mallbridge
  balance` observation also claims MALL's status (`mall_side_fold.claim_balance`).
"""

from __future__ import annotations

from dataclasses import dataclass
from sys import intern
from typing import NamedTuple

from mallbridge_core.domain.fastcentrik import FastCentrikSide, apply_fact
from mallbridge_core.domain.mall_side import Deferral, MallSide, Rejection, RequestInDoubt, mall_rank, with_tracking
from mallbridge_core.domain.mall_side_fold import apply_sync, claim_balance
from mallbridge_core.domain.operator_side import OperatorSide, apply_operator
from mallbridge_schema.events import Event, MallStateObserved, OperatorEventBase, OrderEventBase
from mallbridge_schema.statuses import FINAL_MALL_STATUSES

__all__ = [
    "AttentionItem",
    "Deferral",
    "FastCentrikSide",
    "MallSide",
    "OperatorSide",
    "OrderState",
    "Rejection",
    "RequestInDoubt",
    "apply",
    "attention_item",
    "fold",
    "mall_rank",
    "mall_side_after",
    "new_state",
]


class OrderState(NamedTuple):
    """One order's state: FastCentrik's side, MALL's side and what people asked for. A named tuple (change
    it with `_replace`): one is built per event folded and per plan, and a frozen dataclass cost four
    times as much to build."""

    tenant_id: str
    order_number: str
    mall_order_id: str
    fc: FastCentrikSide = FastCentrikSide()
    mall: MallSide = MallSide()
    ops: OperatorSide = OperatorSide()

    @property
    def request_in_doubt(self) -> bool:
        """A PUT was requested and its outcome never recorded (crash, timeout): MALL must be read first."""
        return self.mall.last_request_no > self.mall.settled_request_no

    @property
    def resync_pending(self) -> bool:
        """A person (`mallbridge order resync`) or a balance drift asked for a read not yet answered."""
        return len(self.ops.read_requests) > len(self.mall.reads_answered)

    @property
    def return_pending(self) -> bool:
        """`mallbridge order return` was asked, MALL has not refused it and the order is not final yet."""
        requests = self.ops.return_requests
        return (
            bool(requests)
            and len(requests) > len(self.mall.return_refusals)
            and self.mall.status not in FINAL_MALL_STATUSES
        )


@dataclass(frozen=True, slots=True)
class AttentionItem:
    """The attention item recorded for an order, and whether a person has acknowledged it."""

    code: str
    reason: str
    acknowledged: bool

    @property
    def open(self) -> bool:
        """Counted in the open-attention list (gauge, audit, console) until acknowledged or resolved."""
        return not self.acknowledged


def attention_item(state: OrderState) -> AttentionItem | None:
    """The order's recorded attention item (None when there is none)."""
    mall = state.mall
    if mall.attention_code is None:
        return None
    acked = state.ops.acknowledged_at(mall.attention_code)
    raised = mall.attention_at
    acknowledged = acked is not None and (raised is None or acked >= raised)
    return AttentionItem(mall.attention_code, mall.attention_reason, acknowledged)


def new_state(event: Event) -> OrderState:
    # The tenant id interned: every order keeps it, and each event decoded brings its own copy.
    return OrderState(intern(event.tenant_id), event.order_number, event.mall_order_id)


def apply(state: OrderState | None, event: Event) -> OrderState:
    """Fold one event (of any of the three topics) into the order's state."""
    current = state if state is not None else new_state(event)
    if isinstance(event, OrderEventBase):
        fc = apply_fact(current.fc, event)  # the same object when redelivered or not a FastCentrik fact
        mall_order_id = event.mall_order_id or current.mall_order_id
        if fc is current.fc and mall_order_id == current.mall_order_id:
            return current
        return OrderState(current.tenant_id, current.order_number, mall_order_id, fc, current.mall, current.ops)
    if isinstance(event, OperatorEventBase):
        return _with(current, current.mall, apply_operator(event, current.ops))
    if type(event) is MallStateObserved and event.source == "balance":
        return _with(current, claim_balance(event, current.mall), apply_operator(event, current.ops))
    mall = mall_side_after(event, current.mall, current.fc)
    if mall is current.mall:
        return current
    return OrderState(current.tenant_id, current.order_number, current.mall_order_id, current.fc, mall, current.ops)


def mall_side_after(event: Event, mall: MallSide, fc: FastCentrikSide) -> MallSide:
    """MALL's side after one sync event (`mall` itself when the event changes nothing): `apply`'s MALL
    half, for a reader that keeps the sides apart and needs no whole state per event (the audit's
    `--verify`). A balance observation's operator half is `apply`'s alone."""
    if type(event) is MallStateObserved and event.source == "balance":
        return claim_balance(event, mall)
    after = apply_sync(event, mall)
    return mall if after is mall else _sharing_texts(after, fc)


def _sharing_texts(mall: MallSide, fc: FastCentrikSide) -> MallSide:
    """`mall` holding FastCentrik's own objects for the tracking texts both sides agree on.

    The two sides get them from different events, so they are equal but distinct strings; sharing them
    keeps one copy per order (about 120 bytes of the publisher's memory per shipped order). Equal values:
    nothing a reader can tell apart.
    """
    number, url = mall.tracking_number, mall.tracking_url
    if (number is fc.tracking_number or number != fc.tracking_number) and (
        url is fc.tracking_url or url != fc.tracking_url
    ):
        return mall
    shared_number = fc.tracking_number if number == fc.tracking_number else number
    shared_url = fc.tracking_url if url == fc.tracking_url else url
    sent = mall.tracking_sent
    if sent is not None and shared_number is not None and sent == (shared_number, shared_url):
        sent = (shared_number, shared_url)  # what we sent is most often what MALL has: the same two strings
    return with_tracking(mall, shared_number, shared_url, sent=sent)


def _with(state: OrderState, mall: MallSide, ops: OperatorSide) -> OrderState:
    if mall is state.mall and ops is state.ops:
        return state
    return OrderState(state.tenant_id, state.order_number, state.mall_order_id, state.fc, mall, ops)


def fold(events: list[Event]) -> dict[tuple[str, str], OrderState]:
    """Fold a sequence of events of the three topics into per-order state, keyed (tenant_id, order_number).

    Tenant-level events (no order number: a webhook receipt, a tenant-scope attention item) make no state.
    """
    states: dict[tuple[str, str], OrderState] = {}
    for event in events:
        if not event.order_number:
            continue
        key = (event.tenant_id, event.order_number)
        states[key] = apply(states.get(key), event)
    return states
