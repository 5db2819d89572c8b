"""The sandbox's own reading of MALL's status rules (MALL Partner API: order statuses and transitions, MALL
Delivery, order update): the second opinion.

The publisher plans its PUTs from `mallbridge_schema.transitions`. If the sandbox used the same code, an
edge that is wrong there would pass both, and no test could see it. So these tables are written again here,
from MALL's documentation, in its own wording; only the status names are shared. A test compares the
two over every (status, status, mdp) question: when they disagree, one of them is wrong and a person decides.
"""

from __future__ import annotations

import string
from collections.abc import Mapping

from mallbridge_sandbox.errors import ErrorCode
from mallbridge_schema.statuses import MallStatus

_S = MallStatus

# MALL order statuses: "blocked: created but not yet paid or approved. The partner cannot touch it."
UNTOUCHABLE = _S.BLOCKED

# MALL order statuses: "returned: final", "cancelled: final", "lost: final", and delivered cannot be undone
# (the partner portal allows a status only in the marked direction).
FINAL: frozenset[MallStatus] = frozenset({_S.DELIVERED, _S.RETURNED, _S.CANCELLED, _S.LOST})

# MALL order statuses, "Transitions the partner may make", line by line as the docs list them.
PARTNER_MAY_MAKE: Mapping[MallStatus, tuple[MallStatus, ...]] = {
    _S.OPEN: (_S.CANCELLED, _S.SHIPPING, _S.SHIPPED),
    _S.SHIPPING: (_S.CANCELLED, _S.SHIPPED),
    _S.SHIPPED: (_S.DELIVERED, _S.RETURNED),
}

# MALL Delivery (MDP orders): "The partner must not set delivered or returned" (MALL sets them
# from carrier tracking), and "You must go through shipping; skipping straight to shipped is refused".
MDP_SET_BY_MALL_ONLY: frozenset[MallStatus] = frozenset({_S.DELIVERED, _S.RETURNED})
MDP_SKIP_REFUSED = (_S.OPEN, _S.SHIPPED)

# MALL order update: "The tracking number may only contain 0-9 a-z A-Z - _": ASCII only, so no str.isalnum().
TRACKING_NUMBER_CHARACTERS = frozenset(string.digits + string.ascii_lowercase + string.ascii_uppercase + "-_")
TRACKING_NUMBER_ALLOWED = "0-9 a-z A-Z - _"


def refusal_of(current: MallStatus, target: MallStatus, *, mdp: bool) -> ErrorCode | None:
    """The rule a partner's `current -> target` breaks (the first, in the README's order), or None if allowed."""
    if current == UNTOUCHABLE:
        return ErrorCode.ORDER_BLOCKED
    if target == current:
        return ErrorCode.STATUS_UNCHANGED
    if current in FINAL:
        return ErrorCode.ORDER_STATUS_FINAL
    if mdp and target in MDP_SET_BY_MALL_ONLY:
        return ErrorCode.MDP_STATUS_FORBIDDEN
    if mdp and (current, target) == MDP_SKIP_REFUSED:
        return ErrorCode.MDP_SHIPPING_REQUIRED
    if target not in PARTNER_MAY_MAKE.get(current, ()):
        return ErrorCode.STATUS_TRANSITION_FORBIDDEN
    return None


def partner_may_move(current: MallStatus, target: MallStatus, *, mdp: bool) -> bool:
    return refusal_of(current, target, mdp=mdp) is None


def allowed_targets(current: MallStatus, *, mdp: bool) -> list[MallStatus]:
    """What the partner may move an order in `current` to, in MALL's status order."""
    return [target for target in MallStatus if partner_may_move(current, target, mdp=mdp)]


def is_tracking_number(value: str) -> bool:
    return bool(value) and all(ch in TRACKING_NUMBER_CHARACTERS for ch in value)
