"""The pure outcome functions: each MALL outcome → the sync events, the gate change and what the order does next."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

import pytest

from mallbridge_core.domain.projection import (
    Deferral,
    FastCentrikSide,
    MallSide,
    OrderState,
    Rejection,
    RequestInDoubt,
    apply,
)
from mallbridge_core.domain.reconciler import Attention, PendingRead, Plan, PutStep
from mallbridge_publisher.effects import Effects, GateAction, GateChange, Next, PutAttempt, Stamp
from mallbridge_publisher.outcomes import after_put, after_read, plan_notes, request_of, still_as_planned
from mallbridge_publisher.ports import (
    MallAnswer,
    MallAnswerInvalid,
    MallError,
    MallOrder,
    MallOutcomeUnknown,
    MallRateLimited,
    MallRejected,
    MallUnauthorized,
)
from mallbridge_publisher.tenant_effects import after_listing
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    OrderResyncRequested,
    OrderStatusChanged,
    StepDeferred,
)
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
SHIPPING = PutStep(MallStatus.SHIPPING, {"status": "shipping", "confirmed": True})
SETTLING = PendingRead("outcome_unknown", 4)  # the read that settles request 4, in doubt
ENVELOPE = {  # the common fields of an event about the test's order, A-1
    "event_id": UUID(int=99),
    "tenant_id": "acme",
    "order_number": "A-1",
    "mall_order_id": "10085339301",
    "occurred_at": T0,
    "recorded_at": T0,
}
PROBE_S = 45.0  # how often a paused tenant is probed again (the publisher's pause_probe_s)


def stamp() -> Stamp:
    ids = itertools.count(1)
    return Stamp(now=T0, new_id=lambda: UUID(int=next(ids)))


def state(*, seq: int = 3, mall: MallSide | None = None) -> OrderState:
    fc = FastCentrikSide(seq=seq, status=FastCentrikStatus.IN_PROCESS, status_label="vyřizuje se")
    return OrderState("acme", "A-1", "10085339301", fc, mall or MallSide(last_request_no=4))


def put(attempts: int = 1) -> PutAttempt:
    return PutAttempt(state(), SHIPPING, request_no=5, attempts=attempts)


def kinds(effects: Effects) -> list[str]:
    return [type(e).__name__ for e in effects.events]


def test_the_request_is_the_next_request_number_with_the_step_body() -> None:
    requested = request_of(state(), SHIPPING, stamp())
    assert (requested.request_no, requested.status, requested.request) == (5, MallStatus.SHIPPING, SHIPPING.body)
    assert (requested.based_on_seq, requested.recorded_at) == (3, T0)


def test_a_held_request_is_still_as_planned_until_the_order_changes() -> None:
    planned = state()
    requested = apply(planned, request_of(planned, SHIPPING, stamp()))
    assert requested.request_in_doubt
    assert still_as_planned(planned, requested)  # its own request is no change
    cancelled = OrderStatusChanged(
        **ENVELOPE,
        seq=4,
        from_status=FastCentrikStatus.IN_PROCESS,
        to_status=FastCentrikStatus.CANCELLED,
        status_label="stornovaná",
    )
    assert not still_as_planned(planned, apply(requested, cancelled))  # FastCentrik cancelled meanwhile
    observed = after_read(
        requested,
        PendingRead("webhook", 0),
        MallOrder("10085339301", MallStatus.CANCELLED, confirmed=False),
        tenant_paused=False,
        pause_probe_s=PROBE_S,
        stamp=stamp(),
    ).events[0]
    assert isinstance(observed, MallStateObserved)
    assert not still_as_planned(planned, apply(requested, observed))  # MALL's side moved meanwhile
    assert not still_as_planned(planned, None)  # the order went to another member


def test_an_accepted_put_records_the_update_and_starts_the_backoff_over() -> None:
    effects = after_put(
        put(attempts=2),
        MallAnswer(200, {}, latency_ms=12.34567),
        tenant_paused=False,
        pause_probe_s=PROBE_S,
        stamp=stamp(),
    )
    assert (effects.next, effects.gate, effects.accepted, effects.retry_reason) == (Next.REPLAN, None, True, None)
    [updated] = effects.events
    assert isinstance(updated, MallStatusUpdated)
    assert (updated.request_no, updated.status, updated.request) == (5, MallStatus.SHIPPING, SHIPPING.body)
    assert (updated.http_status, updated.latency_ms, updated.attempts, updated.based_on_seq) == (200, 12.346, 2, 3)


def test_an_answer_while_the_tenant_is_paused_resumes_it_before_recording_the_update() -> None:
    effects = after_put(
        put(), MallAnswer(200, {}, latency_ms=1.0), tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp()
    )
    assert kinds(effects) == ["AttentionResolved", "MallStatusUpdated"]
    resolved = effects.events[0]
    assert isinstance(resolved, AttentionResolved)
    assert (resolved.scope, resolved.code, resolved.order_number, resolved.tenant_id) == (
        "tenant",
        "mall_unauthorized",
        "",
        "acme",
    )
    assert effects.gate is not None
    assert effects.gate.action is GateAction.RESUME


# (outcome, tenant already paused) → (events, gate action, next, retry reason)
PUT_FAILURES: list[tuple[MallError, bool, list[str], GateAction | None, Next, str | None]] = [
    (MallRateLimited("429", retry_after_s=2.5), False, [], GateAction.RATE_LIMIT, Next.RETRY, "rate_limited"),
    (MallUnauthorized("401", http_status=401), False, ["AttentionNeeded"], GateAction.PAUSE, Next.RETRY, None),
    (MallUnauthorized("401", http_status=401), True, [], GateAction.PAUSE, Next.RETRY, None),
    (MallRejected("400", http_status=400), False, ["MallUpdateRejected"], None, Next.REPLAN, None),
    (MallOutcomeUnknown("timeout"), False, [], None, Next.BACKOFF, "outcome_unknown"),
    (MallOutcomeUnknown("500", http_status=500), True, [], None, Next.BACKOFF, "outcome_unknown"),
]


@pytest.mark.parametrize(("outcome", "paused", "events", "gate", "then", "reason"), PUT_FAILURES)
def test_a_failed_put(
    outcome: MallError, paused: bool, events: list[str], gate: GateAction | None, then: Next, reason: str | None
) -> None:
    effects = after_put(put(), outcome, tenant_paused=paused, pause_probe_s=PROBE_S, stamp=stamp())
    assert kinds(effects) == events
    assert (effects.gate.action if effects.gate else None, effects.next, effects.retry_reason) == (gate, then, reason)
    assert not effects.accepted


def test_a_429_carries_mall_s_wait_to_the_gate() -> None:
    effects = after_put(
        put(), MallRateLimited("429", retry_after_s=2.5), tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )
    assert effects.gate is not None
    assert effects.gate.retry_after_s == 2.5


def test_the_first_401_raises_one_tenant_attention_item_with_a_reason_to_act_on() -> None:
    effects = after_put(
        put(), MallUnauthorized("x", http_status=403), tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )
    [attention] = effects.events
    assert isinstance(attention, AttentionNeeded)
    assert (attention.scope, attention.code, attention.order_number) == ("tenant", "mall_unauthorized", "")
    assert "HTTP 403" in attention.reason
    assert "mall_client_id" in attention.reason
    assert "retried every 45 s" in attention.reason  # the interval the gate really probes at


def test_a_refused_put_is_recorded_with_what_mall_said() -> None:
    body = {"result": {"code": 400, "status": "ERROR", "message": "bad transition"}}
    effects = after_put(
        put(),
        MallRejected("PUT: HTTP 400: bad", http_status=400, body=body),
        tenant_paused=False,
        pause_probe_s=PROBE_S,
        stamp=stamp(),
    )
    [refusal] = effects.events
    assert isinstance(refusal, MallUpdateRejected)
    assert (refusal.request_no, refusal.status, refusal.request, refusal.based_on_seq) == (
        5,
        "shipping",
        SHIPPING.body,
        3,
    )
    assert (refusal.http_status, refusal.response, refusal.message) == (400, body, "PUT: HTTP 400: bad")


def test_a_read_records_what_mall_says_and_settles_the_request_in_doubt() -> None:
    order = MallOrder("10085339301", MallStatus.SHIPPED, confirmed=True, tracking_number="T-1", tracking_url="u")
    effects = after_read(state(), SETTLING, order, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp())
    [observed] = effects.events
    assert isinstance(observed, MallStateObserved)
    assert (observed.status, observed.confirmed, observed.request_no) == (MallStatus.SHIPPED, True, 4)
    assert (observed.tracking_number, observed.tracking_url, observed.delivered_at) == ("T-1", "u", None)
    assert (observed.source, observed.changed) == ("outcome_unknown", ("status", "confirmed", "tracking"))
    assert effects.next is Next.REPLAN


def test_a_read_answers_the_read_the_plan_asked_for_and_names_only_what_changed() -> None:
    known = MallSide(status=MallStatus.SHIPPED, confirmed=True, tracking_number="T-1", tracking_url="u")
    order = MallOrder(
        "10085339301", MallStatus.SHIPPED, confirmed=None, mdp=True, tracking_number="T-1", tracking_url="u"
    )
    effects = after_read(
        state(mall=known), PendingRead("resync", 0), order, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )
    [observed] = effects.events
    assert isinstance(observed, MallStateObserved)
    assert (observed.source, observed.request_no, observed.changed) == ("resync", 0, ())  # recorded all the same
    assert (observed.confirmed, observed.mdp) == (None, True)  # MALL did not say confirmed: none made up


def refused_read(of: OrderState, read: PendingRead) -> Effects:
    """What a read MALL answers 404 (it does not know the order) causes."""
    return after_read(
        of, read, MallRejected("404", http_status=404), tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )


def resync_requested() -> OrderResyncRequested:
    return OrderResyncRequested(
        **ENVELOPE,
        by="jana",
    )


def test_a_resync_read_mall_refuses_for_good_is_recorded_and_answers_the_resync() -> None:
    """A 404 to a resync's read (MALL does not know the order) was retried at every backoff for ever, each
    GET against the tenant's daily quota: it is recorded, and the fold takes it as the resync's answer."""
    settled = state(mall=MallSide(last_request_no=4, settled_request_no=4))
    asked = apply(settled, resync_requested())
    assert asked.resync_pending
    read = PendingRead("resync", 0)
    effects = refused_read(asked, read)
    [refused] = effects.events
    assert isinstance(refused, MallReadRefused)
    assert (refused.source, refused.request_no, refused.http_status) == ("resync", 0, 404)
    assert (effects.next, effects.retry_reason, effects.read_again) == (Next.REPLAN, None, False)
    after = apply(asked, refused)
    assert not after.resync_pending
    assert after.mall._replace(reads_answered=frozenset()) == asked.mall  # nothing else about MALL changes


def test_a_refusals_read_mall_refuses_for_good_marks_the_refusal_read_and_it_stands() -> None:
    refusal = Rejection(MallStatus.SHIPPED, 2, 400, "bad", request_no=4, body={"status": "shipped"})
    refused_put = state(mall=MallSide(last_request_no=4, settled_request_no=4, rejection=refusal))
    read = PendingRead("refusal", 4)
    effects = refused_read(refused_put, read)
    [refused] = effects.events
    assert isinstance(refused, MallReadRefused)
    assert (refused.source, refused.request_no) == ("refusal", 4)
    rejection = apply(refused_put, refused).mall.rejection
    assert rejection is not None
    assert (rejection.read, rejection.request_no) == (True, 4)


def test_a_404_on_the_read_records_the_request_in_doubt_as_refused() -> None:
    doubt = RequestInDoubt(MallStatus.SHIPPED, {"status": "shipped", "tracking_number": "T"}, based_on_seq=2)
    in_doubt = state(mall=MallSide(last_request_no=4, settled_request_no=3, in_doubt=doubt))
    effects = refused_read(in_doubt, SETTLING)
    [refusal] = effects.events
    assert isinstance(refusal, MallUpdateRejected)
    assert (refusal.request_no, refusal.status, refusal.request) == (4, MallStatus.SHIPPED, doubt.body)
    assert (refusal.based_on_seq, refusal.http_status) == (2, 404)


READ_FAILURES: list[tuple[MallError, GateAction | None, Next, str]] = [
    (MallRateLimited("429", retry_after_s=1.0), GateAction.RATE_LIMIT, Next.REPLAN, "rate_limited"),
    (MallOutcomeUnknown("timeout"), None, Next.BACKOFF, "read_failed"),
    (MallAnswerInvalid("no status", field="status"), None, Next.BACKOFF, "invalid_answer"),
]


@pytest.mark.parametrize(("outcome", "gate", "then", "reason"), READ_FAILURES)
def test_a_failed_read_records_nothing_and_reads_again_later(
    outcome: MallError, gate: GateAction | None, then: Next, reason: str
) -> None:
    effects = after_read(state(), SETTLING, outcome, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp())
    assert effects.events == ()  # never a made-up MALL status
    assert (effects.gate.action if effects.gate else None, effects.next, effects.retry_reason) == (gate, then, reason)


def test_a_401_on_a_read_pauses_the_tenant() -> None:
    effects = after_read(
        state(),
        SETTLING,
        MallUnauthorized("401", http_status=401),
        tenant_paused=False,
        pause_probe_s=PROBE_S,
        stamp=stamp(),
    )
    assert kinds(effects) == ["AttentionNeeded"]
    assert effects.gate is not None
    assert effects.gate.action is GateAction.PAUSE


WAIT = Deferral(MallStatus.SHIPPED, "waiting for the tracking number")
STUCK = Attention("backwards", "MALL statuses cannot go back")
STUCK_ACKED = Attention(STUCK.code, STUCK.reason, acknowledged=True)


@pytest.mark.parametrize(
    ("mall", "current", "expected"),
    [
        (MallSide(), Plan(deferral=WAIT), ["StepDeferred"]),
        (MallSide(deferral=WAIT), Plan(deferral=WAIT), []),  # already recorded
        (MallSide(), Plan(attention=STUCK), ["AttentionNeeded"]),
        (MallSide(attention_code="backwards", attention_reason=STUCK.reason), Plan(attention=STUCK), []),
        # the same code for another reason (FastCentrik moved on): an open item is not raised twice, an
        # acknowledged one is raised again (the person acknowledged the old situation, not this one)
        (MallSide(attention_code="backwards", attention_reason="older"), Plan(attention=STUCK), []),
        (
            MallSide(attention_code="backwards", attention_reason="older"),
            Plan(attention=STUCK_ACKED),
            ["AttentionNeeded"],
        ),
        (MallSide(attention_code="backwards", attention_reason=STUCK.reason), Plan(attention=STUCK_ACKED), []),
        (MallSide(attention_code="mall_final"), Plan(attention=STUCK), ["AttentionNeeded"]),
        (MallSide(attention_code="backwards"), Plan(), ["AttentionResolved"]),
        (MallSide(attention_code="backwards"), Plan(deferral=WAIT), ["StepDeferred", "AttentionResolved"]),
        (MallSide(), Plan(), []),
    ],
)
def test_plan_notes_record_only_what_is_new(mall: MallSide, current: Plan, expected: list[str]) -> None:
    notes = plan_notes(state(mall=mall), current, stamp())
    assert [type(n).__name__ for n in notes] == expected
    assert len({n.event_id for n in notes}) == len(notes)  # each note is an event of its own


def test_a_deferral_note_carries_its_reason_and_moment() -> None:
    until = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
    [note] = plan_notes(state(), Plan(deferral=Deferral(MallStatus.DELIVERED, "future", until)), stamp())
    assert isinstance(note, StepDeferred)
    assert (note.status, note.reason, note.until) == (MallStatus.DELIVERED, "future", until)


@pytest.mark.parametrize("source", ["webhook", "poll"])
def test_a_read_on_a_notice_records_only_what_is_new(source: str) -> None:
    known = MallSide(status=MallStatus.SHIPPED, confirmed=True)
    read = PendingRead(source, 0)  # type: ignore[arg-type]
    same = MallOrder("10085339301", MallStatus.SHIPPED, confirmed=True)
    assert (
        after_read(state(mall=known), read, same, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()).events
        == ()
    )
    cancelled = MallOrder("10085339301", MallStatus.CANCELLED, confirmed=False)
    [observed] = after_read(
        state(mall=known), read, cancelled, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    ).events
    assert isinstance(observed, MallStateObserved)
    assert (observed.source, observed.changed) == (source, ("status", "confirmed"))


@pytest.mark.parametrize(
    ("error", "owed"),
    [
        (MallOutcomeUnknown("timeout"), True),
        (MallRateLimited("429", retry_after_s=1.0), True),
        (MallUnauthorized("401", http_status=401), True),
        (MallAnswerInvalid("no status", field="status"), True),
        (MallRejected("404", http_status=404), False),  # MALL does not know the order: nothing to learn
    ],
)
def test_a_failed_read_on_a_notice_is_still_owed_unless_mall_does_not_know_the_order(
    error: MallError, owed: bool
) -> None:
    effects = after_read(
        state(), PendingRead("webhook", 0), error, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )
    assert effects.read_again is owed
    settling = after_read(state(), SETTLING, error, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp())
    assert settling.read_again is False  # the plan asks for a settling read again by itself


def _resumes(effects: Effects) -> bool:
    resolved = effects.events[0] if effects.events else None
    return (
        effects.gate is not None
        and effects.gate.action is GateAction.RESUME
        and isinstance(resolved, AttentionResolved)
        and (resolved.scope, resolved.code) == ("tenant", "mall_unauthorized")
    )


def test_a_refused_put_while_the_tenant_is_paused_resumes_it_mall_took_the_client_id() -> None:
    effects = after_put(
        put(), MallRejected("400", http_status=400), tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp()
    )
    assert kinds(effects) == ["AttentionResolved", "MallUpdateRejected"]  # was: paused until a 2xx came
    assert _resumes(effects)
    assert effects.next is Next.REPLAN


@pytest.mark.parametrize(
    ("read", "recorded"),
    [
        (PendingRead("webhook", 0), []),  # a notice's read: nothing to record of a 404
        (SETTLING, ["MallUpdateRejected"]),  # the request in doubt recorded refused
        (PendingRead("resync", 0), ["MallReadRefused"]),
    ],
)
def test_a_refused_read_while_the_tenant_is_paused_resumes_it(read: PendingRead, recorded: list[str]) -> None:
    doubt = RequestInDoubt(MallStatus.SHIPPED, {"status": "shipped"}, based_on_seq=2)
    current = state(mall=MallSide(last_request_no=4, settled_request_no=3, in_doubt=doubt))
    paused = after_read(
        current, read, MallRejected("404", http_status=404), tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp()
    )
    running = after_read(
        current, read, MallRejected("404", http_status=404), tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )
    assert kinds(paused) == ["AttentionResolved", *recorded]
    assert _resumes(paused)
    assert kinds(running) == recorded
    assert running.gate is None
    assert (paused.next, paused.read_again) == (running.next, running.read_again)


@pytest.mark.parametrize(
    "outcome",
    [MallRateLimited("429", retry_after_s=1.0), MallOutcomeUnknown("500", http_status=500), MallOutcomeUnknown("t")],
)
def test_a_429_or_a_failure_while_paused_says_nothing_of_the_client_id(outcome: MallError) -> None:
    effects = after_put(put(), outcome, tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp())
    assert "AttentionResolved" not in kinds(effects)
    assert effects.gate is None or effects.gate.action is not GateAction.RESUME


@pytest.mark.parametrize("outcome", [None, MallRejected("400", http_status=400)])
def test_a_listing_answered_while_paused_resumes_the_tenant_with_a_tenant_only_event(
    outcome: MallError | None,
) -> None:
    paused = after_listing("acme", outcome, tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp())
    running = after_listing("acme", outcome, tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp())
    assert _resumes(paused)
    resolved = paused.events[0]
    assert (resolved.tenant_id, resolved.order_number, resolved.mall_order_id, resolved.based_on_seq) == (
        "acme",
        "",
        "",
        0,
    )
    assert running == Effects(next=Next.REPLAN)  # nothing of the tenant to say


def test_a_listing_refused_for_the_client_id_pauses_the_tenant_and_raises_its_item_once() -> None:
    first = after_listing(
        "acme", MallUnauthorized("401", http_status=401), tenant_paused=False, pause_probe_s=PROBE_S, stamp=stamp()
    )
    again = after_listing(
        "acme", MallUnauthorized("401", http_status=401), tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp()
    )
    assert kinds(first) == ["AttentionNeeded"]
    item = first.events[0]
    assert isinstance(item, AttentionNeeded)
    assert (item.scope, item.code, item.order_number) == ("tenant", "mall_unauthorized", "")
    assert "HTTP 401" in item.reason
    assert "45 s" in item.reason
    assert kinds(again) == []
    assert first.gate == again.gate == GateChange(GateAction.PAUSE)


@pytest.mark.parametrize(
    ("outcome", "gate"),
    [
        (MallRateLimited("429", retry_after_s=2.5), GateChange(GateAction.RATE_LIMIT, retry_after_s=2.5)),
        (MallOutcomeUnknown("500", http_status=500), None),
        (MallAnswerInvalid("no paging", field="paging"), None),
    ],
)
def test_a_listing_that_fails_otherwise_records_nothing_and_says_nothing_of_the_client_id(
    outcome: MallError, gate: GateChange | None
) -> None:
    effects = after_listing("acme", outcome, tenant_paused=True, pause_probe_s=PROBE_S, stamp=stamp())
    assert effects.events == ()
    assert effects.gate == gate
