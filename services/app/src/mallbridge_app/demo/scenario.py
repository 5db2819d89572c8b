"""The scripted orders of the demo: what is pushed, in which steps, and what must come out of it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mallbridge_schema.mall_format import PRAGUE

TRACKING = {"tracking_number": "DR1234567-CZ", "tracking_url": "https://tracking.example/DR1234567-CZ"}
# The happy path's parcel is delivered today (Prague): reported at once, so it counts as on time in the audit
# and the console (a fixed past date would be a late report, and the demo's on-time figure a breach).
DELIVERED_TODAY = datetime.now(PRAGUE).date().isoformat()


@dataclass(frozen=True)
class Step:
    """One push of a snapshot, or one change MALL makes (`mall_action`, a sandbox action that MALL's webhook
    then tells ingest about); then what MALL's status must become (None: unchanged, wait for a note)."""

    snapshot: dict[str, Any] | None = None
    expect_mall: str | None = None
    expect_note: str | None = None  # a sync event type to wait for (StepDeferred, AttentionNeeded)
    push_twice: bool = False
    mall_action: str | None = None

    def reached(self, order: str, mall_status: str | None, last_event: dict[str, str]) -> bool:
        """Whether what this step waits for has happened (a step that expects nothing is done at once)."""
        if self.expect_mall:
            return mall_status == self.expect_mall
        if self.expect_note:
            return last_event.get(order, "").startswith(self.expect_note)
        return True


@dataclass(frozen=True)
class Story:
    order_number: str
    mall_order_id: str
    title: str
    steps: tuple[Step, ...]
    final_mall: str
    expect_puts: tuple[str, ...]
    expect_attention: str | None = None
    mdp: bool = False
    mall_status: str = "open"  # the order's status when MALL creates it
    expect_deferral: str | None = None  # words of a deferral the story must have recorded
    extra: dict[str, Any] = field(default_factory=dict)


def _snap(order: str, mall_id: str, status: str, **fields: Any) -> dict[str, Any]:
    return {"order_number": order, "mall_order_id": mall_id, "status": status, **fields}


STORIES: tuple[Story, ...] = (
    Story(
        "D-1001",
        "10085339302",
        "happy path to delivered",
        (
            Step(_snap("D-1001", "10085339302", "nevyřízená")),
            Step(_snap("D-1001", "10085339302", "vyřizuje se"), expect_mall="shipping"),
            Step(_snap("D-1001", "10085339302", "vyřízená", **TRACKING), expect_mall="shipped"),
            Step(
                _snap("D-1001", "10085339302", "vyřízená", delivered_at=DELIVERED_TODAY, **TRACKING),
                expect_mall="delivered",
            ),
        ),
        final_mall="delivered",
        expect_puts=("shipping", "shipped", "delivered"),
    ),
    Story(
        "D-1002",
        "10085339303",
        "cancel while in process",
        (
            Step(_snap("D-1002", "10085339303", "pending")),
            Step(_snap("D-1002", "10085339303", "in_process"), expect_mall="shipping"),
            Step(_snap("D-1002", "10085339303", "stornovaná"), expect_mall="cancelled"),
        ),
        final_mall="cancelled",
        expect_puts=("shipping", "cancelled"),
    ),
    Story(
        "D-1003",
        "10085339304",
        "cancel after shipped: refused and flagged",
        (
            Step(_snap("D-1003", "10085339304", "settled", **TRACKING), expect_mall="shipped"),
            Step(_snap("D-1003", "10085339304", "cancelled", **TRACKING), expect_note="AttentionNeeded"),
        ),
        final_mall="shipped",
        expect_puts=("shipped",),
        expect_attention="cancel_after_shipped",
    ),
    Story(
        "D-1004",
        "10085339305",
        "shipped without tracking: deferred, then completed",
        (
            Step(_snap("D-1004", "10085339305", "settled"), expect_note="StepDeferred"),
            Step(_snap("D-1004", "10085339305", "settled", **TRACKING), expect_mall="shipped"),
        ),
        final_mall="shipped",
        expect_puts=("shipped",),
    ),
    Story(
        "D-1005",
        "10085339306",
        "MALL Delivery (MDP) order",
        (Step(_snap("D-1005", "10085339306", "settled", mdp=True), expect_mall="shipped"),),
        final_mall="shipped",
        expect_puts=("shipping", "shipped"),
        mdp=True,
    ),
    Story(
        "D-1006",
        "10085339307",
        "duplicate push: nothing sent twice",
        (Step(_snap("D-1006", "10085339307", "in_process"), expect_mall="shipping", push_twice=True),),
        final_mall="shipping",
        expect_puts=("shipping",),
    ),
    Story(
        "D-1007",
        "10085339308",
        "customer cancels at MALL: nothing sent, do not ship",
        (
            Step(_snap("D-1007", "10085339308", "nevyřízená")),
            Step(mall_action="customer-cancel", expect_note="AttentionNeeded"),
            Step(_snap("D-1007", "10085339308", "vyřizuje se")),
        ),
        final_mall="cancelled",
        expect_puts=(),
        expect_attention="cancelled_at_mall",
    ),
    Story(
        "D-1008",
        "10085339309",
        "blocked at MALL until paid: deferred, sent once MALL opens it",
        (
            Step(_snap("D-1008", "10085339309", "vyřizuje se"), expect_note="StepDeferred"),
            Step(mall_action="open", expect_mall="shipping"),
        ),
        final_mall="shipping",
        expect_puts=("shipping",),
        mall_status="blocked",
        expect_deferral="waiting for MALL to open the order",
    ),
)

MARKER = Story(
    "D-9999",
    "10085339399",
    "marker: pushed last; once MALL has its PUT, the publisher has consumed every story above",
    (Step(_snap("D-9999", "10085339399", "in_process"), expect_mall="shipping"),),
    final_mall="shipping",
    expect_puts=("shipping",),
)
