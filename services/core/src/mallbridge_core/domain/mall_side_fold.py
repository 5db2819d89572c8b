"""MALL's side of one order (`mall_side.py`): the fold of sync-events.v1, and of `mallbridge balance`'s
observations.

Pure: `apply_sync(event, mall)` and `claim_balance(event, mall)` return new frozen values (or `mall`
itself when nothing changes). The rules (ARCHITECTURE.md §3, §6):

- **MALL's status moves forward** along MALL's graph: blocked → open → shipping → shipped → a final
  status (delivered, returned, cancelled, lost). Until MALL is heard from, the status is *assumed*
  `open` (an order reaches FastCentrik once MALL has it open): that is the only thing an observed
  `blocked` replaces. An observed `blocked` after anything later is known is a stale read and ignored;
  `blocked → open` is forward and always taken.
- **An observation is MALL's word.** A final status observed in sync-events.v1 is taken even over
  another final status (MALL Operations corrected it, MALL Delivery set it). Who set the status is kept:
  `status_by` is "us" when our accepted PUT moved it (or a read showed our PUT in doubt had landed),
  "mall" when an observation moved it, "assumed" before anything is known. For one status claimed by
  both, "us" wins (we only PUT a status FastCentrik asked for).
- **`mallbridge balance`'s observations** (source "balance", written to operator-events.v1) are folded
  in any order relative to sync-events.v1, so they only *claim* a status: taken when it is later along
  the graph (never over a final), `mdp` filled in when nothing said it yet. Their `confirmed` is not
  folded; the observation also asks the publisher to read the order (see `operator_side`), and that
  read, recorded in sync-events.v1 in the log's order, brings the rest.
- **`confirmed`** is None until something says it; an accepted PUT makes it true (but a tracking
  correction, which MALL takes at `/tracking`), an observation sets what MALL said (None keeps it).
- **Tracking**: the latest MALL is known to have, from our accepted PUT or a read; apart from it, the
  tracking our accepted PUTs last sent (`tracking_sent`), which only our PUTs change.
- **A refusal** is kept with the request it refused. The next observation that names that request
  (`request_no`, source "refusal" by convention) marks it as read. After that, an observation whose
  `changed` names status or confirmed, or the outcome of a later request, clears it (MALL changed: the
  refusal no longer stands). The observation's own `changed` decides, not a comparison with the state,
  so that a balance claim folded in between cannot change the result. Refusals of `returned` are
  counted for the operator's return requests.
- **A read MALL refused for good** (`MallReadRefused`, e.g. 404: MALL does not know the order) answers
  the read it was owed for, a resync or the read after a refusal, and changes nothing else.
- An order event of the FastCentrik side never touches this side, so the two topics may interleave in
  any order; redelivered sync events change nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from mallbridge_core.domain.mall_side import (
    UNCHANGED,
    Deferral,
    MallSide,
    Rejection,
    RequestInDoubt,
    StatusBy,
    changed,
    mall_rank,
)
from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    Event,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    StepDeferred,
)
from mallbridge_schema.mall_format import request_kind
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus

_BY_RANK: dict[str, int] = {"assumed": 0, "mall": 1, "us": 2}


# ---- MALL's status: a claim is taken when it is later along MALL's graph ---------------------------------


_RANKS: dict[MallStatus, int] = {status: mall_rank(status) for status in MallStatus}


def _claimed(mall: MallSide, status: MallStatus, by: StatusBy) -> tuple[MallStatus, StatusBy]:
    """The status after a claim that MALL has `status`, set by `by`: the later one along the graph wins (for
    the same status, "us" over "mall"; anything over the assumed `open`); a claim never replaces one final
    status with another."""
    old_by = mall.status_by
    old = -1 if old_by == "assumed" else _RANKS[mall.status]
    new = _RANKS[status]  # a claim is never "assumed"
    if new > old or (status is mall.status and _BY_RANK[by] > _BY_RANK[old_by]):
        return status, by
    return mall.status, old_by


def _observed_status(mall: MallSide, status: MallStatus, by: StatusBy) -> tuple[MallStatus, StatusBy]:
    if status in FINAL_MALL_STATUSES and mall.status in FINAL_MALL_STATUSES and status is not mall.status:
        return status, by  # MALL's word: the final status it reports replaces the one we had
    return _claimed(mall, status, by)


def _settling(mall: MallSide, request_no: int) -> tuple[int, int, RequestInDoubt | None]:
    """After an outcome of request `request_no` (an answer, or a read): the last and settled request
    numbers, and the request still in doubt (None once every request is settled)."""
    last, settled = max(mall.last_request_no, request_no), max(mall.settled_request_no, request_no)
    return last, settled, (mall.in_doubt if settled < last else None)


# ---- the sync-events.v1 fold ----------------------------------------------------------------------------


def apply_sync(event: Event, mall: MallSide) -> MallSide:
    """The new MALL side, or `mall` itself (the same object) when the event changes nothing."""
    fold = _SYNC_FOLDS.get(type(event))  # by exact type, as the FastCentrik fold: a miss of isinstance costs 70 ns
    return mall if fold is None else fold(event, mall)


def _requested(event: MallUpdateRequested, mall: MallSide) -> MallSide:
    if event.request_no <= mall.last_request_no:
        return mall
    requested = RequestInDoubt(event.status, event.request, event.based_on_seq, event.recorded_at)
    return changed(mall, requests=(event.request_no, mall.settled_request_no, requested))


def _deferred(event: StepDeferred, mall: MallSide) -> MallSide:
    return changed(mall, deferral=Deferral(event.status, event.reason, event.until))


def _attention_needed(event: AttentionNeeded, mall: MallSide) -> MallSide:
    if event.scope != "order":
        return mall
    return changed(mall, attention=(event.code, event.reason, event.occurred_at))


def _attention_resolved(event: AttentionResolved, mall: MallSide) -> MallSide:
    if event.scope != "order" or event.code != mall.attention_code:
        return mall
    return changed(mall, attention=(None, "", None))


def _updated(event: MallStatusUpdated, mall: MallSide) -> MallSide:
    body = event.request
    rejection = mall.rejection
    if rejection is not None and event.request_no > rejection.request_no:
        rejection = None  # a later request went through: MALL's side moved on from the refusal
    number = body.get("tracking_number")
    kind = request_kind(body)
    url = body.get("tracking_url")
    sent = (number, url if isinstance(url, str) else None) if isinstance(number, str) else None
    return changed(
        mall,
        # a confirm-only request or a tracking correction (no "status" in the body) leaves the status as it is
        status=_claimed(mall, event.status, "us") if kind == "status" else UNCHANGED,
        confirmed=UNCHANGED if kind == "tracking" else True,  # `/tracking` confirms nothing
        requests=_settling(mall, event.request_no),
        rejection=rejection,
        deferral=None,
        tracking=UNCHANGED if sent is None else sent,
        delivered_at=body["delivered_at"] if isinstance(body.get("delivered_at"), str) else UNCHANGED,
        tracking_sent=UNCHANGED if sent is None else sent,
    )


def _rejected(event: MallUpdateRejected, mall: MallSide) -> MallSide:
    refused = Rejection(
        event.status,
        event.based_on_seq,
        event.http_status,
        event.message,
        event.request_no,
        event.request,
    )
    returns = mall.return_refusals
    if event.status is MallStatus.RETURNED and event.request_no not in returns:
        returns = returns | {event.request_no}
    return changed(mall, requests=_settling(mall, event.request_no), rejection=refused, return_refusals=returns)


def _answers_our_request(mall: MallSide, event: MallStateObserved) -> bool:
    """The read that settles our PUT in doubt shows what that PUT asked for: the PUT landed."""
    doubt = mall.in_doubt
    return (
        doubt is not None
        and event.request_no == mall.last_request_no
        and event.status is doubt.status
        and "status" in doubt.body
    )


def _observed(event: MallStateObserved, mall: MallSide) -> MallSide:
    status = _observed_status(mall, event.status, "us" if _answers_our_request(mall, event) else "mall")
    confirmed = mall.confirmed if event.confirmed is None else event.confirmed
    rejection = mall.rejection
    if rejection is not None:
        if event.request_no == rejection.request_no and rejection.read_by is None:
            rejection = _read(rejection, event.event_id)  # the read after the refusal
        elif event.event_id == rejection.read_by:
            pass  # that read again (redelivered): nothing new
        elif event.request_no > rejection.request_no or _STANDING_CHANGES.intersection(event.changed):
            # MALL changed since the refusal was read (as the observation itself records, so the result
            # does not depend on what a balance claim folded in between): the refusal no longer stands
            rejection = None
        elif event.source == "resync" and rejection.read_by is not None:
            # A person asked for MALL to be read again after the refusal (they fixed what MALL lacked, say
            # a MALL Delivery order's labels): the plan may send the refused request once more.
            rejection = None
    answered = mall.reads_answered
    if event.source == "resync" and event.event_id not in answered:
        answered = answered | {event.event_id}
    return changed(
        mall,
        status=status,
        confirmed=confirmed,
        requests=_settling(mall, event.request_no),
        rejection=rejection,
        mdp=UNCHANGED if event.mdp is None else event.mdp,
        tracking=UNCHANGED if event.tracking_number is None else (event.tracking_number, event.tracking_url),
        delivered_at=UNCHANGED if event.delivered_at is None else event.delivered_at,
        reads_answered=answered,
    )


def _read_refused(event: MallReadRefused, mall: MallSide) -> MallSide:
    """MALL refused the read for good (404: it does not know the order): the read it was owed for is
    answered (a resync; the read after a refusal), or it would be asked for again and again. MALL's side
    is as it was: the refusal a read was owed for still stands."""
    if event.source == "resync" and event.event_id not in mall.reads_answered:
        return changed(mall, reads_answered=mall.reads_answered | {event.event_id})
    rejection = mall.rejection
    if (
        event.source == "refusal"
        and rejection is not None
        and rejection.read_by is None
        and event.request_no == rejection.request_no
    ):
        return changed(mall, rejection=_read(rejection, event.event_id))
    return mall


_STANDING_CHANGES = frozenset({"status", "confirmed"})

_SYNC_FOLDS: dict[type[Event], Callable[[Any, MallSide], MallSide]] = {
    MallUpdateRequested: _requested,
    MallStatusUpdated: _updated,
    MallUpdateRejected: _rejected,
    MallStateObserved: _observed,
    MallReadRefused: _read_refused,
    StepDeferred: _deferred,
    AttentionNeeded: _attention_needed,
    AttentionResolved: _attention_resolved,
}
"""The sync events that change MALL's side; any other event leaves it as it is."""


def _read(r: Rejection, by: UUID) -> Rejection:
    return Rejection(r.status, r.based_on_seq, r.http_status, r.message, r.request_no, r.body, by)


def claim_balance(event: MallStateObserved, mall: MallSide) -> MallSide:
    """What `mallbridge balance` saw (operator-events.v1): a claim on the status, and `mdp` if unknown.

    Commutes with every sync event (see the module docstring), so the topics may interleave freely.
    """
    status = _claimed(mall, event.status, "mall")
    mdp = event.mdp if mall.mdp is None and event.mdp is not None else mall.mdp
    if status == (mall.status, mall.status_by) and mdp == mall.mdp:
        return mall
    return changed(mall, status=status, mdp=mdp)
