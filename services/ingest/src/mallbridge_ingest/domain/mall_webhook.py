"""MALL's webhook, the pure part: the body's ids, and the `MallOrderChanged` of one order (ARCHITECTURE.md §6).

MALL POSTs a JSON array of changed order ids. Each item is a JSON number or a string of digits; an id is
kept as its decimal digits (a number as `str(n)`, a string as given), the way snapshots carry
`mall_order_id`. Duplicates are coalesced, in order of first appearance. No I/O, no clock: times and the
receipt's id come in as arguments, and a `MallOrderChanged`'s event id is derived from its content.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from mallbridge_ingest.domain.detect import event_id_for
from mallbridge_ingest.domain.state import OrderState
from mallbridge_schema.events import MAX_WEBHOOK_IDS, MallOrderChanged

MAX_ID_DIGITS = 20  # what a snapshot's mall_order_id may have: an id longer than that names no known order
ALLOWED_BODY = (
    f"a JSON array of 0 to {MAX_WEBHOOK_IDS} MALL order ids, each a JSON number or a string of 1 to "
    f"{MAX_ID_DIGITS} digits, e.g. [10085339302, 10085339303]"
)

BODY_SCHEMA: dict[str, Any] = {
    "type": "array",
    "maxItems": MAX_WEBHOOK_IDS,
    "items": {
        "anyOf": [
            {"type": "integer", "minimum": 0, "maximum": 10**MAX_ID_DIGITS - 1},
            {"type": "string", "pattern": f"^[0-9]{{1,{MAX_ID_DIGITS}}}$"},
        ]
    },
    "description": ALLOWED_BODY,
    "example": [10085339302, 10085339303],
}
"""The body as JSON Schema (the OpenAPI document's request body): what `webhook_ids` takes."""


class WebhookBodyError(ValueError):
    """The body is not what MALL sends: `field` says where (`body`, `body[3]`), `allowed` what is allowed."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}; allowed: {ALLOWED_BODY}")
        self.field = field
        self.problem = problem
        self.allowed = ALLOWED_BODY


def _as_id(item: Any) -> str | None:
    if isinstance(item, bool):
        return None  # JSON true/false: a bool is an int to Python, never an id
    if isinstance(item, int):
        text = str(item) if 0 <= item < 10**MAX_ID_DIGITS else ""
    elif isinstance(item, str):
        text = item
    else:
        return None
    return text if 1 <= len(text) <= MAX_ID_DIGITS and text.isascii() and text.isdigit() else None


def _kind(item: Any) -> str:
    if item is None:
        return "null"
    if isinstance(item, bool):
        return "a boolean"
    if isinstance(item, (int, float)):
        return "a number"
    if isinstance(item, str):
        return "a string"
    return "an array" if isinstance(item, list) else "an object"


def _describe(item: Any) -> str:
    shown = repr(item) if isinstance(item, (int, float, str)) and not isinstance(item, bool) else ""
    if len(shown) > 40:
        shown = f"{shown[:37]}..."
    return f"{_kind(item)} ({shown}), not an order id" if shown else f"{_kind(item)}, not an order id"


def webhook_ids(data: Any) -> tuple[str, ...]:
    """The ids of a parsed webhook body, coalesced in order of first appearance.

    Raises WebhookBodyError naming the first problem: not an array, more than MAX_WEBHOOK_IDS items, or
    the index of the first item that is not an id.
    """
    if not isinstance(data, list):
        raise WebhookBodyError("body", f"{_kind(data)}, not an array")
    if len(data) > MAX_WEBHOOK_IDS:
        raise WebhookBodyError("body", f"{len(data)} ids in one delivery, more than {MAX_WEBHOOK_IDS}")
    ids: dict[str, None] = {}
    for index, item in enumerate(data):
        order_id = _as_id(item)
        if order_id is None:
            raise WebhookBodyError(f"body[{index}]", _describe(item))
        ids[order_id] = None
    return tuple(ids)


def mall_order_changed(
    state: OrderState,
    *,
    tenant_id: str,
    order_number: str,
    receipt_id: UUID,
    occurred_at: datetime,
    recorded_at: datetime,
) -> tuple[MallOrderChanged, OrderState]:
    """The event saying MALL changed the order (seq: the order's next), and the order's state after it.

    `occurred_at` is when MALL's webhook said so (the receipt's time).
    """
    seq = state.seq + 1
    payload: dict[str, object] = {"receipt_id": str(receipt_id)}
    event = MallOrderChanged(
        event_id=UUID(bytes=event_id_for(tenant_id, order_number, seq, "MallOrderChanged", payload)),
        tenant_id=tenant_id,
        order_number=order_number,
        mall_order_id=state.mall_order_id,
        occurred_at=occurred_at,
        recorded_at=recorded_at,
        seq=seq,
        receipt_id=receipt_id,
    )
    return event, state._replace(seq=seq)
