"""MALL's side of one order in the audit's fold: what we sent and MALL answered, and what MALL said when read.

The rules are the projection's (`mallbridge_core.domain.mall_side_fold`), on the compact accumulator:
- MALL's status is a claim, taken when it is later along MALL's graph, or over the assumed `open`
  before MALL was heard from; for the same status "us" wins over "mall". An observation is MALL's
  word: a final status it reports replaces another final. A confirm-only update (no status in its body)
  leaves the status. Who set the status is kept (`OrderAcc.status_by`): our accepted PUT, or a read
  that shows our PUT in doubt landed, is "us"; any other read is MALL's side.
- `mallbridge balance`'s observations (source "balance") only claim the status, and give MALL's word on
  MDP when nothing said it yet.
- `confirmed`: an accepted PUT makes it true, a read sets what MALL said; MALL's word on MDP (a read's
  `mdp`) wins over FastCentrik's; the tracking the order carries is the last pair known (our accepted
  PUT's body, or MALL's read).
- an accepted update ends a deferral; the last order-scope attention item (until resolved by its code)
  is the recorded one.

Each read is kept as one small int (`read_code`): why MALL was read (its `source`) and what MALL-side
change it showed (`CHANGES`), from which the report counts reads by source and changes by kind.
"""

from __future__ import annotations

from mallbridge_audit.order_fold import (
    BY_US,
    CONF_KNOWN,
    CONF_TRUE,
    DELIVERED_SENT,
    HEARD,
    MALL_MDP,
    MALL_SAID_MDP,
    TRACKED,
    OrderAcc,
)
from mallbridge_audit.views import OperatorFact, SyncFact
from mallbridge_core.domain.projection import mall_rank
from mallbridge_core.domain.sla import carries_tracking, delivered_lag_s
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus

_S = MallStatus
NOT_A_READ = -1

SOURCES = ("outcome_unknown", "refusal", "webhook", "poll", "resync", "balance")
"""Why MALL was read (MallStateObserved.source), in the order of `read_code`."""
_SOURCE_INDEX = {source: i for i, source in enumerate(SOURCES)}

CHANGES: dict[str, str] = {
    "": "nothing MALL changed",
    "cancelled_at_mall": "MALL cancelled the order itself (the customer or MALL): not a partner cancellation",
    "delivered_by_mall_delivery": "MALL Delivery set delivered from its carrier's data",
    "delivered_at_mall": "delivered was set at MALL (in the portal), not by mallbridge",
    "returned_by_mall_delivery": "MALL Delivery returned the parcel to the sender",
    "returned_in_portal": "returned was set by hand in the MALL portal",
    "lost_by_mall_delivery": "MALL Delivery lost the parcel",
    "opened_at_mall": "MALL opened the blocked order (paid or approved)",
    "blocked_at_mall": "MALL has the order blocked (not paid or approved yet)",
    "moved_at_mall": "MALL's status moved on at MALL, not by mallbridge",
    "changed_at_mall": "MALL changed the order (reset it to unconfirmed, or its tracking or delivery date)",
}
"""The MALL-side changes a read can show, with what each means (the first: none)."""
CHANGE_KINDS = tuple(CHANGES)
_KIND_INDEX = {kind: i for i, kind in enumerate(CHANGE_KINDS)}
_TO_FINAL_KIND = {
    (_S.CANCELLED, False): "cancelled_at_mall",
    (_S.CANCELLED, True): "cancelled_at_mall",
    (_S.DELIVERED, True): "delivered_by_mall_delivery",
    (_S.DELIVERED, False): "delivered_at_mall",
    (_S.RETURNED, True): "returned_by_mall_delivery",
    (_S.RETURNED, False): "returned_in_portal",
    (_S.LOST, True): "lost_by_mall_delivery",
    (_S.LOST, False): "lost_by_mall_delivery",
    (_S.OPEN, True): "opened_at_mall",
    (_S.OPEN, False): "opened_at_mall",
    (_S.BLOCKED, True): "blocked_at_mall",
    (_S.BLOCKED, False): "blocked_at_mall",
}


def read_code(source: str, kind: str) -> int:
    """One read as a small int (shared by the interpreter: no allocation per order)."""
    return _SOURCE_INDEX[source] * 16 + _KIND_INDEX[kind]


def read_of(code: int) -> tuple[str, str]:
    """(source, change kind) of a `read_code`."""
    return SOURCES[code // 16], CHANGE_KINDS[code % 16]


# ---- the fold ------------------------------------------------------------------------------------------


def fold_sync_fact(acc: OrderAcc, fact: SyncFact) -> int:
    """One order-scope sync event. A copy of a request or an outcome (its request_no already counted) is
    counted once, and changes the order as the projection says. Returns the read's code, or NOT_A_READ."""
    kind = fact.type
    status = fact.status
    if kind == "MallStatusUpdated":
        assert status is not None
        _accepted(acc, fact, status)
    elif kind == "MallUpdateRequested":
        _requested(acc, fact)
    elif kind == "MallUpdateRejected":
        acc.rejection = (str(status), fact.http_status, fact.message or "")
        _settle(acc, fact.request_no)
        if fact.request_no > acc.settled_no:
            acc.settled_no = fact.request_no
            acc.n_rej += 1
    elif kind == "MallStateObserved":
        return fold_observation(acc, fact)
    elif kind == "StepDeferred":
        acc.n_def += 1
        acc.deferral = (str(status), fact.reason or "")
    elif kind == "AttentionNeeded":
        acc.n_att += 1
        acc.attention = (fact.code or "", fact.reason or "", fact.occurred_at.timestamp())
    elif kind == "AttentionResolved" and acc.attention is not None and acc.attention[0] == fact.code:
        acc.attention = None
    return NOT_A_READ


def _requested(acc: OrderAcc, fact: SyncFact) -> None:
    number = fact.request_no
    body = fact.request
    if number > max(acc.req_no, acc.settled):  # the projection takes it as the request in doubt
        acc.doubt = fact.status if body is not None and body.status is not None else None
    if (
        fact.status is _S.DELIVERED
        and body is not None
        and body.status is not None
        and (acc.req_lag is None or number > acc.req_lag[0])
    ):  # our last `delivered`, measured from when it was sent should its answer be lost (`order_summary`);
        # kept as given, the lag worked out only for such an order, the few among every delivered one
        acc.req_lag = (number, body.delivered_at, fact.recorded_at)
    if number > acc.req_no:
        acc.req_no = number
        acc.n_req += 1


def _settle(acc: OrderAcc, number: int) -> None:
    """An outcome or a read settled request `number`: nothing is in doubt once every request is settled."""
    if number > acc.settled:
        acc.settled = number
    if acc.settled >= acc.req_no:
        acc.doubt = None


def _claim(acc: OrderAcc, status: MallStatus, *, ours: bool) -> None:
    """MALL has `status`, set by us or by MALL: taken when later along MALL's graph (or over the assumed
    `open`); for the same status, ours over MALL's."""
    flags = acc.flags
    heard = flags & HEARD
    if not heard or mall_rank(status) > mall_rank(acc.mall) or (status is acc.mall and ours and not flags & BY_US):
        acc.mall = status
        acc.flags = (flags | HEARD | BY_US) if ours else ((flags | HEARD) & ~BY_US)


def _accepted(acc: OrderAcc, fact: SyncFact, status: MallStatus) -> None:
    body = fact.request
    if body is not None and body.status is not None:  # a confirm-only PUT leaves the status
        _claim(acc, status, ours=True)
    if body is None or body.status is not None or body.tracking_number is None:
        acc.flags |= CONF_KNOWN | CONF_TRUE  # (a tracking correction, `/tracking`, confirms nothing)
    _settle(acc, fact.request_no)
    acc.deferral = None  # as in the projection: an accepted update ends the deferral
    if body is not None and body.tracking_number is not None:
        acc.set_flag(TRACKED, carries_tracking(body.tracking_number, body.tracking_url))
    if fact.request_no > acc.settled_no:
        acc.settled_no = fact.request_no
        _count_accepted(acc, fact, status)


def _count_accepted(acc: OrderAcc, fact: SyncFact, status: MallStatus) -> None:
    """The figures of an accepted update: its lag (only for a status FastCentrik called for: not a
    confirm-only PUT after a MALL change, nor a person's `returned`), and the delivered lag."""
    acc.n_upd += 1
    body = fact.request
    if body is None or body.status is None or status is _S.RETURNED:
        return
    recorded = fact.recorded_at.timestamp()
    based_on = fact.based_on_seq
    occurred = acc.occurred(based_on)
    if occurred == occurred:  # not NaN
        acc.vals.append(recorded - occurred)
    elif based_on > 0:
        acc.pending = [*(acc.pending or ()), (based_on, recorded)]
    if status is _S.DELIVERED:
        acc.flags |= DELIVERED_SENT
        acc.dlv_lag = delivered_lag_s(body.delivered_at, accepted_at=fact.recorded_at)
        acc.req_lag = None  # answered: the request's own lag is never needed (nor kept, for memory)


# ---- reads of MALL ---------------------------------------------------------------------------------------


def fold_observation(acc: OrderAcc, fact: SyncFact | OperatorFact) -> int:
    """What MALL said when it was read (either topic): folded, and kept as one read code."""
    status = fact.status
    assert status is not None
    acc.n_obs += 1
    before, was_confirmed = acc.mall, acc.confirmed
    if fact.source == "balance":
        ours = False
        _claim(acc, status, ours=False)  # a claim only: it is folded in any order with the sync events
        if fact.mdp is not None and not acc.flags & MALL_SAID_MDP:
            acc.flags |= MALL_SAID_MDP | (MALL_MDP if fact.mdp else 0)
    else:
        ours = acc.doubt is status and fact.request_no == max(acc.req_no, acc.settled)
        if status in FINAL_MALL_STATUSES and acc.mall in FINAL_MALL_STATUSES and status is not acc.mall:
            acc.mall = status  # MALL's word: the final status it reports replaces the one we had
            acc.flags = (acc.flags | HEARD | BY_US) if ours else ((acc.flags | HEARD) & ~BY_US)
        else:
            _claim(acc, status, ours=ours)
        _read_details(acc, fact)
    kind = "" if ours else _change(acc, before, was_confirmed, fact)
    code = read_code(fact.source, kind)
    if acc.said is None:
        acc.said = [code]
    else:
        acc.said.append(code)
    return code


def _read_details(acc: OrderAcc, fact: SyncFact | OperatorFact) -> None:
    if fact.confirmed is not None:
        acc.flags = (acc.flags | CONF_KNOWN | CONF_TRUE) if fact.confirmed else ((acc.flags | CONF_KNOWN) & ~CONF_TRUE)
    _settle(acc, fact.request_no)
    if fact.mdp is not None:
        acc.flags = (acc.flags | MALL_SAID_MDP | MALL_MDP) if fact.mdp else ((acc.flags | MALL_SAID_MDP) & ~MALL_MDP)
    if fact.tracking_number is not None:
        acc.set_flag(TRACKED, carries_tracking(fact.tracking_number, fact.tracking_url))


def _change(acc: OrderAcc, before: MallStatus, was_confirmed: bool | None, fact: SyncFact | OperatorFact) -> str:
    """The MALL-side change a read (not the answer to our own PUT) showed: "" when none."""
    now = acc.mall
    if now is not before:
        return _TO_FINAL_KIND.get((now, acc.mdp), "moved_at_mall")
    changed = fact.changed
    if "tracking" in changed or "delivered_at" in changed:
        return "changed_at_mall"
    if "confirmed" in changed and fact.confirmed is False and was_confirmed is True:
        # MALL resets `confirmed` with every change it makes: after a read that showed a status move (a
        # balance claim, which folds no `confirmed`), the reset is that same change, not a new one
        previous = CHANGE_KINDS[acc.said[-1] % 16] if acc.said else ""
        return "" if previous in _STATUS_MOVES else "changed_at_mall"
    return ""


_STATUS_MOVES = frozenset({*_TO_FINAL_KIND.values(), "moved_at_mall"})
