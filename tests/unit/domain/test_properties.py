"""Property tests (hypothesis) over random event sequences of one order.

A scenario interleaves random FastCentrik facts (status changes, delivery date set/cleared, tracking, MDP flag)
with a simulated publisher that plans and records outcomes: every step applied, a step rejected, a crash
after a request (in doubt, then read), deferrals, attention items, and MALL changing the order on its own.
At every plan, and over the whole log at the end, the invariants of DESIGN §2/§3 must hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import Plan, plan
from mallbridge_schema.events import Event, OrderEventBase
from mallbridge_schema.mall_format import is_valid_tracking_number
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, FastCentrikStatus, MallStatus
from mallbridge_schema.transitions import is_partner_transition

from . import builders as b

SETTINGS = settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
NOWS = [datetime(2026, 4, 1, 10, 0, tzinfo=UTC), datetime(2026, 6, 1, 10, 0, tzinfo=UTC)]
DELIVERY_VALUES = [
    None,
    "2026-03-10T14:05:00+01:00",
    "2026-03-29T02:30:00",  # naive, in the spring DST gap
    "2026-03-10",
    "2026-04-01",  # a date alone typed in advance
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
    ("", ""),
]
MALL_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
BODY_KEYS = {"status", "confirmed", "tracking_number", "tracking_url", "delivered_at"}

# settled twice as often as the others: it is where tracking, delivery dates and MDP matter
fc_statuses = st.sampled_from([*FastCentrikStatus, FastCentrikStatus.SETTLED, FastCentrikStatus.SETTLED])
mall_statuses = st.sampled_from(list(MallStatus))

publish_op = st.tuples(st.just("publish"), st.sampled_from(["all", "all", "all", "reject", "crash"]), st.integers(0, 2))
ops = st.one_of(
    publish_op,  # the publisher runs about as often as all other kinds of ops together
    publish_op,
    publish_op,
    st.tuples(st.just("fc"), fc_statuses),
    st.tuples(st.just("delivery"), st.sampled_from(DELIVERY_VALUES)),
    st.tuples(st.just("tracking"), st.sampled_from(TRACKING)),
    st.tuples(st.just("mdp"), st.booleans()),
    st.tuples(st.just("mall"), mall_statuses, st.booleans()),
    st.tuples(st.just("read"), st.booleans(), st.booleans()),
)


@dataclass
class Sim:
    """The two topics as written, and the log in the order one consumer happened to see them."""

    now: datetime
    log: list[Event] = field(default_factory=list)
    order_stream: list[Event] = field(default_factory=list)
    sync_stream: list[Event] = field(default_factory=list)
    seq: int = 0
    request_no: int = 0
    in_doubt_status: MallStatus | None = None
    plans_checked: int = 0
    kinds: set[str] = field(default_factory=set)  # what the checked plans looked like (generator coverage)

    def order(self, event: OrderEventBase) -> None:
        self.order_stream.append(event)
        self.log.append(event)

    def sync(self, event: Event) -> None:
        self.sync_stream.append(event)
        self.log.append(event)

    def next_seq(self) -> int:
        self.seq += 1
        return self.seq

    def next_request(self) -> int:
        self.request_no += 1
        return self.request_no

    def state(self) -> OrderState:
        return b.state_of(self.log)


def check_plan(state: OrderState, p: Plan, now: datetime) -> None:
    """The invariants of a single plan."""
    assert plan(state, now=now) == p, "same state and now → same plan"
    current, mdp = state.mall.status, state.fc.mdp
    if state.fc.status is None:
        assert p == Plan()
        return
    if state.request_in_doubt:
        assert p.read_first
    if p.read_first or p.attention is not None:
        assert p.steps == ()
    assert p.attention is None or p.deferral is None
    if p.steps:
        assert current not in FINAL_MALL_STATUSES, "no step ever leaves a final status"
    before = current
    for index, step in enumerate(p.steps):
        assert step.status != current, "a status is never re-sent"
        assert before not in FINAL_MALL_STATUSES
        assert is_partner_transition(before, step.status, mdp=mdp), (before, step.status, mdp)
        body = step.body
        assert set(body) <= BODY_KEYS
        assert body["status"] == step.status.value
        if index == 0 and not state.mall.confirmed:
            assert body["confirmed"] is True
        else:
            assert "confirmed" not in body
        if step.status is MallStatus.SHIPPED and not mdp:
            assert is_valid_tracking_number(body["tracking_number"])
            assert body["tracking_url"].strip()
        else:
            assert "tracking_number" not in body
            assert "tracking_url" not in body
        if step.status is MallStatus.DELIVERED:
            assert not mdp
            assert MALL_FORMAT.fullmatch(body["delivered_at"])
        else:
            assert "delivered_at" not in body
        before = step.status
    if not (p.read_first or p.attention or p.deferral):
        assert before == p.desired, "a plan with nothing holding it up reaches the desired status"
    rejection = state.mall.rejection
    if not p.read_first and rejection is not None and rejection.based_on_seq == state.fc.seq and p.desired != current:
        assert p.attention is not None
        assert p.attention.code == "mall_rejected"


def publish(sim: Sim, mode: str, k: int) -> None:
    state = sim.state()
    p = plan(state, now=sim.now)
    check_plan(state, p, sim.now)
    sim.plans_checked += 1
    sim.kinds.update(kind for kind, on in _kinds(state, p).items() if on)
    seq = state.fc.seq
    if p.read_first:
        return  # the publisher must read first: the "read" op does that
    steps = list(p.steps)
    cut = len(steps) if mode == "all" else min(k, len(steps))
    for step in steps[:cut]:
        n = sim.next_request()
        sim.sync(b.requested(n, step.status, step.body, seq=seq))
        sim.sync(b.updated(n, step.status, step.body, seq=seq))
    if cut < len(steps):
        step = steps[cut]
        n = sim.next_request()
        sim.sync(b.requested(n, step.status, step.body, seq=seq))
        if mode == "reject":
            sim.sync(b.rejected(n, step.status, seq=seq))
        else:  # crash after the request went out: the outcome is unknown
            sim.in_doubt_status = step.status
        return
    if p.deferral is not None:
        sim.sync(b.deferred(p.deferral.status, p.deferral.reason, until=p.deferral.until, seq=seq))
    if p.attention is not None:
        sim.sync(b.attention(p.attention.code, seq=seq))
    elif state.mall.attention_code is not None:
        sim.sync(b.resolved(state.mall.attention_code, seq=seq))
    after = sim.state()
    if p.desired is not None:
        assert after.mall.status == p.desired or p.attention is not None or p.deferral is not None, (
            "after a plan's steps are applied MALL has the desired status, or the plan says why not"
        )


def read(sim: Sim, done: bool, confirmed: bool) -> None:
    """The publisher's GET after an unknown outcome: the PUT either happened or it did not."""
    state = sim.state()
    if not state.request_in_doubt:
        return
    status = sim.in_doubt_status if done and sim.in_doubt_status is not None else state.mall.status
    sim.sync(b.observed(status, confirmed=confirmed or done, request_no=state.mall.last_request_no))
    sim.in_doubt_status = None


@st.composite
def scenarios(draw: st.DrawFn) -> Sim:
    sim = Sim(now=draw(st.sampled_from(NOWS)))
    sim.order(
        b.first_seen(
            draw(fc_statuses),
            seq=sim.next_seq(),
            delivered_at=draw(st.sampled_from(DELIVERY_VALUES)),
            tracking=draw(st.sampled_from(TRACKING)),
            mdp=draw(st.booleans()),
        )
    )
    for op in draw(st.lists(ops, min_size=4, max_size=40)):
        kind = op[0]
        if kind == "fc":
            before = sim.state().fc.status
            assert before is not None
            sim.order(b.status_changed(sim.next_seq(), before, op[1]))
        elif kind == "delivery":
            sim.order(b.delivery_set(sim.next_seq(), op[1]))
        elif kind == "tracking":
            sim.order(b.tracking_assigned(sim.next_seq(), *op[1]))
        elif kind == "mdp":
            sim.order(b.mdp_set(sim.next_seq(), op[1]))
        elif kind == "mall":
            sim.sync(b.observed(op[1], confirmed=op[2]))
        elif kind == "publish":
            publish(sim, op[1], op[2])
        else:
            read(sim, op[1], op[2])
    publish(sim, "all", 0)  # always end with at least one checked plan
    return sim


def _merge(first: list[Event], second: list[Event], picks: list[bool]) -> list[Event]:
    """Interleave two streams, each kept in its own order, as `picks` says (True: take from `first`)."""
    merged: list[Event] = []
    i = j = 0
    for pick in picks:
        if pick and i < len(first):
            merged.append(first[i])
            i += 1
        elif j < len(second):
            merged.append(second[j])
            j += 1
    return merged + first[i:] + second[j:]


@SETTINGS
@given(sim=scenarios())
def test_every_plan_keeps_the_rules(sim: Sim) -> None:
    # the checks run inside the scenario, at every publish; here only that they did run
    assert sim.plans_checked >= 1


@SETTINGS
@given(sim=scenarios(), data=st.data())
def test_redelivery_and_duplicates_change_nothing(sim: Sim, data: st.DataObject) -> None:
    log = sim.log
    state = b.state_of(log)
    assert b.state_of(log + log) == state, "the whole sequence delivered twice"
    for start in data.draw(st.lists(st.integers(0, len(log)), min_size=1, max_size=4), label="suffix starts"):
        assert b.state_of(log + log[start:]) == state, f"suffix from {start} redelivered"
    doubled = data.draw(st.lists(st.booleans(), min_size=len(log), max_size=len(log)), label="duplicated")
    with_duplicates = [event for event, twice in zip(log, doubled, strict=True) for _ in range(2 if twice else 1)]
    assert b.state_of(with_duplicates) == state, "adjacent duplicates"
    stale = data.draw(st.sampled_from(sim.order_stream), label="stale order event")
    assert b.state_of([*log, stale]) == state, "an older order event redelivered alone, out of order"
    assert plan(b.state_of(with_duplicates), now=sim.now) == plan(state, now=sim.now)


@SETTINGS
@given(sim=scenarios(), data=st.data())
def test_the_plan_is_a_pure_function_of_the_events(sim: Sim, data: st.DataObject) -> None:
    state = b.state_of(sim.log)
    expected = plan(state, now=sim.now)
    orders, syncs = sim.order_stream, sim.sync_stream
    picks = data.draw(st.lists(st.booleans(), max_size=len(orders) + len(syncs)), label="interleaving")
    for log in (orders + syncs, syncs + orders, _merge(orders, syncs, picks)):
        assert sorted(map(id, log)) == sorted(map(id, sim.log))
        other = b.state_of(log)
        assert other == state
        assert plan(other, now=sim.now) == expected
    assert plan(b.state_of(list(sim.log)), now=sim.now) == expected  # and again: no hidden state


def test_the_simulation_reaches_every_kind_of_outcome() -> None:
    """Guard against a generator that never exercises the interesting paths."""
    seen: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(sim=scenarios())
    def collect(sim: Sim) -> None:
        seen.update(sim.kinds)

    collect()
    assert seen >= {
        "steps",
        "two_steps",
        "steps_and_deferral",
        "deferral_until",
        "attention",
        "read_first",
        "rejected",
        "settled",
        "mdp_steps",
        "confirmed_step",
        "unconfirmed_step",
    }


def _kinds(state: OrderState, p: Plan) -> dict[str, Any]:
    return {
        "steps": p.steps,
        "two_steps": len(p.steps) >= 2,
        "deferral": p.deferral,
        "attention": p.attention,
        "read_first": p.read_first,
        "rejected": p.attention is not None and p.attention.code == "mall_rejected",
        "settled": p.settled and p.desired is not None,
        "steps_and_deferral": p.steps and p.deferral,
        "deferral_until": p.deferral is not None and p.deferral.until is not None,
        "mdp_steps": state.fc.mdp and p.steps,
        "confirmed_step": p.steps and state.mall.confirmed,
        "unconfirmed_step": p.steps and not state.mall.confirmed,
    }


def test_time_moves_a_deferred_delivery_forward() -> None:
    """Same events, later `now`: the deferral becomes the step (the plan depends on events and now only)."""
    events = [b.first_seen("settled", delivered_at="2026-04-01T14:00:00+02:00", tracking=("DR-1", "https://t/1"))]
    state = b.state_of(events)
    early = plan(state, now=datetime(2026, 4, 1, 11, 59, tzinfo=UTC))
    late = plan(state, now=datetime(2026, 4, 1, 12, 0, tzinfo=UTC) + timedelta(seconds=1))
    assert early.deferral is not None
    assert [s.status for s in early.steps] == [MallStatus.SHIPPED]
    assert late.deferral is None
    assert [s.status for s in late.steps] == [MallStatus.SHIPPED, MallStatus.DELIVERED]
