"""The status PUTs from MALL's current status to the desired one, with their exact bodies (ARCHITECTURE.md §2).

- the shortest legal path of PUTs, each with its exact JSON body; the first carries `"confirmed": true`
  unless MALL's side is known to be confirmed;
- a step whose data is missing (tracking for `shipped`, a delivery moment still in the future) is
  deferred with its reason, and the steps after it wait;
- no legal path → an attention item, nothing sent;
- MALL Delivery (MDP) orders: MALL alone sets `delivered` (and `returned`) from its carrier data, so a
  desired `delivered` stops at `shipped` with a deferral.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from mallbridge_core.domain.mall_side import Deferral
from mallbridge_core.domain.plans import Plan, PutStep
from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reasons import no_legal_path
from mallbridge_schema.mall_format import (
    TRACKING_NUMBER_ALLOWED,
    delivered_moment,
    format_mall_datetime,
    is_valid_tracking_number,
    is_web_address,
)
from mallbridge_schema.statuses import MallStatus
from mallbridge_schema.transitions import shortest_path

_S = MallStatus


def status_steps(state: OrderState, current: MallStatus, desired: MallStatus, *, mdp: bool, now: datetime) -> Plan:
    """The PUTs from `current` to `desired`, then what holds up the rest, or why there is no way."""
    if desired == current:
        return Plan(desired=desired)
    target, mdp_wait = _reachable_target(desired, mdp=mdp)
    path = shortest_path(current, target, mdp=mdp)
    if path is None:
        return Plan(desired=desired, attention=no_legal_path(state, current, desired))
    steps: list[PutStep] = []
    for status in path:
        first = not steps and state.mall.confirmed is not True
        body_or_deferral = _step_body(state, status, first=first, mdp=mdp, now=now)
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


def _step_body(
    state: OrderState, status: MallStatus, *, first: bool, mdp: bool, now: datetime
) -> dict[str, Any] | Deferral:
    body: dict[str, Any] = {"status": status.value}
    if first:
        body["confirmed"] = True  # MALL refuses a status change on an unconfirmed order
    if status is _S.SHIPPED and not mdp:
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
    complete = complete_tracking(number, url)
    if complete is None:
        pairs = (("tracking number", number), ("tracking URL", url))
        missing = [name for name, value in pairs if value is None or not value.strip()]
        return Deferral(
            _S.SHIPPED,
            f"waiting for the {' and '.join(missing)}: MALL requires both to mark the order shipped. "
            "Fill them in FastCentrik; the update is sent as soon as they arrive.",
        )
    number, url = complete
    problem = tracking_problem(number, url)
    if problem is not None:
        return Deferral(_S.SHIPPED, f"{problem}. Correct it in FastCentrik; the update is sent as soon as it is fixed.")
    return {"tracking_number": number, "tracking_url": url}


def complete_tracking(number: str | None, url: str | None) -> tuple[str, str] | None:
    """Both tracking texts, when neither is missing or blank (else None: nothing to send MALL yet)."""
    if number is None or url is None or not number.strip() or not url.strip():
        return None
    return number, url


def tracking_problem(number: str, url: str) -> str | None:
    """Why MALL would refuse this tracking number and URL (None: it takes them)."""
    if not is_valid_tracking_number(number):
        return f"tracking number {number!r} has characters MALL refuses (allowed: {TRACKING_NUMBER_ALLOWED})"
    if not is_web_address(url):
        return (
            f"tracking URL {url!r} is not a web address (http:// or https:// and a host) where a customer can "
            "follow the parcel"
        )
    return None


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
