"""The reconciler: from an order's state (and "now"), plan the PUTs that bring MALL to the desired status.

Pure: `now` comes in as an argument, nothing is read from a clock. DESIGN §2 is the contract:
- equal statuses → nothing (a status is never re-sent);
- the shortest legal path of PUTs otherwise, each with its exact JSON body;
- a step whose data is missing (tracking for `shipped`, a delivery moment still in the future) is
  deferred with its reason, and the steps after it wait;
- no legal path → an attention item with a reason a merchant can act on, and nothing sent;
- MALL Delivery (MDP) orders: MALL alone sets `delivered` (and `returned`) from its carrier data, so a
  desired `delivered` stops at `shipped` with a deferral, and MALL's own `delivered` satisfies a desired
  `shipped` (the plan then reports `delivered` as the status the order should have).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from mallbridge_core.domain.projection import Deferral, OrderState
from mallbridge_schema.mall_format import (
    TRACKING_NUMBER_ALLOWED,
    delivered_moment,
    format_mall_datetime,
    is_valid_tracking_number,
)
from mallbridge_schema.mapping import desired_mall_status
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus
from mallbridge_schema.transitions import shortest_path

_S = MallStatus


@dataclass(frozen=True, slots=True)
class PutStep:
    """One `PUT /orders/{id}` with its exact JSON body."""

    status: MallStatus
    body: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Attention:
    code: str
    reason: str


@dataclass(frozen=True, slots=True)
class Plan:
    desired: MallStatus | None = None
    steps: tuple[PutStep, ...] = ()
    deferral: Deferral | None = None
    attention: Attention | None = None
    read_first: bool = False

    @property
    def settled(self) -> bool:
        """Nothing to send now and nothing to wait for."""
        return not (self.steps or self.deferral or self.attention or self.read_first)


def desired_status(state: OrderState) -> MallStatus | None:
    if state.fc.status is None:
        return None
    return desired_mall_status(state.fc.status, has_delivery_date=state.fc.delivered_at is not None)


def plan(state: OrderState, *, now: datetime) -> Plan:
    """The steps to send now, then what holds up the rest (a deferral) or why nothing can be sent (attention).

    `now` must be timezone-aware: it decides whether a delivery moment is still in the future.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    desired = desired_status(state)
    if desired is None:
        return Plan()
    if state.request_in_doubt:
        return Plan(desired=desired, read_first=True)
    current = state.mall.status
    if desired == current:
        return Plan(desired=desired)
    if state.fc.mdp and desired is _S.SHIPPED and current is _S.DELIVERED:
        return Plan(desired=current)  # MALL delivered it itself: the normal end of a MALL Delivery order
    rejection = state.mall.rejection
    if rejection is not None and rejection.based_on_seq == state.fc.seq:
        return Plan(desired=desired, attention=_rejected(rejection.status, rejection.http_status, rejection.message))
    mdp = state.fc.mdp
    target, mdp_wait = _reachable_target(desired, mdp=mdp)
    path = shortest_path(current, target, mdp=mdp)
    if path is None:
        return Plan(desired=desired, attention=_no_legal_path(state, current, desired))
    steps: list[PutStep] = []
    for status in path:
        body_or_deferral = _step_body(state, status, first=not steps and not state.mall.confirmed, now=now)
        if isinstance(body_or_deferral, Deferral):
            return Plan(desired=desired, steps=tuple(steps), deferral=body_or_deferral)
        steps.append(PutStep(status, body_or_deferral))
    return Plan(desired=desired, steps=tuple(steps), deferral=mdp_wait)


def _reachable_target(desired: MallStatus, *, mdp: bool) -> tuple[MallStatus, Deferral | None]:
    """MALL Delivery orders stop at shipped: MALL itself sets delivered or returned from carrier data."""
    if mdp and desired in (_S.DELIVERED, _S.RETURNED):
        reason = (
            f"MALL Delivery order: MALL sets {desired} itself from its carrier's tracking; "
            "the partner may not send it. Nothing to do."
        )
        return _S.SHIPPED, Deferral(desired, reason)
    return desired, None


def _step_body(state: OrderState, status: MallStatus, *, first: bool, now: datetime) -> dict[str, Any] | Deferral:
    body: dict[str, Any] = {"status": status.value}
    if first:
        body["confirmed"] = True  # MALL refuses a status change on an unconfirmed order
    if status is _S.SHIPPED and not state.fc.mdp:
        tracking = _tracking_or_deferral(state)
        if isinstance(tracking, Deferral):
            return tracking
        body.update(tracking)
    if status is _S.DELIVERED:
        moment = _delivery_or_deferral(state, now=now)
        if isinstance(moment, Deferral):
            return moment
        body["delivered_at"] = moment
    return body


def _tracking_or_deferral(state: OrderState) -> dict[str, str] | Deferral:
    number, url = state.fc.tracking_number, state.fc.tracking_url
    pairs = (("tracking number", number), ("tracking URL", url))
    missing = [name for name, value in pairs if value is None or not value.strip()]
    if missing:
        return Deferral(
            _S.SHIPPED,
            f"waiting for the {' and '.join(missing)}: MALL requires both to mark the order shipped. "
            "Fill them in FastCentrik; the update is sent as soon as they arrive.",
        )
    assert number is not None
    assert url is not None
    if not is_valid_tracking_number(number):
        return Deferral(
            _S.SHIPPED,
            f"tracking number {number!r} has characters MALL refuses (allowed: {TRACKING_NUMBER_ALLOWED}). "
            "Correct it in FastCentrik; the update is sent as soon as it is fixed.",
        )
    return {"tracking_number": number, "tracking_url": url}


def _delivery_or_deferral(state: OrderState, *, now: datetime) -> str | Deferral:
    raw, recorded = state.fc.delivered_at, state.fc.delivery_recorded_at
    assert raw is not None
    try:
        moment = delivered_moment(raw, recorded_at=recorded or now)
    except ValueError as exc:
        return Deferral(
            _S.DELIVERED,
            f"the delivery date cannot be read ({exc}). Correct it in FastCentrik; delivered is sent as soon as it is.",
        )
    # Compared as instants: two Prague wall times in the repeated autumn hour compare wrongly as they are.
    if moment.astimezone(UTC) > now.astimezone(UTC):
        return Deferral(
            _S.DELIVERED,
            f"the delivery date {format_mall_datetime(moment)} (Prague time) is in the future; "
            "delivered is sent when that moment comes.",
            until=moment,
        )
    return format_mall_datetime(moment)


def _rejected(status: MallStatus, http_status: int, message: str) -> Attention:
    return Attention(
        "mall_rejected",
        f"MALL refused {status} (HTTP {http_status}: {message}). Nothing more is sent for this order until it "
        "changes in FastCentrik: correct the order there, or ask MALL Operations if MALL's state is wrong.",
    )


def _no_legal_path(state: OrderState, current: MallStatus, desired: MallStatus) -> Attention:
    fc = f"{state.fc.status_label or state.fc.status} ({state.fc.status})"
    if current is _S.BLOCKED:
        return Attention(
            "mall_blocked",
            f"MALL still has the order blocked (not paid or approved), so the partner may not change it; "
            f"FastCentrik says {fc}. Nothing was sent: wait until MALL opens it (the update then goes out by "
            "itself), or ask MALL Operations if it stays blocked.",
        )
    if desired is _S.CANCELLED and current in (_S.SHIPPED,):
        return Attention(
            "cancel_after_shipped",
            "cancelled in FastCentrik after MALL shipped; MALL allows no cancel after shipped. "
            "Contact MALL Operations (Partner portal → FAQ → Problem order), or let the parcel come back as returned.",
        )
    if current in FINAL_MALL_STATUSES:
        return Attention(
            "mall_final",
            f"MALL already has the order as {current}, a final status, but FastCentrik says {fc} "
            f"(→ {desired}). Nothing was sent. If MALL's status is wrong, contact MALL Operations.",
        )
    return Attention(
        "backwards",
        f"FastCentrik says {fc} (→ {desired}) but MALL already has the order as {current}; MALL statuses "
        "cannot go back. Nothing was sent: check the order in FastCentrik.",
    )
