"""A small, independent model of MALL's acceptance rules for `PUT /orders/{id}` and `PUT /orders/{id}/tracking`
(reference/mall-api.md §2, §3, §5).

A second opinion for the property tests: written from the reference, NOT from mallbridge_schema.transitions
or the reconciler, so a wrong edge in the code under test cannot pass both. Where the reference is silent
the model refuses (conservative): tracking or delivered_at with another status, tracking on MALL Delivery,
confirming an order with a final status.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import Any

FINAL = {"delivered", "returned", "cancelled", "lost"}
# "The partner may only move": open → shipping | shipped | cancelled, shipping → shipped | cancelled,
# shipped → delivered | returned. Nothing out of blocked or a final status; nothing backwards.
PARTNER_MOVES = {
    "open": {"shipping", "shipped", "cancelled"},
    "shipping": {"shipped", "cancelled"},
    "shipped": {"delivered", "returned"},
}
TRACKING_NUMBER = re.compile(r"[0-9a-zA-Z_-]+")
MALL_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
FIELDS = {"status", "confirmed", "tracking_number", "tracking_url", "delivered_at"}
TRACKING_ONLY = {"tracking_number", "tracking_url"}


@dataclass(frozen=True)
class MallOrder:
    """One order as MALL has it."""

    status: str = "open"
    confirmed: bool = False
    mdp: bool = False
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None


def refusal(order: MallOrder, body: dict[str, Any]) -> str | None:
    """Why MALL refuses this PUT body on this order; None when it accepts it."""
    if set(body) - FIELDS:
        return f"unknown fields {sorted(set(body) - FIELDS)}"
    if order.status == "blocked":
        return "blocked: the partner cannot touch it"
    if set(body) == TRACKING_ONLY:  # the adapter sends the tracking fields alone to /tracking
        return tracking_refusal(order, body)
    if "confirmed" in body and body["confirmed"] is not True:
        return "confirmed can only be set to true"
    target = body.get("status")
    if target is None:
        if set(body) != {"confirmed"}:
            return "without a status only confirmed may be sent"
        if order.status in FINAL:
            return "confirming a final order"
        return "already confirmed: do not confirm it again" if order.confirmed else None
    if order.status in FINAL:
        return f"{order.status} is final"
    if target == order.status:
        return "the same status re-sent"
    if target not in PARTNER_MOVES.get(order.status, set()):
        return f"{order.status} -> {target} is not a partner move"
    if order.mdp and order.status == "open" and target == "shipped":
        return "MALL Delivery must pass through shipping"
    if order.mdp and target in ("delivered", "returned"):
        return f"MALL Delivery: MALL sets {target} itself"
    if not order.confirmed and body.get("confirmed") is not True:
        return "unconfirmed: confirm before or with the first status change"
    has_tracking = "tracking_number" in body or "tracking_url" in body
    if target == "shipped" and not order.mdp:
        number, url = body.get("tracking_number"), body.get("tracking_url")
        if not isinstance(number, str) or not TRACKING_NUMBER.fullmatch(number):
            return f"shipped needs a tracking number of 0-9 a-z A-Z - _ (got {number!r})"
        if not isinstance(url, str) or not url.strip():
            return "shipped needs a tracking URL"
    elif has_tracking:
        return "tracking goes only with shipped, and never for MALL Delivery"
    if target == "delivered":
        moment = body.get("delivered_at")
        if not isinstance(moment, str) or not MALL_DATETIME.fullmatch(moment):
            return f"delivered needs delivered_at as YYYY-MM-DD HH:MM:SS (got {moment!r})"
    elif "delivered_at" in body:
        return "delivered_at goes only with delivered"
    return None


def tracking_refusal(order: MallOrder, body: dict[str, Any]) -> str | None:
    """Why MALL refuses `PUT /orders/{id}/tracking` with this body: only while shipped, never for MALL Delivery,
    both values valid; an unchanged value is refused too (conservative: MALL asks for changes only)."""
    if order.status != "shipped":
        return f"tracking can be corrected only while shipped (it is {order.status})"
    if order.mdp:
        return "MALL Delivery: MALL fills tracking in itself"
    number, url = body.get("tracking_number"), body.get("tracking_url")
    if not isinstance(number, str) or not TRACKING_NUMBER.fullmatch(number):
        return f"a tracking number of 0-9 a-z A-Z - _ (got {number!r})"
    if not isinstance(url, str) or not url.strip():
        return "a tracking URL"
    if (number, url) == (order.tracking_number, order.tracking_url):
        return "the same tracking re-sent"
    return None


def accepted(order: MallOrder, body: dict[str, Any]) -> MallOrder:
    """The order after MALL accepted the body."""
    status = body.get("status", order.status)
    tracking = (body["tracking_number"], body["tracking_url"]) if "tracking_number" in body else None
    if status == "shipped" and order.mdp:
        tracking = ("MDP-AUTO-1", "https://mall.example/track/MDP-AUTO-1")  # MALL fills it in itself
    return replace(
        order,
        status=status,
        confirmed=order.confirmed or body.get("confirmed") is True,
        tracking_number=tracking[0] if tracking else order.tracking_number,
        tracking_url=tracking[1] if tracking else order.tracking_url,
        delivered_at=body.get("delivered_at", order.delivered_at),
    )


# ---- what MALL itself does to an order (each change resets it to unconfirmed) ---------------------------

MALL_ACTIONS = (
    "customer_cancel",
    "open_blocked",
    "mdp_delivered",
    "mdp_returned",
    "mdp_lost",
    "portal_return",
    "edit",
    "refuse_next",  # MALL refuses the next PUT for a reason the order's state does not show (e.g. MDP labels)
)


def mall_action(order: MallOrder, action: str) -> MallOrder | None:
    """The order after MALL's own change, or None when MALL would not do that to this order."""
    status = order.status
    if action == "customer_cancel" and status in ("blocked", "open", "shipping"):
        return replace(order, status="cancelled", confirmed=False)
    if action == "open_blocked" and status == "blocked":
        return replace(order, status="open", confirmed=False)
    if action.startswith("mdp_") and order.mdp and status == "shipped":
        final = action.removeprefix("mdp_")
        moment = "2026-03-20 10:00:00" if final == "delivered" else order.delivered_at
        return replace(order, status=final, confirmed=False, delivered_at=moment)
    if action == "portal_return" and not order.mdp and status == "shipped":
        return replace(order, status="returned", confirmed=False)
    if action == "edit" and status not in FINAL and status != "blocked":
        return replace(order, confirmed=False)
    return None
