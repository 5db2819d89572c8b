"""The sentences a merchant reads: attention items and deferrals that MALL's side causes (ARCHITECTURE.md §2, §6).

Each says what happened and what a person does about it; none names a secret.
"""

from __future__ import annotations

from mallbridge_core.domain.mall_side import Deferral
from mallbridge_core.domain.plans import Attention, Plan
from mallbridge_core.domain.projection import OrderState
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, FastCentrikStatus, MallStatus

_S = MallStatus


def fastcentrik_says(state: OrderState) -> str:
    """The status as the shop showed it, and its code when the label is not the code itself."""
    label, code = state.fc.status_label, str(state.fc.status)
    return code if not label or label.strip().casefold() == code else f"{label} ({code})"


def rejected(status: MallStatus, http_status: int, message: str) -> Attention:
    return Attention(
        "mall_rejected",
        f"MALL refused {status} (HTTP {http_status}: {message}). Nothing more is sent for this order until it "
        "changes in FastCentrik: correct the order there, or ask MALL Operations if MALL's state is wrong. "
        "If what MALL lacked is fixed at MALL (a MALL Delivery order's labels), resync the order to send again.",
    )


def tracking_refused(problem: str, mall_has: str | None) -> Attention:
    """The tracking corrected in FastCentrik after MALL shipped the order is one MALL would refuse."""
    kept = f"MALL keeps {mall_has!r}" if mall_has else "MALL has no tracking for it"
    return Attention(
        "tracking_refused",
        f"The tracking was corrected in FastCentrik after MALL shipped the order, but the {problem}, so the "
        f"correction was not sent ({kept}). Correct it in FastCentrik; it is sent as soon as it is fixed.",
    )


def cancelled_at_mall(state: OrderState) -> Attention:
    shipped = state.fc.status is FastCentrikStatus.SETTLED
    after = " If the parcel has already left, stop it with the carrier." if shipped else ""
    return Attention(
        "cancelled_at_mall",
        "MALL cancelled this order: do not ship it; cancel it in FastCentrik."
        f"{after} (FastCentrik says {fastcentrik_says(state)}; nothing was sent to MALL.)",
    )


def waiting_for_open(later: Plan, desired: MallStatus) -> Deferral:
    """The deferral of an order MALL has blocked: what goes out by itself once MALL opens it."""
    if later.steps:
        first = later.steps[0].status
        then = f"mallbridge sends {' → '.join(step.status.value for step in later.steps)} by itself"
    elif later.deferral is not None:
        first = later.deferral.status
        then = f"{later.deferral.status} goes out by itself once it can ({later.deferral.reason})"
    else:
        first, then = desired, f"mallbridge sends {desired} by itself"
    return Deferral(
        first,
        "waiting for MALL to open the order: MALL has it blocked (not paid or approved yet), and the partner "
        f"may not change a blocked order. Once MALL opens it, {then}.",
    )


def no_legal_path(state: OrderState, current: MallStatus, desired: MallStatus) -> Attention:
    fc = fastcentrik_says(state)
    if desired is _S.CANCELLED and current is _S.SHIPPED:
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
