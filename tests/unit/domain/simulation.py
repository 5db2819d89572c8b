"""The world of the property tests: one order's three topics, MALL's truth (`mall_model`) and a publisher.

The simulated publisher does what the real one does with a plan: read MALL when the plan says so (and
record what it read with the source and request number the plan names), else send the first step, else
record the deferral or attention item. MALL's truth decides each PUT's outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from mallbridge_core.domain.mall_side import observation_changes
from mallbridge_core.domain.projection import OrderState, attention_item
from mallbridge_core.domain.reconciler import PendingRead, Plan, PutStep, effective_mdp, plan, return_refusal
from mallbridge_schema.events import Event, ObservationSource
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, FastCentrikStatus, MallStatus

from . import builders as b
from .mall_model import FINAL, MallOrder, accepted, mall_action, refusal

NOWS = [datetime(2026, 4, 1, 10, 0, tzinfo=UTC), datetime(2026, 6, 1, 10, 0, tzinfo=UTC)]
DELIVERY_VALUES = [
    None,
    "2026-03-10T14:05:00+01:00",
    "2026-03-29T02:30:00",  # naive, in the spring DST gap
    "2026-03-10",
    "2026-04-01T14:00:00+02:00",  # future for the first "now", past for the second
    "2026-05-01",
    "not a date",
]
TRACKING = [
    (None, None),
    ("DR-1", "https://t.example/1"),
    ("DR-4_x", "https://t.example/4"),
    ("DR 2", "https://t.example/2"),
    ("DR-3", None),
]
Check = Callable[["Sim", OrderState, Plan], None]


@dataclass
class Sim:
    now: datetime
    truth: MallOrder
    log: list[Event] = field(default_factory=list)
    order_stream: list[Event] = field(default_factory=list)
    sync_stream: list[Event] = field(default_factory=list)
    operator_stream: list[Event] = field(default_factory=list)
    seq: int = 0
    clock: int = 0
    plans_checked: int = 0
    kinds: set[str] = field(default_factory=set)
    refuse_next: bool = False  # MALL refuses the next PUT for a reason no read shows
    returns_asked: int = 0  # operator returns recorded, and refusals of `returned`: counted here, not
    returns_refused: int = 0  # read from the fold, so the checks do not trust the code under test

    def _write(self, stream: list[Event], event: Event) -> None:
        stream.append(event)
        self.log.append(event)

    def tick(self) -> datetime:
        self.clock += 1
        return b.T0 + timedelta(seconds=self.clock)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def state(self) -> OrderState:
        return b.state_of(self.log)

    def log_is_exact(self, state: OrderState) -> bool:
        """The log knows MALL's state (what a PUT's acceptance depends on) as MALL's truth has it."""
        mall = state.mall
        return (
            mall.status.value == self.truth.status
            and effective_mdp(state) == self.truth.mdp
            and (mall.confirmed is None or mall.confirmed == self.truth.confirmed)
        )

    # ---- FastCentrik ---------------------------------------------------------------------------------

    def first_seen(self, status: FastCentrikStatus, delivered: str | None, tracking: Any, mdp: bool) -> None:
        event = b.first_seen(status, seq=self.next_seq(), delivered_at=delivered, tracking=tracking, mdp=mdp)
        self._write(self.order_stream, event)

    def fact(self, kind: str, value: Any) -> None:
        seq = self.next_seq()
        if kind == "fc":
            before = self.state().fc.status
            assert before is not None
            self._write(self.order_stream, b.status_changed(seq, before, value))
        elif kind == "delivery":
            self._write(self.order_stream, b.delivery_set(seq, value))
        elif kind == "tracking":
            self._write(self.order_stream, b.tracking_assigned(seq, *value))
        else:
            self._write(self.order_stream, b.mdp_set(seq, value))

    # ---- MALL's own changes, and what mallbridge hears of them -----------------------------------------

    def mall_changes(self, action: str, *, seen_by: str) -> None:
        if action == "refuse_next":
            self.refuse_next = True
            return
        changed = mall_action(self.truth, action)
        if changed is None:
            return
        self.truth = changed
        if seen_by == "webhook":
            self._write(self.order_stream, b.mall_changed(self.next_seq()))
        if seen_by != "lost":
            self.observe(seen_by, 0, only_if_changed=True)  # type: ignore[arg-type]

    def observe(self, source: ObservationSource, request_no: int, *, only_if_changed: bool = False) -> None:
        state, t = self.state(), self.truth
        changed = observation_changes(
            state.mall,
            status=MallStatus(t.status),
            confirmed=t.confirmed,
            tracking_number=t.tracking_number,
            tracking_url=t.tracking_url,
            delivered_at=t.delivered_at,
        )
        if only_if_changed and not changed:
            return  # a read that finds nothing new writes nothing
        event = b.observed(
            t.status,
            confirmed=t.confirmed,
            request_no=request_no,
            source=source,
            changed=changed,
            mdp=t.mdp,
            tracking=(t.tracking_number, t.tracking_url),
            delivered_at=t.delivered_at,
        )
        self._write(self.sync_stream, event)

    # ---- people ----------------------------------------------------------------------------------------

    def operator(self, kind: str) -> None:
        state = self.state()
        if kind == "return" and return_refusal(state) is None:
            self._write(self.operator_stream, b.return_requested(at=self.tick()))
            self.returns_asked += 1
        elif kind == "resync":
            self._write(self.operator_stream, b.resync_requested(at=self.tick()))
        elif kind == "ack":
            item = attention_item(state)
            if item is not None:
                self._write(self.operator_stream, b.acknowledged(item.code, at=self.tick()))
        elif kind == "balance" and self.truth.status not in FINAL and self.truth.status != state.mall.status.value:
            self._write(self.operator_stream, b.balance_seen(self.truth.status, mdp=self.truth.mdp))

    # ---- the publisher -----------------------------------------------------------------------------------

    def publish(self, mode: str, check: Check, *, rounds: int = 6) -> bool:
        """Up to `rounds` passes of the publisher's loop; True when the order came to rest."""
        for _ in range(rounds):
            state = self.state()
            p = plan(state, now=self.now)
            check(self, state, p)
            self.plans_checked += 1
            self.kinds.update(kind for kind, on in _kinds(state, p).items() if on)
            if p.read is not None:
                self.read(p.read)
            elif p.steps:
                if not self.send(state, p.steps[0], mode):
                    return False
            else:
                self.notes(state, p)
                return True
        return False

    def read(self, pending: PendingRead) -> None:
        self.observe(pending.source, pending.request_no)

    def send(self, state: OrderState, step: PutStep, mode: str) -> bool:
        """Send one PUT; False when the publisher crashed with its outcome unknown."""
        n, seq, body = state.mall.last_request_no + 1, state.fc.seq, step.body
        self._write(self.sync_stream, b.requested(n, step.status, body, seq=seq))
        why = "a reason the order's state does not show" if self.refuse_next else refusal(self.truth, body)
        if mode != "ok":
            if mode == "crash_done" and why is None:
                self.truth = accepted(self.truth, body)
            return False
        if why is not None:
            self.refuse_next = False
            self.kinds.add("refused_by_truth")
            self.returns_refused += step.status is MallStatus.RETURNED
            self._write(self.sync_stream, b.rejected(n, step.status, seq=seq, body=body))
            return True
        self.truth = accepted(self.truth, body)
        self._write(self.sync_stream, b.updated(n, step.status, body, seq=seq))
        return True

    def notes(self, state: OrderState, p: Plan) -> None:
        seq, mall = state.fc.seq, state.mall
        if p.deferral is not None and p.deferral != mall.deferral:
            deferral = p.deferral
            self._write(self.sync_stream, b.deferred(deferral.status, deferral.reason, until=deferral.until, seq=seq))
        if p.attention is not None and p.attention.code != mall.attention_code:
            self._write(self.sync_stream, b.attention(p.attention.code, seq=seq, at=self.tick()))
        elif p.attention is None and mall.attention_code is not None:
            self._write(self.sync_stream, b.resolved(mall.attention_code, seq=seq))


def drain(sim: Sim, check: Check) -> None:
    """MALL's changes all seen (a resync), then the publisher alone: the order must come to rest."""
    sim.operator("resync")
    assert sim.publish("ok", check, rounds=12), "the publisher kept reading or sending"
    state = sim.state()
    p = plan(state, now=sim.now)
    assert sim.log_is_exact(state)
    if p.settled and p.desired is not None and sim.truth.status != "blocked":  # (blocked, pending: nothing due)
        assert sim.truth.status == p.desired.value, "at rest MALL has the status the plan names"
    if return_refusal(state) is None and not sim.refuse_next:
        sim.operator("return")  # the parcel came back: returned goes out once, and that is the order's end
        assert sim.publish("ok", check, rounds=4)
        ended = plan(sim.state(), now=sim.now)
        assert sim.truth.status == "returned"
        if p.desired in (MallStatus.SHIPPED, MallStatus.CANCELLED):
            assert ended.settled, "FastCentrik settled (or cancelled) and the parcel came back: the normal end"
        else:  # FastCentrik says delivered, or not shipped yet: a person must look
            assert ended.attention is not None
            assert ended.attention.code == "mall_final"
        assert return_refusal(sim.state()) is not None, "an order can be returned once"
        return
    item = attention_item(state)
    if item is not None and p.attention is not None and p.attention.code == item.code:
        sim.operator("ack")  # a person handles it: still reported, no longer open
        assert sim.publish("ok", check, rounds=1)
        after = sim.state()
        acked = attention_item(after)
        assert acked is not None
        assert acked.acknowledged
        assert not acked.open
        assert after.mall == state.mall, "an acknowledgement changes nothing on MALL's side, and sends nothing"


def merge(streams: Sequence[list[Event]], picks: list[int]) -> list[Event]:
    """Interleave the streams, each kept in its own order, as `picks` says (the index of the next stream)."""
    queues = [list(stream) for stream in streams]
    merged: list[Event] = []
    for pick in picks:
        if queues[pick]:
            merged.append(queues[pick].pop(0))
    for queue in queues:
        merged.extend(queue)
    return merged


def _kinds(state: OrderState, p: Plan) -> dict[str, Any]:
    code = p.attention.code if p.attention is not None else None
    mall = state.mall
    return {
        "two_steps": len(p.steps) >= 2,
        "steps_and_deferral": p.steps and p.deferral,
        "deferral_until": p.deferral is not None and p.deferral.until is not None,
        f"read_{p.read.source if p.read else 'none'}": True,
        "confirm_only": p.steps and p.steps[0].confirm_only,
        "blocked_deferral": p.deferral is not None and "waiting for MALL to open" in p.deferral.reason,
        "cancelled_at_mall": code == "cancelled_at_mall",
        "mall_rejected": code == "mall_rejected",
        "mall_final": code == "mall_final",
        "return_step": p.steps and p.steps[0].status is MallStatus.RETURNED,
        "acknowledged": p.attention is not None and p.attention.acknowledged,
        "mdp_steps": effective_mdp(state) and p.steps,
        "settled_after_mall_final": p.settled and mall.status in FINAL_MALL_STATUSES and mall.status_by == "mall",
    }
