"""What each outcome causes: the sync events to record, the tenant-gate change, and what the order does next.

Pure: no I/O, no clock, no metrics. The moment and the event ids come in with a `Stamp`; the shell
(`mall_calls.py`) makes the MALL call, hands the answer or the `MallError` here, and applies the
`Effects` that come back (gate change first, then the events, in order).

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
A page of the unconfirmed queue has these tenant-level effects too, and no others (`after_listing`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from mallbridge_core.domain.mall_side import observation_changes
from mallbridge_core.domain.projection import OrderState, RequestInDoubt
from mallbridge_core.domain.reconciler import PendingRead, Plan, PutStep
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

UNAUTHORIZED = "mall_unauthorized"


class GateAction(Enum):
    PAUSE = "pause"  # 401/403: hold all of the tenant's requests; probe again after a while
    RESUME = "resume"  # MALL answered while the tenant was paused
    RATE_LIMIT = "rate_limit"  # 429: none of the tenant's requests before `retry_after_s`


@dataclass(frozen=True, slots=True)
class GateChange:
    action: GateAction
    retry_after_s: float = 0.0


class Next(Enum):
    RETRY = "retry"  # the same request again, as soon as the tenant gate lets it through
    REPLAN = "replan"  # plan the order again from the state the recorded events leave
    BACKOFF = "backoff"  # wait (the order's backoff grows), then plan again


@dataclass(frozen=True, slots=True)
class Effects:
    events: tuple[SyncEventBase, ...] = ()
    gate: GateChange | None = None
    next: Next = Next.REPLAN
    retry_reason: str | None = None  # counted in mallbridge_publisher_retries{reason}
    accepted: bool = False  # MALL accepted a PUT: the order's backoff starts over
    read_again: bool = False  # a read on a notice (webhook, poll) failed for now: it is still owed
    unanswered: bool = False  # a PUT got no answer in time: MALL may still be working on it


@dataclass(frozen=True, slots=True)
class Stamp:
    """When the events are recorded, and where their ids come from (the shell passes uuid4)."""

    now: datetime
    new_id: Callable[[], UUID]

    def envelope(self, state: OrderState, *, based_on_seq: int | None = None) -> dict[str, Any]:
        """The common fields of a sync event about `state`'s order; `based_on_seq` defaults to the order
        event seq the state is at (give the seq a decision was made on when that was earlier)."""
        seq = state.fc.seq if based_on_seq is None else based_on_seq
        return self._fields(state.tenant_id, state.order_number, state.mall_order_id, seq)

    def tenant_envelope(self, tenant_id: str, *, based_on_seq: int = 0) -> dict[str, Any]:
        """The envelope of a tenant-scope event (no order); `based_on_seq` is the seq of the order it was
        decided while working on, if any."""
        return self._fields(tenant_id, "", "", based_on_seq)

    def _fields(self, tenant_id: str, order_number: str, mall_order_id: str, based_on_seq: int) -> dict[str, Any]:
        return {
            "event_id": self.new_id(),
            "tenant_id": tenant_id,
            "order_number": order_number,
            "mall_order_id": mall_order_id,
            "occurred_at": self.now,
            "recorded_at": self.now,
            "based_on_seq": based_on_seq,
        }


@dataclass(frozen=True, slots=True)
class PutAttempt:
    """One PUT of a step: the state it was planned from, its request number and how often it was sent."""

    state: OrderState
    step: PutStep
    request_no: int
    attempts: int = 1


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
        return _rate_limited(outcome, then=Next.RETRY)
    if isinstance(outcome, MallUnauthorized):
        pause = _Pause(tenant_paused, pause_probe_s)
        return _paused(state, outcome, pause, stamp=stamp, then=Next.RETRY)
    if isinstance(outcome, MallRejected):
        refused = Effects(events=(_refusal(state, put.request_no, put.step, outcome, stamp=stamp),))
        return _resumed(refused, state, tenant_paused=tenant_paused, stamp=stamp)
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
    effects = _after_read(state, read, outcome, _Pause(tenant_paused, pause_probe_s), stamp=stamp)
    if isinstance(outcome, MallRejected):  # refused the request, not the client_id: a paused tenant resumes
        # (without a settled read: MALL does not know the order (404), nothing to learn from this notice)
        return _resumed(effects if read.settles else Effects(), state, tenant_paused=tenant_paused, stamp=stamp)
    if read.settles or isinstance(outcome, MallOrder):
        return effects
    return replace(effects, read_again=True)  # 429, 401, 5xx, a timeout, an invalid answer: read it later


def after_listing(
    tenant_id: str, outcome: MallError | None, *, tenant_paused: bool, pause_probe_s: float, stamp: Stamp
) -> Effects:
    """What MALL's answer to a request about no order (a page of the unconfirmed queue: `outcome` None) or
    its failure causes for the tenant: the same as for an order's request. An answer or a refusal of the
    request itself resumes a paused tenant (its item resolved), a 401/403 pauses it (the item raised
    once), a 429 makes it wait; the rest says nothing of the tenant. So a tenant with no order to work on
    learns of a refused client_id, and of its fix, from the poll alone."""
    if outcome is None or isinstance(outcome, MallRejected):
        return _tenant_resumed(Effects(), tenant_id, 0, tenant_paused=tenant_paused, stamp=stamp)
    if isinstance(outcome, MallUnauthorized):
        return _tenant_paused(
            tenant_id, 0, outcome, _Pause(tenant_paused, pause_probe_s), stamp=stamp, then=Next.BACKOFF
        )
    if isinstance(outcome, MallRateLimited):
        return _rate_limited(outcome, then=Next.BACKOFF)
    return Effects(next=Next.BACKOFF)


def _after_read(
    state: OrderState, read: PendingRead, outcome: MallOrder | MallError, pause: _Pause, *, stamp: Stamp
) -> Effects:
    if isinstance(outcome, MallOrder):
        observed = _observation(state, read, outcome, stamp)
        # a read on MALL's notice (webhook, poll) that finds nothing new records nothing
        recorded = (observed,) if read.settles or observed.changed else ()
        return _answered(state, recorded, tenant_paused=pause.paused, stamp=stamp)
    if isinstance(outcome, MallRateLimited):
        return _rate_limited(outcome, then=Next.REPLAN)
    if isinstance(outcome, MallUnauthorized):
        return _paused(state, outcome, pause, stamp=stamp, then=Next.REPLAN)
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
    return _resumed(Effects(events=events, accepted=accepted), state, tenant_paused=tenant_paused, stamp=stamp)


def _resumed(effects: Effects, state: OrderState, *, tenant_paused: bool, stamp: Stamp) -> Effects:
    """MALL answered (with the order, or a refusal of the request itself): the client_id works, so a paused
    tenant resumes and its attention item is resolved, first."""
    return _tenant_resumed(effects, state.tenant_id, state.fc.seq, tenant_paused=tenant_paused, stamp=stamp)


def _tenant_resumed(
    effects: Effects, tenant_id: str, based_on_seq: int, *, tenant_paused: bool, stamp: Stamp
) -> Effects:
    if not tenant_paused:
        return effects
    envelope = stamp.tenant_envelope(tenant_id, based_on_seq=based_on_seq)
    resolved = AttentionResolved(**envelope, code=UNAUTHORIZED, scope="tenant")
    return replace(effects, events=(resolved, *effects.events), gate=GateChange(GateAction.RESUME))


def _rate_limited(outcome: MallRateLimited, *, then: Next) -> Effects:
    gate = GateChange(GateAction.RATE_LIMIT, retry_after_s=outcome.retry_after_s)
    return Effects(gate=gate, next=then, retry_reason="rate_limited")


@dataclass(frozen=True, slots=True)
class _Pause:
    """Whether the tenant is paused already, and how often a paused tenant is probed again."""

    paused: bool
    probe_s: float


def _paused(state: OrderState, outcome: MallError, pause: _Pause, *, stamp: Stamp, then: Next) -> Effects:
    """401/403: pause the tenant; the first order to see it raises the tenant's attention item."""
    return _tenant_paused(state.tenant_id, state.fc.seq, outcome, pause, stamp=stamp, then=then)


def _tenant_paused(
    tenant_id: str, based_on_seq: int, outcome: MallError, pause: _Pause, *, stamp: Stamp, then: Next
) -> Effects:
    if pause.paused:
        return Effects(gate=GateChange(GateAction.PAUSE), next=then)
    reason = (
        f"MALL refused the tenant's client_id (HTTP {outcome.http_status}). All of this tenant's updates are "
        f"paused and retried every {pause.probe_s:g} s; check mall_client_id in the tenants file and the "
        "Partner account."
    )
    envelope = stamp.tenant_envelope(tenant_id, based_on_seq=based_on_seq)
    attention = AttentionNeeded(**envelope, code=UNAUTHORIZED, reason=reason, scope="tenant")
    return Effects(events=(attention,), gate=GateChange(GateAction.PAUSE), next=then)


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
