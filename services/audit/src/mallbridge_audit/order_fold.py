"""The audit's fold of one order: a compact accumulator, fed the facts of both topics (`views.py`). Pure.

Why not the projection's `OrderState`: a replay folds every event of the log, and the report needs a
few hundred bytes per order and a couple of microseconds per event. So the audit keeps its own fold,
with what only the audit needs on top (counters, lags, tracking, partner cancellations, the delivered
lag). Where both fold the same thing they follow the same rules, those of `mallbridge_core.domain`
(`fastcentrik.py`, `mall_side.py`):
- an order event counts only when its seq is newer than the last applied FastCentrik fact;
  `MallOrderChanged` (MALL's fact on the same topic) changes nothing of FastCentrik's side, not even the
  seq; the MALL order id is taken from every order event that carries one;
- MALL's status is a claim taken when it is later along MALL's graph, or over the assumed `open`
  before MALL was heard from; an observed final status replaces another final; a confirm-only update
  (no status in its body) leaves the status; MALL's word on MDP (an observation's `mdp`) wins over
  FastCentrik's;
- an accepted update ends a deferral; the last order-scope attention item (until resolved by its code)
  is the open one.
tests/unit/audit/test_fast_path_parity.py checks on random logs that both agree, per order.

Memory: `vals` holds, first, the occurred_at of each order-event seq (`n_occ` of them, NaN where a seq
was not seen: the lag of an update is measured from the event it was based on), then the order's lags;
one flags word instead of booleans; the MALL id as an int.
"""

from __future__ import annotations

import math
from array import array

from mallbridge_audit.views import OrderFact, SyncFact
from mallbridge_core.domain.projection import mall_rank
from mallbridge_core.domain.sla import TRACKING_STATUSES, carries_tracking, delivered_lag_s
from mallbridge_schema.events import AttentionAcknowledged, OperatorEventBase
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, FastCentrikStatus, MallStatus

_S = MallStatus
_SHIPPED_LIKE = TRACKING_STATUSES  # the statuses whose orders are in the tracking figure
_NAN = math.nan

# OrderAcc.flags bits (one int instead of nine slots: the state of 100,000s of orders adds up). Ints up to
# 256 are shared by the interpreter, so the bits most orders have come first.
DELIVERY, MDP, TRACKED, SHIPPED, CANCELLED, DELIVERED_SENT = 1, 2, 4, 8, 16, 32
HEARD = 64  # MALL's status was claimed by an update or an observation (before: the assumed `open`)
MALL_SAID_MDP, MALL_MDP = 128, 256  # an observation gave MALL's word on MDP, and what it was


def _compact_id(mall_order_id: str) -> str | int:
    """MALL ids are digits: kept as an int (32 bytes, not 61); anything else (leading zero…) as given."""
    if mall_order_id.isdigit() and mall_order_id[0] != "0" and mall_order_id.isascii():
        return int(mall_order_id)
    return mall_order_id


class OrderAcc:
    """One order's compact running state (mutated by the fold functions below only)."""

    __slots__ = (
        "attention",
        "attention_at",
        "deferral",
        "dlv_lag",
        "fc_status",
        "flags",
        "mall",
        "mall_id",
        "n_att",
        "n_def",
        "n_obs",
        "n_occ",
        "n_rej",
        "n_req",
        "n_upd",
        "number",
        "pending",
        "people",
        "rejection",
        "req_no",
        "seq",
        "settled_no",
        "tenant",
        "vals",
    )

    def __init__(self, tenant: str, number: str, mall_id: str) -> None:
        self.tenant = tenant
        self.number = number
        self.mall_id: str | int = _compact_id(mall_id)
        self.seq = self.n_occ = self.flags = 0
        self.fc_status: FastCentrikStatus | None = None
        self.vals: array[float] = array("d")
        self.mall = _S.OPEN
        self.n_req = self.n_upd = self.n_rej = self.n_def = self.n_obs = self.n_att = 0
        self.req_no = self.settled_no = 0
        self.pending: list[tuple[int, float]] | None = None  # (based_on_seq, recorded_at) of lags to measure
        self.dlv_lag: float | None = None
        self.deferral: tuple[str, str] | None = None
        self.attention: tuple[str, str] | None = None
        self.attention_at = 0.0  # when the last order-scope attention item was raised (occurred_at)
        self.rejection: tuple[str, int, str] | None = None
        self.people: PeopleActions | None = None  # what people decided (most orders: nothing)

    def first_seen(self) -> float:
        """The earliest occurred_at of its order events (when it reached open); inf without any."""
        seen = [v for v in self.vals[: self.n_occ] if v == v]
        return min(seen) if seen else math.inf

    def occurred(self, seq: int) -> float:
        """occurred_at of order event `seq` (NaN when not seen)."""
        return self.vals[seq - 1] if 0 < seq <= self.n_occ else _NAN

    def lags(self) -> array[float]:
        return self.vals[self.n_occ :]

    def set_flag(self, bit: int, on: bool) -> None:
        self.flags = self.flags | bit if on else self.flags & ~bit

    @property
    def attention_acknowledged(self) -> bool:
        """A person acknowledged the attention item (`mallbridge order ack`) at or after it was raised."""
        if self.attention is None or self.people is None:
            return False
        acked = self.people.acks.get(self.attention[0])
        return acked is not None and acked >= self.attention_at

    @property
    def attention_open(self) -> bool:
        """In the open-attention list: an item recorded and not acknowledged (resolved ones are gone)."""
        return self.attention is not None and not self.attention_acknowledged

    @property
    def mdp(self) -> bool:
        """Whether the order ships with MALL Delivery: MALL's word when it gave one, else FastCentrik's."""
        flags = self.flags
        return bool(flags & MALL_MDP) if flags & MALL_SAID_MDP else bool(flags & MDP)


class PeopleActions:
    """What people decided about one order (operator-events.v1): each request once, by event id, and per
    attention code the latest moment it was acknowledged."""

    __slots__ = ("acks", "ids")

    def __init__(self) -> None:
        self.ids: dict[str, set[str]] = {}  # action (event type) → event ids
        self.acks: dict[str, float] = {}

    def count(self, action: str) -> int:
        return len(self.ids.get(action, ()))


def fold_operator_event(acc: OrderAcc, event: OperatorEventBase) -> None:
    """A person's return, resync or acknowledgement of the order (redelivered: counted once)."""
    people = acc.people
    if people is None:
        people = acc.people = PeopleActions()
    kind = type(event).__name__
    people.ids.setdefault(kind, set()).add(str(event.event_id))
    if isinstance(event, AttentionAcknowledged):
        at = event.occurred_at.timestamp()
        if at > people.acks.get(event.code, -math.inf):
            people.acks[event.code] = at


# ---- FastCentrik's side --------------------------------------------------------------------------------


def fold_order_fact(acc: OrderAcc, fact: OrderFact) -> None:
    """One order event: its occurred_at is kept for the lags; it changes the order only when newer."""
    at = fact.occurred_at.timestamp()
    seq = fact.seq
    _note_occurred(acc, seq, at)
    if acc.pending:
        _resolve_pending(acc, seq, at)
    if fact.mall_order_id and fact.mall_order_id != str(acc.mall_id):
        acc.mall_id = _compact_id(fact.mall_order_id)
    kind = fact.type
    if seq <= acc.seq or kind == "MallOrderChanged":
        return  # redelivered or older than what was applied, or MALL's fact: FastCentrik's side stays
    acc.seq = seq
    if kind == "OrderStatusChanged":
        acc.fc_status = fact.to_status
    elif kind == "OrderFirstSeen":
        acc.fc_status = fact.status
        acc.set_flag(DELIVERY, fact.delivered_at is not None)
        acc.set_flag(MDP, bool(fact.mdp))
    elif kind == "DeliveryDateSet":
        acc.set_flag(DELIVERY, fact.delivered_at is not None)
    elif kind == "MdpFlagSet":
        acc.set_flag(MDP, bool(fact.mdp))


def _note_occurred(acc: OrderAcc, seq: int, at: float) -> None:
    vals = acc.vals
    n_occ = acc.n_occ
    if seq == n_occ + 1 and len(vals) == n_occ:
        vals.append(at)  # the usual case: the next seq, no lag recorded yet
        acc.n_occ = seq
    elif seq > n_occ:
        vals[n_occ:n_occ] = array("d", [_NAN] * (seq - n_occ))  # before the lags
        vals[seq - 1] = at
        acc.n_occ = seq
    elif vals[seq - 1] != vals[seq - 1]:  # NaN: not seen yet
        vals[seq - 1] = at


def _resolve_pending(acc: OrderAcc, seq: int, at: float) -> None:
    """Lags of updates read before the order event they were based on, now that it is here."""
    assert acc.pending is not None
    still: list[tuple[int, float]] = []
    for based_on, recorded in acc.pending:
        if based_on == seq:
            acc.vals.append(recorded - at)
        else:
            still.append((based_on, recorded))
    acc.pending = still or None


# ---- MALL's side ---------------------------------------------------------------------------------------


def fold_sync_fact(acc: OrderAcc, fact: SyncFact) -> None:
    """One order-scope sync event. A copy of a request or an outcome (its request_no already counted) is
    counted once, and changes the order as the projection says (a claim, so a copy changes nothing)."""
    kind = fact.type
    status = fact.status
    if kind == "MallStatusUpdated":
        assert status is not None
        body = fact.request
        if body is not None and body.status is not None:  # a confirm-only PUT leaves the status
            _claim(acc, status)
        acc.deferral = None  # as in the projection: an accepted update ends the deferral
        if fact.request_no > acc.settled_no:
            acc.settled_no = fact.request_no
            _count_accepted(acc, fact, status)
    elif kind == "MallUpdateRequested":
        if fact.request_no > acc.req_no:
            acc.req_no = fact.request_no
            acc.n_req += 1
    elif kind == "MallUpdateRejected":
        acc.rejection = (str(status), fact.http_status, fact.message or "")
        if fact.request_no > acc.settled_no:
            acc.settled_no = fact.request_no
            acc.n_rej += 1
    elif kind == "MallStateObserved":
        assert status is not None
        _observed(acc, fact, status)
    elif kind == "StepDeferred":
        acc.n_def += 1
        acc.deferral = (str(status), fact.reason or "")
    elif kind == "AttentionNeeded":
        acc.n_att += 1
        acc.attention = (fact.code or "", fact.reason or "")
        acc.attention_at = fact.occurred_at.timestamp()
    elif kind == "AttentionResolved" and acc.attention is not None and acc.attention[0] == fact.code:
        acc.attention = None


def _claim(acc: OrderAcc, status: MallStatus) -> None:
    """MALL has `status`: taken when later along MALL's graph, or over the assumed `open`."""
    if status in _SHIPPED_LIKE:
        acc.flags |= SHIPPED
    if not acc.flags & HEARD or mall_rank(status) > mall_rank(acc.mall):
        acc.mall = status
    acc.flags |= HEARD


def _observed(acc: OrderAcc, fact: SyncFact, status: MallStatus) -> None:
    acc.n_obs += 1
    if status in FINAL_MALL_STATUSES and acc.mall in FINAL_MALL_STATUSES:
        acc.mall = status  # MALL's word: the final status it reports replaces the one we had
        acc.flags |= HEARD
    else:
        _claim(acc, status)
    if status in _SHIPPED_LIKE and carries_tracking(fact.tracking_number, fact.tracking_url):
        acc.flags |= TRACKED
    if fact.mdp is not None:
        acc.flags |= MALL_SAID_MDP
        acc.set_flag(MALL_MDP, fact.mdp)


def _count_accepted(acc: OrderAcc, fact: SyncFact, status: MallStatus) -> None:
    """The figures of an accepted update: its lag, tracking, a partner cancellation, the delivered lag."""
    acc.n_upd += 1
    recorded = fact.recorded_at.timestamp()
    based_on = fact.based_on_seq
    occurred = acc.occurred(based_on)
    if occurred == occurred:  # not NaN
        acc.vals.append(recorded - occurred)
    elif based_on > 0:
        acc.pending = [*(acc.pending or ()), (based_on, recorded)]
    body = fact.request
    if body is None or body.status is None:
        return  # a confirm-only PUT: it sent no status, so no tracking, cancellation or delivery
    if status is _S.SHIPPED and carries_tracking(body.tracking_number, body.tracking_url):
        acc.flags |= TRACKED
    elif status is _S.CANCELLED:
        acc.flags |= CANCELLED
    elif status is _S.DELIVERED:
        acc.flags |= DELIVERED_SENT
        acc.dlv_lag = delivered_lag_s(body.delivered_at, accepted_at=fact.recorded_at)
