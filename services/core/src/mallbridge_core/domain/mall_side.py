"""MALL's side of one order, as a value: what MALL is known to have (`MallSide`), and how one is changed.

Frozen values only; how sync events and `mallbridge balance`'s observations change them is
`mall_side_fold.py`. `observation_changes` says which fields a MALL answer tells differently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any, Literal, NamedTuple
from uuid import UUID

from mallbridge_schema.events import ObservedField
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus

StatusBy = Literal["assumed", "us", "mall"]

_RANK = {MallStatus.BLOCKED: 0, MallStatus.OPEN: 1, MallStatus.SHIPPING: 2, MallStatus.SHIPPED: 3}


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
    return changed(mall, tracking=(number, url), tracking_sent=sent)


class _Unchanged(Enum):
    """Marks a field of `changed` as left as it is (None is a value several fields take)."""

    UNCHANGED = 0


UNCHANGED = _Unchanged.UNCHANGED


def changed(
    mall: MallSide,
    *,
    status: tuple[MallStatus, StatusBy] | _Unchanged = UNCHANGED,
    confirmed: bool | _Unchanged | None = UNCHANGED,
    requests: tuple[int, int, RequestInDoubt | None] | _Unchanged = UNCHANGED,
    rejection: Rejection | _Unchanged | None = UNCHANGED,
    deferral: Deferral | _Unchanged | None = UNCHANGED,
    attention: tuple[str | None, str, datetime | None] | _Unchanged = UNCHANGED,
    mdp: bool | _Unchanged | None = UNCHANGED,
    tracking: tuple[str | None, str | None] | _Unchanged = UNCHANGED,
    delivered_at: str | _Unchanged | None = UNCHANGED,
    reads_answered: frozenset[UUID] | _Unchanged = UNCHANGED,
    return_refusals: frozenset[int] | _Unchanged = UNCHANGED,
    tracking_sent: tuple[str, str | None] | _Unchanged | None = UNCHANGED,
) -> MallSide:
    """`mall` with the given fields changed. Built as a tuple of the fields, not with `_replace` nor the
    named tuple's own constructor (a Python-level function of 18 arguments, 0.4 µs against 0.24): this is
    the publisher's and the audit's hot path."""
    status_, by = (mall.status, mall.status_by) if status is UNCHANGED else status
    last, settled, doubt = (
        (mall.last_request_no, mall.settled_request_no, mall.in_doubt) if requests is UNCHANGED else requests
    )
    code, reason, raised_at = (
        (mall.attention_code, mall.attention_reason, mall.attention_at) if attention is UNCHANGED else attention
    )
    number, url = (mall.tracking_number, mall.tracking_url) if tracking is UNCHANGED else tracking
    return _new_tuple(
        MallSide,
        (
            status_,
            mall.confirmed if confirmed is UNCHANGED else confirmed,
            last,
            settled,
            mall.rejection if rejection is UNCHANGED else rejection,
            mall.deferral if deferral is UNCHANGED else deferral,
            code,
            doubt,
            by,
            mall.mdp if mdp is UNCHANGED else mdp,
            number,
            url,
            mall.delivered_at if delivered_at is UNCHANGED else delivered_at,
            reason,
            raised_at,
            mall.reads_answered if reads_answered is UNCHANGED else reads_answered,
            mall.return_refusals if return_refusals is UNCHANGED else return_refusals,
            mall.tracking_sent if tracking_sent is UNCHANGED else tracking_sent,
        ),
    )


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
    differing: list[ObservedField] = []
    if status is not mall.status:  # an assumed `open` is what the log says until MALL is read
        differing.append("status")
    if confirmed is not None and confirmed != mall.confirmed:
        differing.append("confirmed")
    if tracking_number is not None and (tracking_number, tracking_url) != (mall.tracking_number, mall.tracking_url):
        differing.append("tracking")
    if delivered_at is not None and delivered_at != mall.delivered_at:
        differing.append("delivered_at")
    return tuple(differing)
