"""The audit's fold of one order: a compact accumulator, fed the facts of the three topics (`views.py`). Pure.

Why not the projection's `OrderState`: a replay folds every event of the log, and the report needs a
few hundred bytes per order and a couple of microseconds per event. So the audit keeps its own fold,
with what only the audit needs on top (counters, lags, what MALL said and why it was read, people's
actions). Where both fold the same thing they follow the same rules, those of `mallbridge_core.domain`
(`fastcentrik.py`, `mall_side_fold.py`, `operator_side.py`). This module holds the accumulator and
FastCentrik's side; MALL's side is `mall_fold.py`, people's actions `operator_fold.py`.
- an order event counts only when its seq is newer than the last applied FastCentrik fact;
  `MallOrderChanged` (MALL's fact on the same topic) changes nothing of FastCentrik's side, not even the
  seq, and is not when the order reached open; the MALL order id is taken from every order event that
  carries one.
tests/unit/audit/test_fast_path_parity.py checks on random logs that the fold and the projection agree.

Memory: `vals` holds, first, the occurred_at of each order-event seq (`n_occ` of them, NaN where a seq
was not seen: the lag of an update is measured from the event it was based on), then the order's lags;
one flags word instead of booleans; the MALL id as an int; what MALL said as a list of small ints and
people's actions as a list, both None for the many orders without any.
"""

from __future__ import annotations

import math
from array import array
from datetime import datetime

from mallbridge_audit.views import OrderFact
from mallbridge_core.domain.mall_side import StatusBy
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

_NAN = math.nan

# OrderAcc.flags bits (one int instead of ten slots: the state of 100,000s of orders adds up). Ints up to
# 256 are shared by the interpreter, so the bits most orders have come first.
DELIVERY = 1  # FastCentrik has a delivery date
TRACKED = 2  # the tracking number and URL last known (our accepted PUT's, or MALL's read) are both there
HEARD = 4  # MALL's status was claimed by an update or an observation (before: the assumed `open`)
BY_US = 8  # ... and it was our PUT that set it (else MALL's side); see mall_side.status_by
DELIVERED_SENT = 16  # MALL accepted a `delivered` of ours
CONF_KNOWN, CONF_TRUE = 32, 64  # MALL's `confirmed`, once something said it
MDP = 128  # FastCentrik says MALL Delivery
MALL_SAID_MDP, MALL_MDP = 256, 512  # MALL gave its word on MDP, and what it was


def _compact_id(mall_order_id: str) -> str | int:
    """MALL ids are digits: kept as an int (32 bytes, not 61); anything else (leading zero…) as given."""
    if mall_order_id.isdigit() and mall_order_id[0] != "0" and mall_order_id.isascii():
        return int(mall_order_id)
    return mall_order_id


class OrderAcc:
    """One order's compact running state (mutated by the fold functions only)."""

    __slots__ = (
        "attention",
        "deferral",
        "dlv_lag",
        "doubt",
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
        "ops",
        "pending",
        "rejection",
        "req_lag",
        "req_no",
        "said",
        "seq",
        "settled",
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
        self.mall = MallStatus.OPEN
        self.n_req = self.n_upd = self.n_rej = self.n_def = self.n_obs = self.n_att = 0
        self.req_no = self.settled_no = 0  # the highest request and outcome numbers (for counting once)
        self.settled = 0  # the highest number an outcome or a read settled (the projection's settled_request_no)
        self.doubt: MallStatus | None = None  # the status our last PUT in doubt asked for (None: none, confirm-only)
        self.pending: list[tuple[int, float]] | None = None  # (based_on_seq, recorded_at) of lags to measure
        self.dlv_lag: float | None = None
        # our last `delivered` request not yet answered: its number, the delivered_at it sent, when it was sent
        self.req_lag: tuple[int, str | None, datetime] | None = None
        self.deferral: tuple[str, str] | None = None
        self.attention: tuple[str, str, float] | None = None  # (code, reason, raised: its occurred_at)
        self.rejection: tuple[str, int, str] | None = None
        self.said: list[int] | None = None  # one code per observation (mall_fold.read_code)
        self.ops: list[tuple[str, str, str, str, str, float, float]] | None = None  # operator_fold.Action

    def first_seen(self) -> float:
        """The occurred_at of its lowest order event seen (when it reached open); inf without any."""
        vals = self.vals
        for i in range(self.n_occ):  # by index: a slice would copy the array for every order in the report
            v = vals[i]
            if v == v:
                return v
        return math.inf

    def occurred(self, seq: int) -> float:
        """occurred_at of order event `seq` (NaN when not seen)."""
        return self.vals[seq - 1] if 0 < seq <= self.n_occ else _NAN

    def lags(self) -> array[float]:
        return self.vals[self.n_occ :]

    def set_flag(self, bit: int, on: bool) -> None:
        self.flags = self.flags | bit if on else self.flags & ~bit

    @property
    def mdp(self) -> bool:
        """Whether the order ships with MALL Delivery: MALL's word when it gave one, else FastCentrik's."""
        flags = self.flags
        return bool(flags & MALL_MDP) if flags & MALL_SAID_MDP else bool(flags & MDP)

    @property
    def status_by(self) -> StatusBy:
        """Who set MALL's status: "assumed" (nothing known yet), "us" or "mall" (mall_side.StatusBy)."""
        flags = self.flags
        return "assumed" if not flags & HEARD else "us" if flags & BY_US else "mall"

    @property
    def confirmed(self) -> bool | None:
        flags = self.flags
        return bool(flags & CONF_TRUE) if flags & CONF_KNOWN else None


# ---- FastCentrik's side --------------------------------------------------------------------------------


def fold_order_fact(acc: OrderAcc, fact: OrderFact) -> None:
    """One order event: its occurred_at is kept for the lags; it changes the order only when newer."""
    seq = fact.seq
    kind = fact.type
    if fact.mall_order_id and fact.mall_order_id != str(acc.mall_id):
        acc.mall_id = _compact_id(fact.mall_order_id)
    if kind == "MallOrderChanged":
        return  # MALL's fact on the same topic: FastCentrik's side stays (no decision is based on its seq)
    at = fact.occurred_at.timestamp()
    _note_occurred(acc, seq, at)
    if acc.pending:
        _resolve_pending(acc, seq, at)
    if seq <= acc.seq:
        return  # redelivered or older than what was applied
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
