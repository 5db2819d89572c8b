"""The two status vocabularies (ARCHITECTURE.md §1): FastCentrik's five fixed order statuses and MALL's eight.

FastCentrik statuses are parsed from their canonical code or from the Czech (or Slovak) label users see,
case-insensitively and with or without diacritics. Anything else is an error that lists what is allowed.
"""

from __future__ import annotations

import unicodedata
from enum import StrEnum


class FastCentrikStatus(StrEnum):
    PENDING = "pending"
    PARTIALLY_SETTLED = "partially_settled"
    IN_PROCESS = "in_process"
    SETTLED = "settled"
    CANCELLED = "cancelled"


class MallStatus(StrEnum):
    BLOCKED = "blocked"
    OPEN = "open"
    SHIPPING = "shipping"
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    RETURNED = "returned"
    CANCELLED = "cancelled"
    LOST = "lost"


CZECH_LABELS: dict[FastCentrikStatus, str] = {
    FastCentrikStatus.PENDING: "nevyřízená",
    FastCentrikStatus.PARTIALLY_SETTLED: "částečně vyřízená",
    FastCentrikStatus.IN_PROCESS: "vyřizuje se",
    FastCentrikStatus.SETTLED: "vyřízená",
    FastCentrikStatus.CANCELLED: "stornovaná",
}

# Other spellings seen in FastCentrik shops: the "stornováno" variant and the Slovak admin labels.
_EXTRA_LABELS: dict[str, FastCentrikStatus] = {
    "stornováno": FastCentrikStatus.CANCELLED,
    "nevybavená": FastCentrikStatus.PENDING,
    "čiastočne vybavená": FastCentrikStatus.PARTIALLY_SETTLED,
    "vybavuje sa": FastCentrikStatus.IN_PROCESS,
    "vybavená": FastCentrikStatus.SETTLED,
}


def _normalise(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text.strip().lower())
    without_marks = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return "_".join(without_marks.replace("-", " ").split())


_LOOKUP: dict[str, FastCentrikStatus] = {
    **{_normalise(status.value): status for status in FastCentrikStatus},
    **{_normalise(label): status for status, label in CZECH_LABELS.items()},
    **{_normalise(label): status for label, status in _EXTRA_LABELS.items()},
}

ALLOWED_STATUS_TEXT = ", ".join(f"{status.value} ({CZECH_LABELS[status]})" for status in FastCentrikStatus)


class UnknownStatusError(ValueError):
    """A FastCentrik status that is neither a code nor a known label."""


def parse_fastcentrik_status(raw: str) -> FastCentrikStatus:
    """Return the status named by a code or label; raise UnknownStatusError naming the allowed values."""
    found = _LOOKUP.get(_normalise(raw)) if isinstance(raw, str) else None
    if found is None:
        raise UnknownStatusError(f"unknown FastCentrik status {raw!r}; allowed: {ALLOWED_STATUS_TEXT}")
    return found


FINAL_MALL_STATUSES: frozenset[MallStatus] = frozenset(
    {MallStatus.DELIVERED, MallStatus.RETURNED, MallStatus.CANCELLED, MallStatus.LOST}
)
