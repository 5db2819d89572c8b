"""What the reconciler answers: a plan of PUTs, or why nothing goes out (ARCHITECTURE.md §2, §6, §7)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from mallbridge_core.domain.mall_side import Deferral
from mallbridge_schema.mall_format import RequestKind, request_kind
from mallbridge_schema.statuses import MallStatus

# The reconciler asks for the first three (`Plan.read`): reads that settle something. "webhook" and "poll"
# are the reads the publisher makes on MALL's notice that an order changed (a `MallOrderChanged`, the
# unconfirmed queue): they settle nothing, so what they find is recorded only when it is new.
ReadSource = Literal["outcome_unknown", "refusal", "resync", "webhook", "poll"]
NOTICE_SOURCES: frozenset[str] = frozenset({"webhook", "poll"})


@dataclass(frozen=True, slots=True)
class PutStep:
    """One PUT of the order with its exact JSON body: `PUT /orders/{id}`, or for a tracking correction
    (the tracking fields alone) `PUT /orders/{id}/tracking`; the MALL adapter tells them by the body.

    `status` is the MALL status the order has after it: for a confirm-only step (`{"confirmed": true}`)
    and a tracking correction, the status it already has.
    """

    status: MallStatus
    body: dict[str, Any]

    @property
    def kind(self) -> RequestKind:
        return request_kind(self.body)

    @property
    def confirm_only(self) -> bool:
        return self.kind == "confirm"


@dataclass(frozen=True, slots=True)
class Attention:
    """An attention item the plan raises; `acknowledged` when a person has already handled this code."""

    code: str
    reason: str
    acknowledged: bool = False


@dataclass(frozen=True, slots=True)
class PendingRead:
    """A read of MALL: the observation to record answers it.

    For a read the reconciler asks for (`settles`), record a `MallStateObserved` with this `source` and
    `request_no` (0: it settles no request) even when MALL says nothing new: that is what settles the read.
    """

    source: ReadSource
    request_no: int

    @property
    def settles(self) -> bool:
        """The read settles something (a request in doubt, a refusal, a resync): its observation is recorded
        even when MALL says nothing new. A read on a notice ("webhook", "poll") is recorded only when it does."""
        return self.source not in NOTICE_SOURCES


@dataclass(frozen=True, slots=True)
class Plan:
    desired: MallStatus | None = None
    steps: tuple[PutStep, ...] = ()
    deferral: Deferral | None = None
    attention: Attention | None = None
    read_first: bool = False
    read: PendingRead | None = None

    @property
    def settled(self) -> bool:
        """Nothing to send now and nothing to wait for."""
        return not (self.steps or self.deferral or self.attention or self.read_first)
