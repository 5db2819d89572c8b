"""The words the console shows a person: FastCentrik statuses in Czech and English as the shop's staff see
them, MALL statuses with what they mean, the sides of a timeline."""

from __future__ import annotations

from mallbridge_schema.statuses import CZECH_LABELS, FastCentrikStatus, MallStatus

ENGLISH_LABELS: dict[FastCentrikStatus, str] = {
    FastCentrikStatus.PENDING: "pending",
    FastCentrikStatus.PARTIALLY_SETTLED: "partially settled",
    FastCentrikStatus.IN_PROCESS: "in process",
    FastCentrikStatus.SETTLED: "settled",
    FastCentrikStatus.CANCELLED: "cancelled",
}

MALL_MEANINGS: dict[MallStatus, str] = {
    MallStatus.BLOCKED: "not paid or approved yet; the partner may not change it",
    MallStatus.OPEN: "new at MALL",
    MallStatus.SHIPPING: "being fulfilled",
    MallStatus.SHIPPED: "handed to the carrier",
    MallStatus.DELIVERED: "the customer took the parcel (final)",
    MallStatus.RETURNED: "the parcel came back (final)",
    MallStatus.CANCELLED: "cancelled (final)",
    MallStatus.LOST: "lost by MALL Delivery (final)",
}

STATUS_BY: dict[str, str] = {
    "us": "set by mallbridge",
    "mall": "set by MALL",
    "assumed": "assumed: MALL not read yet",
}


def fastcentrik_label(status: FastCentrikStatus | None) -> str:
    """`vyřizuje se / in process`: the Czech label the shop shows, then the English one."""
    if status is None:
        return "—"
    return f"{CZECH_LABELS[status]} / {ENGLISH_LABELS[status]}"


def mall_label(status: MallStatus | None) -> str:
    return "—" if status is None else f"{status.value} · {MALL_MEANINGS[status]}"
