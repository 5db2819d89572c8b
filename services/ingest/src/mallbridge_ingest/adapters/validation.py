"""Snapshot validation at the edge: raw JSON-like values → OrderSnapshot, or rejections that name the
order, the field and what is allowed (ARCHITECTURE.md §4, contract)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from mallbridge_ingest.domain import Rejection
from mallbridge_schema.snapshot import OrderSnapshot
from mallbridge_schema.statuses import ALLOWED_STATUS_TEXT

DELIVERY_FORMS = "YYYY-MM-DD, or an ISO 8601 date-time with or without offset (e.g. 2026-11-20T14:05:00+01:00)"
FIELD_HINTS: dict[str, str] = {
    "order_number": "text of 1 to 100 characters",
    "mall_order_id": 'MALL\'s order id: 1 to 20 digits, as a string (e.g. "12345678901")',
    "status": ALLOWED_STATUS_TEXT,
    "delivered_at": f"null, {DELIVERY_FORMS}",
    "tracking_number": "text or null",
    "tracking_url": "text or null",
    "changed_at": "null or an ISO 8601 date-time with offset (e.g. 2026-11-20T14:05:00+01:00)",
    "mdp": "true or false",
}
SNAPSHOT_HINT = "a JSON object with order_number, mall_order_id, status and the optional snapshot fields"

Indexed = tuple[int, OrderSnapshot]
_VALIDATOR = OrderSnapshot.__pydantic_validator__


def _order_number(raw: Any) -> str | None:
    value = raw.get("order_number") if isinstance(raw, dict) else None
    if isinstance(value, str | int) and not isinstance(value, bool):
        text = str(value).strip()
        return text[:100] or None
    return None


def _rejection(index: int, order_number: str | None, error: ErrorDetails) -> Rejection:
    field = ".".join(str(part) for part in error["loc"]) or "(snapshot)"
    message = error["msg"].removeprefix("Value error, ")
    problem, sep, allowed = message.partition("; allowed: ")
    if not sep:
        allowed = FIELD_HINTS.get(field.split(".")[0], SNAPSHOT_HINT)
    return Rejection(index, order_number, field, problem, allowed)


def validate_snapshot(index: int, raw: Any) -> OrderSnapshot | list[Rejection]:
    """One snapshot, or one rejection per problem found (all fields are checked, not just the first)."""
    if not isinstance(raw, dict):
        return [Rejection(index, None, "(snapshot)", f"not an object but {type(raw).__name__}", SNAPSHOT_HINT)]
    try:
        snapshot: OrderSnapshot = _VALIDATOR.validate_python(raw)  # model_validate without its Python wrapper
        return snapshot
    except ValidationError as exc:
        order_number = _order_number(raw)
        return [_rejection(index, order_number, error) for error in exc.errors(include_url=False)]


def validate_many(items: Iterable[tuple[int, Any]]) -> tuple[list[Indexed], list[Rejection]]:
    """Validate `(index, raw)` pairs; valid snapshots keep their index."""
    valid: list[Indexed] = []
    rejected: list[Rejection] = []
    for index, raw in items:
        result = validate_snapshot(index, raw)
        if isinstance(result, OrderSnapshot):
            valid.append((index, result))
        else:
            rejected.extend(result)
    return valid, rejected
