"""Changes MALL makes to an order, by name (`POST /sandbox/orders/{id}/actions/{action}`).

MALL resets an order to unconfirmed whenever it changes it (MALL Partner API: unconfirmed orders): it opens
a blocked order after payment, MALL or the customer cancels, MALL edits the detail, MALL Delivery sets its
status. A person may set `returned` in the partner portal (a parcel the customer did not take), and MALL
Delivery alone sets delivered, returned and lost on MDP orders. Each action is allowed only from the statuses
where it makes sense; anything else is refused (409 on the admin API), so a test cannot build a state MALL
could never reach.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from mallbridge_sandbox.orders import Order
from mallbridge_sandbox.status_rules import FINAL
from mallbridge_schema.statuses import MallStatus

_S = MallStatus


class ActionRefused(ValueError):
    """The action makes no sense for the order's state (the message says why and what would)."""


class ActionFieldError(ValueError):
    """The body names a field the action does not take."""


@dataclass(frozen=True)
class MallAction:
    name: str
    meaning: str
    from_statuses: frozenset[MallStatus]
    to_status: MallStatus | None  # None: the status stays (MALL edits the detail)
    mdp_only: bool = False
    fields: frozenset[str] = frozenset()

    def refusal(self, order: Order) -> str | None:
        """Why this action cannot happen to `order` now, or None."""
        if self.mdp_only and not order.mdp:
            return (
                f"{self.name} is for MALL Delivery (mdp) orders only; order {order.id} is not one "
                "(a returned parcel of another carrier is portal-return)"
            )
        if order.status not in self.from_statuses:
            names = [s.value for s in MallStatus if s in self.from_statuses]
            allowed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
            return f"{self.name} needs an order that is {allowed}; order {order.id} is {order.status.value}"
        return None


_NOT_FINAL = frozenset(set(MallStatus) - FINAL)
_ATTEMPT = "first_delivery_attempt"

ACTIONS: Mapping[str, MallAction] = {
    action.name: action
    for action in (
        MallAction(
            "customer-cancel",
            "the customer (or MALL) cancels the order",
            frozenset({_S.BLOCKED, _S.OPEN, _S.SHIPPING}),
            _S.CANCELLED,
        ),
        MallAction(
            "open", "payment arrived (or the order was approved): MALL opens it", frozenset({_S.BLOCKED}), _S.OPEN
        ),
        MallAction(
            "mdp-delivered",
            "MALL Delivery delivered the parcel",
            frozenset({_S.SHIPPED}),
            _S.DELIVERED,
            mdp_only=True,
            fields=frozenset({"delivered_at", _ATTEMPT}),
        ),
        MallAction(
            "mdp-returned",
            "MALL Delivery brought the parcel back",
            frozenset({_S.SHIPPED}),
            _S.RETURNED,
            mdp_only=True,
            fields=frozenset({_ATTEMPT}),
        ),
        MallAction("mdp-lost", "MALL Delivery lost the parcel", frozenset({_S.SHIPPED}), _S.LOST, mdp_only=True),
        MallAction(
            "portal-return",
            "a person set returned in the MALL portal (the parcel came back uncollected)",
            frozenset({_S.SHIPPED}),
            _S.RETURNED,
            fields=frozenset({_ATTEMPT}),
        ),
        MallAction("edit", "MALL edits the order detail", _NOT_FINAL, None, fields=frozenset({"external_id"})),
    )
}


def action_named(name: str) -> MallAction | None:
    return ACTIONS.get(name)


def check_fields(action: MallAction, given: Mapping[str, str]) -> None:
    for name in given:
        if name not in action.fields:
            takes = ", ".join(sorted(action.fields)) or "no fields"
            raise ActionFieldError(f"{action.name} does not take {name!r}; it takes {takes}")


def apply_action(order: Order, action: MallAction, given: Mapping[str, str], *, at: str) -> MallStatus:
    """Make the change (the order's status stamped `at`, confirmed reset); return the status before it.

    `given` holds the action's fields, already checked (`check_fields`, the date-time format). A delivery
    without `delivered_at` is delivered `at`.
    """
    refusal = action.refusal(order)
    if refusal is not None:
        raise ActionRefused(refusal)
    before = order.status
    if action.to_status is not None:
        order.enter(action.to_status, at)
    if action.to_status == _S.DELIVERED:
        order.delivered_at = given.get("delivered_at", at)
    if _ATTEMPT in given:
        order.first_delivery_attempt = given[_ATTEMPT]
    if "external_id" in given:
        order.external_id = given["external_id"]
    order.fill_mdp_tracking_if_due()
    order.confirmed = False  # MALL resets an order to unconfirmed whenever it changes it
    return before
