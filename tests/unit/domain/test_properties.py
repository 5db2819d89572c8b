"""Property tests (hypothesis) over random event sequences of one order, on all three topics.

A scenario interleaves random FastCentrik facts with MALL changing the order itself (a customer cancel,
MALL opening a blocked order, MALL Delivery's delivered/returned/lost, a portal return, an edit; each
resets `confirmed`), seen through a webhook or a poll or not at all (a lost webhook), `mallbridge balance`
drifts, operator requests (return, resync, ack) and a simulated publisher that plans, sends the first step,
reads when told to, and records outcomes: accepted, refused (MALL's truth decides) or unknown (a crash).

MALL's truth and the oracle are `mall_model`, an independent model of MALL's rules written from the
reference. At every plan: no step would be refused by MALL *given the MALL state the log knows*, and when
the log knows MALL's state exactly, MALL's truth accepts the step too. Over the whole log: folding is
idempotent and does not depend on how the three topics interleave.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mallbridge_core.domain.projection import OrderState, apply, mall_side_after
from mallbridge_core.domain.reconciler import Plan, effective_mdp, plan
from mallbridge_schema.events import Event, SyncEventBase
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, FastCentrikStatus, MallStatus

from . import builders as b
from .mall_model import MALL_ACTIONS, MallOrder, refusal
from .simulation import DELIVERY_VALUES, NOWS, TRACKING, Sim, drain, merge

# the heart of MALL's side: twice the profile's usual count in CI (100), the profile's count when it asks more
SETTINGS = settings(
    max_examples=max(100, settings().max_examples),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

fc_statuses = st.sampled_from([*FastCentrikStatus, FastCentrikStatus.SETTLED, FastCentrikStatus.SETTLED])
publish_op = st.tuples(st.just("publish"), st.sampled_from(["ok", "ok", "ok", "crash_done", "crash_lost"]))
mall_op = st.tuples(st.just("mall"), st.sampled_from(MALL_ACTIONS), st.sampled_from(["webhook", "poll", "lost"]))
operator_op = st.tuples(st.just("operator"), st.sampled_from(["return", "return", "resync", "ack", "ack", "balance"]))
ops = st.one_of(  # repeated strategies weigh more: the publisher runs about as often as everything else
    publish_op,
    publish_op,
    publish_op,
    publish_op,
    st.tuples(st.just("fc"), fc_statuses),
    st.tuples(st.just("delivery"), st.sampled_from(DELIVERY_VALUES)),
    st.tuples(st.just("tracking"), st.sampled_from(TRACKING)),
    st.tuples(st.just("mdp"), st.booleans()),
    mall_op,
    mall_op,
    operator_op,
    operator_op,
)


def believed_orders(state: OrderState) -> list[MallOrder]:
    """MALL's order as the log knows it; both values of `confirmed` when the log does not know it."""
    mall = state.mall
    known = [mall.confirmed] if mall.confirmed is not None else [False, True]
    return [
        MallOrder(mall.status.value, confirmed, effective_mdp(state), mall.tracking_number, mall.tracking_url)
        for confirmed in known
    ]


def check_plan(sim: Sim, state: OrderState, p: Plan) -> None:
    assert plan(state, now=sim.now) == p, "same state and now → same plan"
    if state.fc.status is None:
        assert p == Plan(), "no plan at all for an order FastCentrik has not named"
        return
    if state.request_in_doubt:
        assert p.read is not None
        assert p.read.source == "outcome_unknown"
    if p.read_first or p.attention is not None:
        assert p.steps == ()
    assert p.attention is None or p.deferral is None
    for order in believed_orders(state):
        for step in p.steps:
            why = refusal(order, step.body)
            assert why is None, f"MALL would refuse {step.body} on {order}: {why}"
            order = replace(order, status=step.body.get("status", order.status), confirmed=True)
    if p.steps and sim.log_is_exact(state):
        assert refusal(sim.truth, p.steps[0].body) is None, (p.steps[0].body, sim.truth)
    for index, step in enumerate(p.steps):
        assert index == 0 or "confirmed" not in step.body, "confirmed goes only with the first step"
        assert step.status.value == step.body.get("status", state.mall.status.value)
    if p.steps and p.steps[0].confirm_only:
        assert state.mall.confirmed is False, "a confirm-only step only when MALL is seen unconfirmed"
        assert len(p.steps) == 1
    if state.mall.status.value == "blocked":
        assert p.steps == ()
        assert p.attention is None
    if state.mall.status in FINAL_MALL_STATUSES:
        assert p.steps == (), "nothing is sent to a final order"
    refused = state.mall.rejection
    if p.steps and refused is not None and refused.read and refused.based_on_seq == state.fc.seq:
        body, before = dict(p.steps[0].body), dict(refused.body or {})
        newly_confirmed = "confirmed" in body and "confirmed" not in before
        body.pop("confirmed", None)
        before.pop("confirmed", None)
        # a person asking for the return again after MALL refused the last one is a new request: it goes out once
        asked_again = refused.status is MallStatus.RETURNED and sim.returns_asked > sim.returns_refused
        assert body != before or newly_confirmed or asked_again, (
            "a refused request is not re-sent until FastCentrik or MALL changes, or a person asks again"
        )


@st.composite
def scenarios(draw: st.DrawFn) -> Sim:
    mdp = draw(st.booleans())
    sim = Sim(now=draw(st.sampled_from(NOWS)), truth=MallOrder(draw(st.sampled_from(["open", "blocked"])), mdp=mdp))
    sim.first_seen(draw(fc_statuses), draw(st.sampled_from(DELIVERY_VALUES)), draw(st.sampled_from(TRACKING)), mdp)
    for op in draw(st.lists(ops, min_size=4, max_size=40)):
        if op[0] == "publish":
            sim.publish(op[1], check_plan)
        elif op[0] == "mall":
            sim.mall_changes(op[1], seen_by=op[2])
        elif op[0] == "operator":
            sim.operator(op[1])
        else:
            sim.fact(op[0], op[1])
    drain(sim, check_plan)  # the publisher alone, with MALL's changes seen: it comes to rest
    return sim


@SETTINGS
@given(sim=scenarios())
def test_no_plan_contains_a_put_mall_would_refuse(sim: Sim) -> None:
    # the checks run at every plan inside the scenario; here only that they ran
    assert sim.plans_checked >= 1


@SETTINGS
@given(sim=scenarios(), data=st.data())
def test_folding_is_idempotent(sim: Sim, data: st.DataObject) -> None:
    log = sim.log
    state = b.state_of(log)
    assert b.state_of([event for event in log for _ in range(2)]) == state, "each event applied twice = once"
    assert b.state_of(log + log) == state, "the whole sequence delivered twice"
    for start in data.draw(st.lists(st.integers(0, len(log)), min_size=1, max_size=4), label="suffix starts"):
        assert b.state_of(log + log[start:]) == state, f"suffix from {start} redelivered"
    stale = data.draw(st.sampled_from(sim.order_stream), label="stale order event")
    assert b.state_of([*log, stale]) == state, "an older order event redelivered alone, out of order"


@SETTINGS
@given(sim=scenarios(), data=st.data())
def test_the_plan_does_not_depend_on_how_the_topics_interleave(sim: Sim, data: st.DataObject) -> None:
    state = b.state_of(sim.log)
    expected = plan(state, now=sim.now)
    streams = (sim.order_stream, sim.sync_stream, sim.operator_stream)
    total = sum(map(len, streams))
    picks = data.draw(st.lists(st.integers(0, 2), max_size=total), label="interleaving")
    orders, syncs, operators = streams
    candidates: list[list[Event]] = [
        orders + syncs + operators,
        operators + syncs + orders,
        syncs + operators + orders,
        merge(streams, picks),
    ]
    for log in candidates:
        assert sorted(map(id, log)) == sorted(map(id, sim.log))
        other = b.state_of(log)
        assert other == state
        assert plan(other, now=sim.now) == expected


@SETTINGS
@given(sim=scenarios())
def test_mall_side_after_is_the_mall_half_of_apply(sim: Sim) -> None:
    # the audit's --verify folds MALL's side alone with it: at every sync event of the log it must give
    # exactly what `apply` gives, the same object when the event changes nothing
    state: OrderState | None = None
    checked = 0
    for event in sim.log:
        if state is not None and isinstance(event, SyncEventBase):
            after = mall_side_after(event, state.mall, state.fc)
            assert after == apply(state, event).mall, type(event).__name__
            assert (after is state.mall) == (apply(state, event).mall is state.mall), type(event).__name__
            checked += 1
        state = apply(state, event)
    assert checked == sum(isinstance(event, SyncEventBase) for event in sim.log)  # balance ones included


def test_the_simulation_reaches_every_kind_of_outcome() -> None:
    """Guard against a generator that never exercises the interesting paths."""
    seen: set[str] = set()

    @settings(max_examples=400, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(sim=scenarios())
    def collect(sim: Sim) -> None:
        seen.update(sim.kinds)

    collect()
    assert seen >= {
        "two_steps",
        "steps_and_deferral",
        "deferral_until",
        "read_outcome_unknown",
        "read_refusal",
        "read_resync",
        "confirm_only",
        "blocked_deferral",
        "cancelled_at_mall",
        "mall_rejected",
        "mall_final",
        "return_step",
        "acknowledged",
        "refused_by_truth",
        "mdp_steps",
        "settled_after_mall_final",
    }
