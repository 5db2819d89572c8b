"""MALL's side of one order: the fold of sync-events.v1, and of `mallbridge balance`'s observations.

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
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal, NamedTuple
from uuid import UUID

from mallbridge_schema.events import (
    AttentionNeeded,
    AttentionResolved,
    Event,
    MallReadRefused,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    MallUpdateRequested,
    ObservedField,
    StepDeferred,
)
from mallbridge_schema.mall_format import request_kind
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus

StatusBy = Literal["assumed", "us", "mall"]

_RANK = {MallStatus.BLOCKED: 0, MallStatus.OPEN: 1, MallStatus.SHIPPING: 2, MallStatus.SHIPPED: 3}
_BY_RANK: dict[str, int] = {"assumed": 0, "mall": 1, "us": 2}


def mall_rank(status: MallStatus) -> int:
    """Position along MALL's one-way order life (finals last)."""
    return 4 if status in FINAL_MALL_STATUSES else _RANK[status]


@dataclass(frozen=True, slots=True)
class Rejection:
    """MALL refused a PUT: what it refused, and whether MALL has been read since."""

    status: MallStatus
    based_on_seq: int
    http_status: int
    message: str
    request_no: int = 0
    body: dict[str, Any] | None = None
    read_by: UUID | None = None  # the observation that read MALL after the refusal

    @property
    def read(self) -> bool:
        return self.read_by is not None


@dataclass(frozen=True, slots=True)
class Deferral:
    status: MallStatus
    reason: str
    until: datetime | None = None


@dataclass(frozen=True, slots=True)
class RequestInDoubt:
    """What the last requested PUT asked for, kept until its outcome is recorded (so a 404 on the read
    that settles it can be recorded as the refusal of that very request)."""

    status: MallStatus
    body: dict[str, Any]
    based_on_seq: int
    requested_at: datetime | None = None  # when it was recorded as requested (the PUT went out right after)


class MallSide(NamedTuple):
    """MALL's side as last known from sync events (an order reaches FastCentrik once MALL has it open).

    A named tuple, not a frozen dataclass, for the reason FastCentrikSide is one: a new one is made for
    most sync events folded (publisher, audit --verify), and a frozen dataclass of these 18 fields cost
    1.5 µs to construct, five times the tuple. Change it with `_replace`.
    """

    status: MallStatus = MallStatus.OPEN
    confirmed: bool | None = None
    last_request_no: int = 0
    settled_request_no: int = 0
    rejection: Rejection | None = None
    deferral: Deferral | None = None
    attention_code: str | None = None
    in_doubt: RequestInDoubt | None = None
    status_by: StatusBy = "assumed"
    mdp: bool | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None
    attention_reason: str = ""
    attention_at: datetime | None = None
    reads_answered: frozenset[UUID] = frozenset()
    return_refusals: frozenset[int] = frozenset()
    # The tracking our accepted PUTs last sent (`tracking_number`/`_url` above are the latest MALL is known to
    # have, from our PUT or a read): a correction is due only when FastCentrik's differs from both, so a
    # MALL that writes our values otherwise is not sent them again after every read.
    tracking_sent: tuple[str, str | None] | None = None


_new_tuple = tuple.__new__


def with_tracking(
    mall: MallSide, number: str | None, url: str | None, *, sent: tuple[str, str | None] | None
) -> MallSide:
    """`mall` with these tracking texts and these as the ones we sent (for the projection's sharing of
    FastCentrik's strings, per shipped order: `_replace` cost 1.5 µs)."""
    return _mall_side(mall, tracking=(number, url), tracking_sent=sent)


class _Keep(Enum):
    """Marks a field of `_mall_side` as unchanged (None is a value several fields take)."""

    KEEP = 0


_KEEP = _Keep.KEEP


def _mall_side(
    mall: MallSide,
    *,
    status: tuple[MallStatus, StatusBy] | _Keep = _KEEP,
    confirmed: bool | _Keep | None = _KEEP,
    requests: tuple[int, int, RequestInDoubt | None] | _Keep = _KEEP,
    rejection: Rejection | _Keep | None = _KEEP,
    deferral: Deferral | _Keep | None = _KEEP,
    attention: tuple[str | None, str, datetime | None] | _Keep = _KEEP,
    mdp: bool | _Keep | None = _KEEP,
    tracking: tuple[str | None, str | None] | _Keep = _KEEP,
    delivered_at: str | _Keep | None = _KEEP,
    reads_answered: frozenset[UUID] | _Keep = _KEEP,
    return_refusals: frozenset[int] | _Keep = _KEEP,
    tracking_sent: tuple[str, str | None] | _Keep | None = _KEEP,
) -> MallSide:
    """`mall` with the given fields changed. Built as a tuple of the fields, not with `_replace` nor the
    named tuple's own constructor (a Python-level function of 18 arguments, 0.4 µs against 0.24): this is
    the publisher's and the audit's hot path."""
    status_, by = (mall.status, mall.status_by) if status is _KEEP else status
    last, settled, doubt = (
        (mall.last_request_no, mall.settled_request_no, mall.in_doubt) if requests is _KEEP else requests
    )
    code, reason, raised_at = (
        (mall.attention_code, mall.attention_reason, mall.attention_at) if attention is _KEEP else attention
    )
    number, url = (mall.tracking_number, mall.tracking_url) if tracking is _KEEP else tracking
    return _new_tuple(
        MallSide,
        (
            status_,
            mall.confirmed if confirmed is _KEEP else confirmed,
            last,
            settled,
            mall.rejection if rejection is _KEEP else rejection,
            mall.deferral if deferral is _KEEP else deferral,
            code,
            doubt,
            by,
            mall.mdp if mdp is _KEEP else mdp,
            number,
            url,
            mall.delivered_at if delivered_at is _KEEP else delivered_at,
            reason,
            raised_at,
            mall.reads_answered if reads_answered is _KEEP else reads_answered,
            mall.return_refusals if return_refusals is _KEEP else return_refusals,
            mall.tracking_sent if tracking_sent is _KEEP else tracking_sent,
        ),
    )


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
    return _mall_side(mall, requests=(event.request_no, mall.settled_request_no, requested))


def _deferred(event: StepDeferred, mall: MallSide) -> MallSide:
    return _mall_side(mall, deferral=Deferral(event.status, event.reason, event.until))


def _attention_needed(event: AttentionNeeded, mall: MallSide) -> MallSide:
    if event.scope != "order":
        return mall
    return _mall_side(mall, attention=(event.code, event.reason, event.occurred_at))


def _attention_resolved(event: AttentionResolved, mall: MallSide) -> MallSide:
    if event.scope != "order" or event.code != mall.attention_code:
        return mall
    return _mall_side(mall, attention=(None, "", None))


def _updated(event: MallStatusUpdated, mall: MallSide) -> MallSide:
    body = event.request
    rejection = mall.rejection
    if rejection is not None and event.request_no > rejection.request_no:
        rejection = None  # a later request went through: MALL's side moved on from the refusal
    number = body.get("tracking_number")
    kind = request_kind(body)
    url = body.get("tracking_url")
    sent = (number, url if isinstance(url, str) else None) if isinstance(number, str) else None
    return _mall_side(
        mall,
        # a confirm-only request or a tracking correction (no "status" in the body) leaves the status as it is
        status=_claimed(mall, event.status, "us") if kind == "status" else _KEEP,
        confirmed=_KEEP if kind == "tracking" else True,  # `/tracking` confirms nothing
        requests=_settling(mall, event.request_no),
        rejection=rejection,
        deferral=None,
        tracking=_KEEP if sent is None else sent,
        delivered_at=body["delivered_at"] if isinstance(body.get("delivered_at"), str) else _KEEP,
        tracking_sent=_KEEP if sent is None else sent,
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
    return _mall_side(mall, requests=_settling(mall, event.request_no), rejection=refused, return_refusals=returns)


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
    return _mall_side(
        mall,
        status=status,
        confirmed=confirmed,
        requests=_settling(mall, event.request_no),
        rejection=rejection,
        mdp=_KEEP if event.mdp is None else event.mdp,
        tracking=_KEEP if event.tracking_number is None else (event.tracking_number, event.tracking_url),
        delivered_at=_KEEP if event.delivered_at is None else event.delivered_at,
        reads_answered=answered,
    )


def _read_refused(event: MallReadRefused, mall: MallSide) -> MallSide:
    """MALL refused the read for good (404: it does not know the order): the read it was owed for is
    answered (a resync; the read after a refusal), or it would be asked for again and again. MALL's side
    is as it was: the refusal a read was owed for still stands."""
    if event.source == "resync" and event.event_id not in mall.reads_answered:
        return _mall_side(mall, reads_answered=mall.reads_answered | {event.event_id})
    rejection = mall.rejection
    if (
        event.source == "refusal"
        and rejection is not None
        and rejection.read_by is None
        and event.request_no == rejection.request_no
    ):
        return _mall_side(mall, rejection=_read(rejection, event.event_id))
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
    return _mall_side(mall, status=status, mdp=mdp)


def observation_changes(
    mall: MallSide,
    *,
    status: MallStatus,
    confirmed: bool | None,
    tracking_number: str | None = None,
    tracking_url: str | None = None,
    delivered_at: str | None = None,
) -> tuple[ObservedField, ...]:
    """Which of status, confirmed, tracking and delivered_at MALL says differently from what the log last
    said: the `changed` of the observation to record (nothing to record when empty). A value MALL did not
    give (None) is no difference."""
    changed: list[ObservedField] = []
    if status is not mall.status:  # an assumed `open` is what the log says until MALL is read
        changed.append("status")
    if confirmed is not None and confirmed != mall.confirmed:
        changed.append("confirmed")
    if tracking_number is not None and (tracking_number, tracking_url) != (mall.tracking_number, mall.tracking_url):
        changed.append("tracking")
    if delivered_at is not None and delivered_at != mall.delivered_at:
        changed.append("delivered_at")
    return tuple(changed)
