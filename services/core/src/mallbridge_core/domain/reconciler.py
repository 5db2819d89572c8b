"""The reconciler: from an order's state (and "now"), plan the PUTs that bring MALL to the desired status.

Pure: `now` comes in as an argument, nothing is read from a clock. ARCHITECTURE.md §2, §6 and §7 are the
contract. In order:

1. No FastCentrik side yet → no plan at all (nothing is read, confirmed or sent for an order FastCentrik
   has not named).
2. MALL must be read first (`Plan.read`): a PUT whose outcome is unknown; a refusal not yet followed by
   a read (except 401/403/404: the read would be refused too); a resync a person or a balance drift
   asked for.
3. MALL has the order `blocked`: never a PUT. A deferral "waiting for MALL to open the order" that says
   what goes out by itself once an observation shows it open.
4. MALL has a final status: nothing is sent. MALL `cancelled` (set by MALL) while FastCentrik says
   anything else → attention `cancelled_at_mall`. A final status that ends the order normally is
   accepted with no attention: `returned` or `lost` while FastCentrik says settled (no delivery date) or
   cancelled, and a `delivered` MALL set itself while FastCentrik says settled. Anything else that
   contradicts FastCentrik → attention (`mall_final`).
5. An operator return is pending and MALL has the order `shipped` (not MALL Delivery) → one
   `PUT {"status": "returned"}`. A refusal of an earlier return does not hold it back: each refusal of
   `returned` answers one request, so a pending return is a person's new request, made after they saw
   the refusal, and it goes out once.
6. Otherwise the status path of ARCHITECTURE.md §2 (`steps.status_steps`). When that sends no status, MALL
   has the order `shipped` as FastCentrik wants it (not MALL Delivery), and FastCentrik's tracking
   number and URL are complete and differ both from what MALL is known to have and from what we last
   sent → one tracking correction `{"tracking_number", "tracking_url"}` (`PUT /orders/{id}/tracking`,
   MALL's way to correct tracking after shipped), or, when MALL would refuse them, attention
   `tracking_refused` (resolved once FastCentrik's tracking is fixed, or back to what MALL has). Else,
   when MALL is known (observed) to have the order unconfirmed → one confirm-only step
   `{"confirmed": true}`; an accepted PUT makes MALL's side confirmed, so it is never sent twice for the
   same MALL change.
7. After a refusal that has been read: if the plan would send the refused request again (the same body,
   `confirmed` aside unless it is newly added), the refusal stands (attention `mall_rejected`, nothing
   re-sent) until FastCentrik's facts or MALL's side change. A refused `returned` while MALL still has
   the order shipped stands too, until a person asks for the return again (rule 5).

An attention item a person has acknowledged (`mallbridge order ack`) is still reported, with
`acknowledged=True`: it is not counted as open.
"""

from __future__ import annotations

from datetime import datetime

from mallbridge_core.domain.mall_side import MallSide
from mallbridge_core.domain.plans import Attention, PendingRead, Plan, PutStep
from mallbridge_core.domain.projection import OrderState, attention_item
from mallbridge_core.domain.reasons import (
    cancelled_at_mall,
    no_legal_path,
    rejected,
    tracking_refused,
    waiting_for_open,
)
from mallbridge_core.domain.steps import complete_tracking, status_steps, tracking_problem
from mallbridge_schema.mapping import desired_mall_status
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus

__all__ = [
    "Attention",
    "PendingRead",
    "Plan",
    "PutStep",
    "desired_status",
    "effective_mdp",
    "pending_read",
    "plan",
    "return_refusal",
]

_S = MallStatus
_NO_READ_AFTER = frozenset({401, 403, 404})  # the read would be refused for the same reason


def desired_status(state: OrderState) -> MallStatus | None:
    if state.fc.status is None:
        return None
    return desired_mall_status(state.fc.status, has_delivery_date=state.fc.delivered_at is not None)


def effective_mdp(state: OrderState) -> bool:
    """Whether the order ships with MALL Delivery: MALL's word when it gave one, else FastCentrik's."""
    return state.fc.mdp if state.mall.mdp is None else state.mall.mdp


def pending_read(state: OrderState) -> PendingRead | None:
    """The read of MALL the order needs before anything is planned (None: none)."""
    mall = state.mall
    if state.request_in_doubt:
        return PendingRead("outcome_unknown", mall.last_request_no)
    refusal = mall.rejection
    if refusal is not None and not refusal.read and refusal.http_status not in _NO_READ_AFTER:
        return PendingRead("refusal", refusal.request_no)
    if state.resync_pending:
        return PendingRead("resync", 0)
    return None


def plan(state: OrderState, *, now: datetime) -> Plan:
    """The steps to send now, then what holds up the rest (a deferral) or why nothing can be sent (attention).

    `now` must be timezone-aware: it decides whether a delivery moment is still in the future.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    desired = desired_status(state)
    if desired is None:
        return Plan()
    read = pending_read(state)
    if read is not None:
        return Plan(desired=desired, read_first=True, read=read)
    result = _from_known_state(state, desired, now=now)
    if result.attention is not None:
        item = attention_item(state)
        if item is not None and item.acknowledged and item.code == result.attention.code:
            acknowledged = Attention(result.attention.code, result.attention.reason, acknowledged=True)
            return Plan(result.desired, result.steps, result.deferral, acknowledged)
    return result


def _from_known_state(state: OrderState, desired: MallStatus, *, now: datetime) -> Plan:
    current, mdp = state.mall.status, effective_mdp(state)
    if current is _S.BLOCKED:
        if desired is _S.OPEN:
            return Plan(desired=desired)  # nothing to send now, nor once MALL opens it
        opened = OrderState(state.tenant_id, state.order_number, state.mall_order_id, state.fc, _opened(state))
        later = status_steps(opened, _S.OPEN, desired, mdp=mdp, now=now)
        return Plan(desired=desired, deferral=waiting_for_open(later, desired))
    if current in FINAL_MALL_STATUSES:
        return _after_final(state, current, desired, mdp=mdp)
    if state.return_pending and current is _S.SHIPPED and not mdp:
        body: dict[str, object] = {"status": _S.RETURNED.value}
        if state.mall.confirmed is not True:
            body["confirmed"] = True
        # not held back by a refused earlier return: that refusal answered its own request (rule 5)
        return Plan(desired=_S.RETURNED, steps=(PutStep(_S.RETURNED, body),))
    fresh = status_steps(state, current, desired, mdp=mdp, now=now)
    fresh = _confirming(state, _correcting_tracking(state, fresh, mdp=mdp))
    return _unless_refused_again(state, fresh)


def _opened(state: OrderState) -> MallSide:
    """MALL's side as it will be once MALL opens the order (MALL resets it to unconfirmed then)."""
    return state.mall._replace(status=_S.OPEN, status_by="mall", confirmed=False)


def _after_final(state: OrderState, current: MallStatus, desired: MallStatus, *, mdp: bool) -> Plan:
    if desired == current:
        return Plan(desired=desired)
    by = state.mall.status_by
    if current is _S.CANCELLED and by == "mall":
        return Plan(desired=desired, attention=cancelled_at_mall(state))
    if current in (_S.RETURNED, _S.LOST) and desired in (_S.SHIPPED, _S.CANCELLED):
        return Plan(desired=current)  # the parcel came back, or MALL Delivery lost it: the order's end
    if current is _S.DELIVERED and desired is _S.SHIPPED and (by == "mall" or mdp):
        return Plan(desired=current)  # MALL delivered it itself: the normal end of a MALL Delivery order
    return Plan(desired=desired, attention=no_legal_path(state, current, desired))


def _correcting_tracking(state: OrderState, fresh: Plan, *, mdp: bool) -> Plan:
    """A tracking correction when MALL has the order shipped, no status PUT is due, and FastCentrik's
    tracking is news to MALL: neither what MALL is known to have nor what we last sent (a MALL that
    writes our values its own way is not sent them again after each read). Tracking FastCentrik no longer
    has is nothing to send; a correction MALL would refuse (a tracking number with other characters, no
    web address) is not sent either, and a person is told (attention `tracking_refused`)."""
    mall = state.mall
    if fresh.steps or fresh.attention is not None or fresh.deferral is not None or mdp:
        return fresh
    if mall.status is not _S.SHIPPED or fresh.desired is not _S.SHIPPED:
        return fresh
    wanted = complete_tracking(state.fc.tracking_number, state.fc.tracking_url)
    if wanted is None or wanted == (mall.tracking_number, mall.tracking_url) or wanted == mall.tracking_sent:
        return fresh
    number, url = wanted
    problem = tracking_problem(number, url)
    if problem is not None:
        return Plan(fresh.desired, attention=tracking_refused(problem, mall.tracking_number))
    return Plan(fresh.desired, (PutStep(_S.SHIPPED, {"tracking_number": number, "tracking_url": url}),))


def _confirming(state: OrderState, fresh: Plan) -> Plan:
    """A confirm-only step when MALL is known to have the order unconfirmed and no status PUT is due."""
    if fresh.steps or fresh.attention is not None or state.mall.confirmed is not False:
        return fresh
    step = PutStep(state.mall.status, {"confirmed": True})
    return Plan(fresh.desired, (step,), fresh.deferral)


def _unless_refused_again(state: OrderState, fresh: Plan) -> Plan:
    refusal = state.mall.rejection
    if refusal is None or refusal.based_on_seq != state.fc.seq:
        return fresh  # no refusal, or FastCentrik's facts changed since: a new decision
    first = fresh.steps[0] if fresh.steps else None
    if first is None:
        again = False
    elif refusal.body is not None:
        again = _same_request(first.body, refusal.body)
    else:  # a refusal recorded without its body: the same status again
        again = first.status is refusal.status
    if again or (refusal.status is _S.RETURNED and state.mall.status is _S.SHIPPED):
        return Plan(desired=fresh.desired, attention=rejected(refusal.status, refusal.http_status, refusal.message))
    return fresh


def _same_request(body: dict[str, object], refused: dict[str, object]) -> bool:
    """The same request as the refused one, as far as MALL's answer can tell: only adding a `confirmed: true`
    the refused one lacked gives reason to expect another answer (leaving it out, because MALL has the
    order confirmed by now, does not)."""
    if {k: v for k, v in body.items() if k != "confirmed"} != {k: v for k, v in refused.items() if k != "confirmed"}:
        return False
    return not ("confirmed" in body and "confirmed" not in refused)


def return_refusal(state: OrderState | None) -> str | None:
    """Why `mallbridge order return` must refuse (None: allowed). Pure: from the log's state of the order."""
    if state is None or state.fc.status is None:
        return "unknown order: no FastCentrik snapshot has named it, so mallbridge does not know it"
    current = state.mall.status
    if current in FINAL_MALL_STATUSES:
        return f"MALL already has the order as {current}, a final status; nothing is sent"
    if effective_mdp(state):
        return "MALL sets returned itself for MALL Delivery orders (when the parcel is picked up with its return PIN)"
    if current is not _S.SHIPPED:
        assumed = state.mall.status_by == "assumed"
        known = " as far as the log knows (`mallbridge order resync` reads MALL)" if assumed else ""
        return f"MALL has the order {current}{known}, not shipped: only a shipped order can be marked returned"
    if state.return_pending:
        return "a return of this order is already requested and not yet answered by MALL"
    return None
