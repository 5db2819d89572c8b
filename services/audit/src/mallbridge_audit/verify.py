"""`--verify`: replay the pure reconciler over the log and compare it with what the publisher did.

Pure. Feed every order event first (`add_order_event`), then the operator events (`add_operator_event`),
then the sync events in their log order (`add_sync_event`), then `finish(as_of=…, grace_s=…)`.

What is checked, per order (the README repeats this):

1. **Each PUT was the one the reconciler plans.** At every recorded `MallUpdateRequested` the state is
   rebuilt the way the publisher saw it: FastCentrik's side as of order event `based_on_seq` (when that
   is 0: the last order event recorded before it), MALL's side folded from this order's earlier sync
   events, people's actions recorded before it (`verify_ops.py`). `plan(state, now=its recorded_at)` must
   have a first step with exactly that status and JSON body (a confirm-only PUT included). Otherwise:
   `unexpected_put` (the plan had no step: desired status reached, a deferral, an attention item, or a
   read of MALL still owed) or `different_put`.
2. **Each outcome answers a recorded request.** A `MallStatusUpdated` / `MallUpdateRejected` must follow a
   `MallUpdateRequested` with its `request_no` and carry the same status and body
   (`outcome_differs_from_request`). One with no recorded request is `request_not_recorded` (the
   contract is to record the request before the PUT goes out); its PUT is then checked as in 1.
3. **Sync events refer to real facts.** A `based_on_seq` above the order's last order event is
   `unknown_order_event`; sync events for an order with no order event at all are `orphan_sync_events`.
4. **Nothing due was left undone.** After the whole history, `plan(state, now=as_of)` must have no step
   and owe no read: the desired status was reached, or a deferral or attention item explains why not. A due
   step is `missing_put`; a read still owed is `request_without_outcome` (a PUT whose outcome was never
   recorded nor settled by a read), `refusal_not_read` (no read after a refusal) or `resync_not_read` (a
   resync a person or a balance drift asked for, not answered). Each is only a warning while younger than
   `grace_s` (the publisher may still be working on it when the audit takes its end offsets).

Warnings (exit code stays 0): the above within grace, and an attention item the plan raises but the log
never recorded. Redelivered events (same event_id) are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from operator import attrgetter
from typing import Any, NamedTuple
from uuid import UUID

from mallbridge_audit.model import Finding, VerifyResult
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify_ops import People
from mallbridge_audit.verify_text import READ_FINDINGS, missing_text, put_text, unread_text, why_nothing
from mallbridge_core.domain.fastcentrik import apply_fact
from mallbridge_core.domain.projection import (
    FastCentrikSide,
    MallSide,
    OperatorSide,
    OrderState,
    mall_side_after,
)
from mallbridge_core.domain.reconciler import PutStep, plan
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    Event,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    OrderEventBase,
)

_NO_MALL = MallSide()  # frozen: one shared start for every order (an order's is replaced, never changed)
_NO_OPS = OperatorSide()
_NO_FC = FastCentrikSide()  # the side of an order whose order event the sync event names is not in the log
_BY_ORDER = attrgetter("tenant_id", "order_number")  # findings by order (a stable sort: log order per order)
_Put = MallUpdateRequested | MallStatusUpdated | MallUpdateRejected


class _Fact(NamedTuple):
    """FastCentrik's side right after one order event (named tuples: one is made per order event and per
    request, and a frozen dataclass's constructor costs several times as much)."""

    seq: int
    event_id: UUID  # ids stay UUIDs until a finding names them (`_ids`): most are never printed
    recorded_at: datetime
    fc: FastCentrikSide


class _Request(NamedTuple):
    request_no: int
    status: str
    body: dict[str, Any]
    event_id: UUID
    recorded_at: datetime


@dataclass(slots=True)
class _Order:
    tenant_id: str
    order_number: str
    mall_order_id: str
    facts: list[_Fact] = field(default_factory=list)
    mall: MallSide = _NO_MALL
    ops: OperatorSide = _NO_OPS
    people: People = field(default_factory=People)
    requests: dict[int, _Request] = field(default_factory=dict)
    seen: set[int] = field(default_factory=set)  # the sync events' ids as ints: UUID's hash is Python code
    last_sync_id: UUID | None = None
    last_sync_at: datetime | None = None
    first_seen: datetime | None = None

    def state(self, fc: FastCentrikSide, ops: OperatorSide | None = None) -> OrderState:
        return OrderState(
            self.tenant_id,
            self.order_number,
            self.mall_order_id,
            fc=fc,
            mall=self.mall,
            ops=self.ops if ops is None else ops,
        )

    def catch_up(self, fc: FastCentrikSide, moment: datetime | None) -> None:
        """Fold the operator events recorded at or before `moment` (None: all of them)."""
        if self.people.waiting:
            self.mall, self.ops = self.people.fold_until(self.state(fc), moment)


class Verifier:
    def __init__(self, scope: Scope | None = None) -> None:
        self.scope = scope or Scope()
        self._orders: dict[tuple[str, str], _Order] = {}
        self._sync_started = False
        self.puts_checked = 0
        self._differences: list[Finding] = []
        self._warnings: list[Finding] = []

    def _order(self, event: Event) -> _Order:
        key = (event.tenant_id, event.order_number)
        order = self._orders.get(key)
        if order is None:
            order = self._orders[key] = _Order(event.tenant_id, event.order_number, event.mall_order_id)
        return order

    # ---- order events: FastCentrik's side after each seq --------------------------------------------

    def add_order_event(self, event: OrderEventBase) -> None:
        """FastCentrik's side folded as `apply` folds it (`apply_fact`: the side alone, no whole state per
        event), kept after each new seq with the MALL id it came with (or the one before, when it has none)."""
        if self._sync_started:
            raise RuntimeError("Verifier needs every order event before the first sync event")
        if not event.order_number or not self.scope.wants(event.tenant_id, event.order_number):
            return  # (no order number: a tenant-level receipt, MallWebhookReceived)
        order = self._order(event)
        facts = order.facts
        before = facts[-1].fc if facts else _NO_FC  # the side only changes with a new seq, kept just then
        fc = apply_fact(before, event)
        if order.first_seen is None or event.occurred_at < order.first_seen:
            order.first_seen = event.occurred_at
        if not facts or fc.seq != before.seq:
            order.mall_order_id = event.mall_order_id or order.mall_order_id
            facts.append(_Fact(fc.seq, event.event_id, event.recorded_at, fc))

    # ---- operator events: kept until their moment ----------------------------------------------------

    def add_operator_event(self, event: Event) -> None:
        if self._sync_started:
            raise RuntimeError("Verifier needs every operator event before the first sync event")
        if event.order_number and self.scope.wants(event.tenant_id, event.order_number):
            self._order(event).people.add(event)

    # ---- sync events: walk the publisher's decisions --------------------------------------------------

    def add_sync_event(self, event: Event) -> None:
        self._sync_started = True
        if not self.scope.wants(event.tenant_id, event.order_number):
            return
        # Exact types, not isinstance: a miss of isinstance on a schema class costs 70 ns, several per event.
        if (type(event) is AttentionNeeded or type(event) is AttentionResolved) and event.scope == "tenant":
            return  # tenant-wide items (a 401, a quota) are about no single order's PUTs
        order = self._order(event)
        event_no = event.event_id.int
        if event_no in order.seen:
            return
        order.seen.add(event_no)
        order.last_sync_at = event.recorded_at
        if not order.facts:
            order.last_sync_id = event.event_id
            return  # reported once at the end as orphan_sync_events
        fact = self._fact_for(order, event)
        order.catch_up(fact.fc if fact else _NO_FC, event.recorded_at)
        if type(event) is MallUpdateRequested:
            if fact is not None:
                self._check_put(order, fact, event)
            order.requests[event.request_no] = _Request(
                event.request_no, event.status.value, event.request, event.event_id, event.recorded_at
            )
        elif type(event) is MallStatusUpdated or type(event) is MallUpdateRejected:
            self._check_outcome(order, fact, event)
        order.mall = mall_side_after(event, order.mall, fact.fc if fact else _NO_FC)
        order.last_sync_id = event.event_id

    def _fact_for(self, order: _Order, event: Event) -> _Fact | None:
        """FastCentrik's side the publisher decided on (None: that order event is not in the log)."""
        based_on: int = getattr(event, "based_on_seq", 0)
        if based_on == 0:
            earlier = [f for f in order.facts if f.recorded_at <= event.recorded_at]
            return earlier[-1] if earlier else order.facts[0]
        facts = order.facts
        if based_on <= facts[-1].seq:
            for fact in reversed(facts):  # a loop, not next(genexpr): this runs for every sync event
                if fact.seq <= based_on:
                    return fact
        known = ", ".join(str(f.seq) for f in facts)
        self._difference(
            order,
            "unknown_order_event",
            f"{type(event).__name__} is based on order event seq {based_on}, which is not in order-events "
            f"(the order has seq {known})",
            event.event_id,
        )
        return None

    def _check_put(self, order: _Order, fact: _Fact, event: _Put) -> None:
        self.puts_checked += 1
        at = event.recorded_at
        planned = plan(order.state(fact.fc), now=at)
        if _plans(planned.steps, event) or any(
            _plans(plan(order.state(fact.fc, ops), now=at).steps, event) for ops in order.people.alternatives(at)
        ):
            return
        recorded = put_text(event.status, event.request)
        ids = (event.event_id, fact.event_id)
        if not planned.steps:
            why = why_nothing(planned, order.state(fact.fc), recorded=event.request)
            self._difference(
                order,
                "unexpected_put",
                f"request #{event.request_no} sent {recorded}, but the reconciler planned no PUT on order event "
                f"seq {fact.seq}: {why}",
                *ids,
            )
            return
        step = planned.steps[0]
        self._difference(
            order,
            "different_put",
            f"request #{event.request_no} sent {recorded}, but the reconciler planned "
            f"{put_text(step.status, step.body)} on order event seq {fact.seq}",
            *ids,
        )

    def _check_outcome(self, order: _Order, fact: _Fact | None, event: MallStatusUpdated | MallUpdateRejected) -> None:
        request = order.requests.get(event.request_no)
        if request is None:
            self._difference(
                order,
                "request_not_recorded",
                f"{type(event).__name__} #{event.request_no} ({event.status}) has no MallUpdateRequested "
                "recorded before it",
                event.event_id,
            )
            if fact is not None:
                self._check_put(order, fact, event)
            return
        if request.status != event.status.value or request.body != event.request:
            self._difference(
                order,
                "outcome_differs_from_request",
                f"{type(event).__name__} #{event.request_no} says {put_text(event.status, event.request)}, "
                f"but the request was {put_text(request.status, request.body)}",
                event.event_id,
                request.event_id,
            )

    # ---- the end: nothing due left unsent -----------------------------------------------------------

    def finish(self, *, as_of: datetime, grace_s: float = 600.0) -> VerifyResult:
        checked = 0
        for order in self._orders.values():
            if order.first_seen is not None and not self.scope.in_window(order.first_seen.timestamp()):
                continue
            checked += 1
            if not order.facts:
                self._difference(
                    order,
                    "orphan_sync_events",
                    "sync events were recorded for an order with no order event in order-events",
                    order.last_sync_id,
                )
                continue
            self._check_end(order, as_of, grace_s)

        return VerifyResult(
            orders_checked=checked,
            puts_checked=self.puts_checked,
            differences=tuple(sorted(self._differences, key=_BY_ORDER)),
            warnings=tuple(sorted(self._warnings, key=_BY_ORDER)),
        )

    def _check_end(self, order: _Order, as_of: datetime, grace_s: float) -> None:
        last = order.facts[-1]
        order.catch_up(last.fc, None)
        state = order.state(last.fc)
        planned = plan(state, now=as_of)
        if planned.read_first and planned.read is not None:
            self._unread(order, state, planned.read.source, as_of, grace_s)
            return
        if planned.steps:
            step = planned.steps[0]
            # due since the latest input that could have made it due (a fact, a read, a person's action)
            inputs = [last.recorded_at, order.last_sync_at, order.people.last_recorded()]
            due_since = max(moment for moment in inputs if moment is not None)
            if planned.deferral is None and state.mall.deferral is not None and state.mall.deferral.until:
                due_since = max(due_since, state.mall.deferral.until)
            returning = step.body.get("status") == "returned" and order.people.returns()
            self._late(
                order,
                "missing_put",
                missing_text(step.status, step.body, seq=last.seq, mall=state.mall.status, returning=returning),
                (as_of - due_since).total_seconds() > grace_s,
                last.event_id,
                *([order.last_sync_id] if order.last_sync_id else []),
            )
            return
        if planned.attention is not None and state.mall.attention_code != planned.attention.code:
            self._warn(
                order,
                "attention_not_recorded",
                f"the reconciler raises [{planned.attention.code}] but the log has no such attention item",
                last.event_id,
            )

    def _unread(self, order: _Order, state: OrderState, source: str, as_of: datetime, grace_s: float) -> None:
        """A read of MALL the reconciler still asks for: a PUT in doubt, a refusal, a resync."""
        no = state.mall.last_request_no if source == "outcome_unknown" else 0
        since = order.people.last_recorded() if source == "resync" else None
        if source == "refusal" and state.mall.rejection is not None:
            no = state.mall.rejection.request_no
        request = order.requests.get(no)
        if since is None:
            since = request.recorded_at if request is not None else order.facts[-1].recorded_at
        self._late(
            order,
            READ_FINDINGS.get(source, "request_without_outcome"),
            unread_text(source, no, (request.status, request.body) if request else None, order.people.asked_by()),
            (as_of - max(since, order.last_sync_at or since)).total_seconds() > grace_s,
            request.event_id if request else order.last_sync_id,
        )

    # ---- findings -----------------------------------------------------------------------------------

    def _difference(self, order: _Order, kind: str, message: str, *ids: object) -> None:
        self._differences.append(Finding(order.tenant_id, order.order_number, kind, message, _ids(ids)))

    def _warn(self, order: _Order, kind: str, message: str, *ids: object) -> None:
        self._warnings.append(Finding(order.tenant_id, order.order_number, kind, message, _ids(ids)))

    def _late(self, order: _Order, kind: str, message: str, overdue: bool, *ids: object) -> None:
        if overdue:
            self._difference(order, kind, message, *ids)
        else:
            self._warn(order, kind, message + " (still within the grace period)", *ids)


def merge_results(results: list[VerifyResult]) -> VerifyResult:
    """One result from those of verifiers that each walked whole orders (disjoint partitions). Findings
    stay sorted by order; an order's own findings come from one verifier, so they keep their log order."""
    return VerifyResult(
        orders_checked=sum(r.orders_checked for r in results),
        puts_checked=sum(r.puts_checked for r in results),
        differences=tuple(sorted((f for r in results for f in r.differences), key=_BY_ORDER)),
        warnings=tuple(sorted((f for r in results for f in r.warnings), key=_BY_ORDER)),
    )


def _ids(ids: tuple[object, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(str(i) for i in ids if i))


def _plans(steps: tuple[PutStep, ...], event: _Put) -> bool:
    """Whether the plan's first step is exactly the recorded PUT (status and JSON body)."""
    return bool(steps) and steps[0].status == event.status and steps[0].body == event.request
