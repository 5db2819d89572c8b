"""What each outcome of an order's MALL request causes: the sync events to record, the tenant-gate change,
and what the order does next.

Pure: no I/O, no clock, no metrics. The moment and the event ids come in with a `Stamp`; the shell
(`mall_calls.py`) makes the MALL call, hands the answer or the `MallError` here, and applies the
`Effects` that come back (`effects.py`: gate change first, then the events, in order). What a request
tells of the tenant as a whole (pause, resume, rate limit) is `tenant_effects.py`'s.

| outcome              | of a PUT                                  | of a read (GET)                         |
|----------------------|-------------------------------------------|-----------------------------------------|
| answer               | MallStatusUpdated; backoff starts over    | MallStateObserved (source, changed);    |
|                      |                                           | on a notice (webhook, poll) only when   |
|                      |                                           | something changed                       |
| MallRejected         | MallUpdateRejected                        | the request in doubt recorded refused;  |
|                      |                                           | for a resync or a refusal's read:       |
|                      |                                           | MallReadRefused (answers that read)     |
| MallRateLimited      | gate waits retry_after; same PUT again *  | gate waits retry_after; read again      |
| MallUnauthorized     | tenant paused (attention once); PUT again*| tenant paused (attention once)          |
| MallOutcomeUnknown   | backoff; the request stays in doubt       | backoff, then read again                |
| MallAnswerInvalid    | (PUT answers are not parsed)              | backoff, then read again; nothing made up |
* only while the order is as planned (`still_as_planned`); else the pass plans anew.
A read on a notice that fails is still owed (`read_again`), except a 404: MALL does not know the order.
An answer while the tenant is paused also resumes it (AttentionResolved, scope tenant): any answer but
401/403, 429 and 5xx, since a refusal of the request itself (400, 404) says MALL took the client_id.
A page of the unconfirmed queue has these tenant-level effects too, and no others
(`tenant_effects.after_listing`).
"""

from __future__ import annotations

from dataclasses import replace

from mallbridge_core.domain.mall_side import observation_changes
from mallbridge_core.domain.projection import OrderState, RequestInDoubt
from mallbridge_core.domain.reconciler import PendingRead, Plan, PutStep
from mallbridge_publisher.effects import Effects, Next, PutAttempt, Stamp
from mallbridge_publisher.ports import (
    MallAnswer,
    MallAnswerInvalid,
    MallError,
    MallNoAnswer,
    MallOrder,
    MallRateLimited,
    MallRejected,
    MallUnauthorized,
)
from mallbridge_publisher.tenant_effects import Pause, pause_tenant_of, rate_limited, with_resume
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    StepDeferred,
    SyncEventBase,
)
from mallbridge_schema.statuses import MallStatus


def request_of(state: OrderState, step: PutStep, stamp: Stamp) -> MallUpdateRequested:
    """Recorded before the PUT goes out, so a crash before its outcome leaves the request in doubt."""
    request_no = state.mall.last_request_no + 1
    return MallUpdateRequested(**stamp.envelope(state), request_no=request_no, status=step.status, request=step.body)


def still_as_planned(planned: OrderState, now: OrderState | None) -> bool:
    """Whether the order is now as it was when a PUT of it was planned, but for that PUT's own request
    (recorded as requested since): FastCentrik's side, MALL's side and what people asked for, all the
    same. A request held by a 429 or a paused tenant is only sent again while this holds."""
    if now is None:
        return False
    mall = now.mall._replace(last_request_no=planned.mall.last_request_no, in_doubt=planned.mall.in_doubt)
    return now.fc == planned.fc and now.ops == planned.ops and mall == planned.mall


def after_put(
    put: PutAttempt, outcome: MallAnswer | MallError, *, tenant_paused: bool, pause_probe_s: float, stamp: Stamp
) -> Effects:
    """What MALL's answer (or failure) to `put` causes. `pause_probe_s` is how often a paused tenant is
    probed again (the setting the tenant gate runs on; an attention item tells the operator)."""
    state = put.state
    if isinstance(outcome, MallAnswer):
        updated = MallStatusUpdated(
            **stamp.envelope(state),
            request_no=put.request_no,
            status=put.step.status,
            request=put.step.body,
            http_status=outcome.http_status,
            latency_ms=round(outcome.latency_ms, 3),
            attempts=put.attempts,
        )
        return _answered(state, (updated,), tenant_paused=tenant_paused, stamp=stamp, accepted=True)
    if isinstance(outcome, MallRateLimited):
        return rate_limited(outcome, then=Next.RETRY)
    if isinstance(outcome, MallUnauthorized):
        pause = Pause(tenant_paused, pause_probe_s)
        return pause_tenant_of(state, outcome, pause, stamp=stamp, then=Next.RETRY)
    if isinstance(outcome, MallRejected):
        refused = Effects(events=(_refusal(state, put.request_no, put.step, outcome, stamp=stamp),))
        return with_resume(refused, state, tenant_paused=tenant_paused, stamp=stamp)
    # MallOutcomeUnknown (and anything else): the PUT may have landed. Its request stays in doubt, so the
    # next plan reads the order first.
    return Effects(next=Next.BACKOFF, retry_reason="outcome_unknown", unanswered=isinstance(outcome, MallNoAnswer))


def after_read(
    state: OrderState,
    read: PendingRead,
    outcome: MallOrder | MallError,
    *,
    tenant_paused: bool,
    pause_probe_s: float,
    stamp: Stamp,
) -> Effects:
    """What MALL's answer (or failure) to the read `read` of `state`'s order causes (`pause_probe_s` as
    in `after_put`)."""
    effects = _after_read(state, read, outcome, Pause(tenant_paused, pause_probe_s), stamp=stamp)
    if isinstance(outcome, MallRejected):  # refused the request, not the client_id: a paused tenant resumes
        # (without a settled read: MALL does not know the order (404), nothing to learn from this notice)
        return with_resume(effects if read.settles else Effects(), state, tenant_paused=tenant_paused, stamp=stamp)
    if read.settles or isinstance(outcome, MallOrder):
        return effects
    return replace(effects, read_again=True)  # 429, 401, 5xx, a timeout, an invalid answer: read it later


def _after_read(
    state: OrderState, read: PendingRead, outcome: MallOrder | MallError, pause: Pause, *, stamp: Stamp
) -> Effects:
    if isinstance(outcome, MallOrder):
        observed = _observation(state, read, outcome, stamp)
        # a read on MALL's notice (webhook, poll) that finds nothing new records nothing
        recorded = (observed,) if read.settles or observed.changed else ()
        return _answered(state, recorded, tenant_paused=pause.paused, stamp=stamp)
    if isinstance(outcome, MallRateLimited):
        return rate_limited(outcome, then=Next.REPLAN)
    if isinstance(outcome, MallUnauthorized):
        return pause_tenant_of(state, outcome, pause, stamp=stamp, then=Next.REPLAN)
    if isinstance(outcome, MallRejected) and read.source == "outcome_unknown":
        # MALL does not know the order (404): the PUT in doubt cannot have landed either, so it is recorded
        # as refused, with what it asked for and the order-event seq it was decided on.
        doubt = state.mall.in_doubt
        if doubt is None:  # never after a fold from the log: every PUT is recorded as requested first
            doubt = RequestInDoubt(MallStatus.OPEN, {}, state.fc.seq)
        step = PutStep(doubt.status, doubt.body)
        refusal = _refusal(state, read.request_no, step, outcome, stamp=stamp, based_on=doubt.based_on_seq)
        return Effects(events=(refusal,))
    if isinstance(outcome, MallRejected) and read.source in ("resync", "refusal"):
        # Refused for good (404: MALL does not know the order): recorded, it answers the read, which would
        # otherwise be asked for at every backoff for ever, each GET against the tenant's daily quota.
        refused = MallReadRefused(
            **stamp.envelope(state),
            request_no=read.request_no,
            source=read.source,
            http_status=outcome.http_status,
            message=str(outcome),
        )
        return Effects(events=(refused,))
    if isinstance(outcome, MallAnswerInvalid):
        return Effects(next=Next.BACKOFF, retry_reason="invalid_answer")
    # 5xx, timeouts; and a refusal of a read that settles nothing (a notice's: nothing to record it as)
    return Effects(next=Next.BACKOFF, retry_reason="read_failed")


def _observation(state: OrderState, read: PendingRead, order: MallOrder, stamp: Stamp) -> MallStateObserved:
    """What MALL said, recorded even when it says nothing new: that is what settles the read."""
    changed = observation_changes(
        state.mall,
        status=order.status,
        confirmed=order.confirmed,
        tracking_number=order.tracking_number,
        tracking_url=order.tracking_url,
        delivered_at=order.delivered_at,
    )
    return MallStateObserved(
        **stamp.envelope(state),
        request_no=read.request_no,
        source=read.source,
        changed=changed,
        status=order.status,
        confirmed=order.confirmed,
        tracking_number=order.tracking_number,
        tracking_url=order.tracking_url,
        delivered_at=order.delivered_at,
        mdp=order.mdp,
    )


def plan_notes(state: OrderState, current: Plan, stamp: Stamp) -> tuple[SyncEventBase, ...]:
    """The deferral or attention item of a plan that sends nothing, when it is new; the resolution of
    attention that no longer applies. An acknowledged attention item whose reason changed (the same code,
    but the order moved on, e.g. FastCentrik shipped an order MALL cancelled after a person acknowledged
    the "do not ship it") is raised again, so the acknowledgement of the old situation does not hide the
    new one; an open item is not raised twice for the same code."""
    deferral, attention = current.deferral, current.attention
    notes: list[SyncEventBase] = []
    if deferral is not None and deferral != state.mall.deferral:
        notes.append(
            StepDeferred(**stamp.envelope(state), status=deferral.status, reason=deferral.reason, until=deferral.until)
        )
    mall = state.mall
    if attention is not None and (
        attention.code != mall.attention_code or (attention.acknowledged and attention.reason != mall.attention_reason)
    ):
        notes.append(AttentionNeeded(**stamp.envelope(state), code=attention.code, reason=attention.reason))
    elif attention is None and mall.attention_code is not None:
        notes.append(AttentionResolved(**stamp.envelope(state), code=mall.attention_code))
    return tuple(notes)


def _answered(
    state: OrderState,
    events: tuple[SyncEventBase, ...],
    *,
    tenant_paused: bool,
    stamp: Stamp,
    accepted: bool = False,
) -> Effects:
    return with_resume(Effects(events=events, accepted=accepted), state, tenant_paused=tenant_paused, stamp=stamp)


def _refusal(
    state: OrderState,
    request_no: int,
    step: PutStep,
    outcome: MallError,
    *,
    stamp: Stamp,
    based_on: int | None = None,
) -> MallUpdateRejected:
    return MallUpdateRejected(
        **stamp.envelope(state, based_on_seq=based_on),
        request_no=request_no,
        status=step.status,
        request=step.body,
        http_status=outcome.http_status,
        response=outcome.body,
        message=str(outcome),
    )
