"""Validation errors name the order, the field and what is allowed."""

from __future__ import annotations

import pytest

from mallbridge_ingest.adapters.validation import validate_many, validate_snapshot
from mallbridge_schema.snapshot import OrderSnapshot

GOOD = {"order_number": "A-17", "mall_order_id": "1234567890123", "status": "pending"}


def test_a_valid_snapshot_passes_and_ids_become_text() -> None:
    result = validate_snapshot(0, {**GOOD, "mall_order_id": 12345678901234})
    assert isinstance(result, OrderSnapshot)
    assert result.mall_order_id == "12345678901234"


@pytest.mark.parametrize(
    ("change", "field", "allowed_part"),
    [
        ({"status": "done"}, "status", "settled (vyřízená)"),
        ({"mall_order_id": "12a"}, "mall_order_id", "digits"),
        ({"mall_order_id": None}, "mall_order_id", "digits"),
        ({"delivered_at": "20.11.2026"}, "delivered_at", "YYYY-MM-DD"),
        ({"changed_at": "2026-11-20T10:00:00"}, "changed_at", "with offset"),
        ({"changed_at": 1700000000}, "changed_at", "ISO 8601"),  # not read as a Unix time
        ({"changed_at": "1700000000"}, "changed_at", "ISO 8601"),
        ({"delivered_at": "1999-12-31"}, "delivered_at", "the years 2000 to 2999"),
        ({"mdp": "maybe"}, "mdp", "true or false"),
        ({"mdp": "yes"}, "mdp", "true or false"),  # JSON's true or false only
        ({"mdp": 1}, "mdp", "true or false"),
        ({"order_number": ""}, "order_number", "1 to 100"),
        ({"tracking_number": 5}, "tracking_number", "text"),
    ],
)
def test_each_problem_names_field_and_allowed_values(change: dict[str, object], field: str, allowed_part: str) -> None:
    result = validate_snapshot(3, {**GOOD, **change})
    assert isinstance(result, list)
    (r,) = result
    assert (r.index, r.field) == (3, field)
    assert allowed_part in r.allowed
    text = r.describe("orders[3]")
    assert text.startswith(
        "orders[3] (order_number 'A-17')" if field != "order_number" else "orders[3] (no order_number)"
    )
    assert f": {field}: " in text
    assert "; allowed: " in text


def test_missing_fields_are_all_reported() -> None:
    result = validate_snapshot(0, {"order_number": "X"})
    assert isinstance(result, list)
    assert {r.field for r in result} == {"mall_order_id", "status"}
    assert all(r.order_number == "X" for r in result)


@pytest.mark.parametrize("raw", [5, "text", None, [GOOD]])
def test_non_objects_are_refused(raw: object) -> None:
    result = validate_snapshot(0, raw)
    assert isinstance(result, list)
    assert result[0].field == "(snapshot)"
    assert result[0].order_number is None


def test_unknown_fields_are_ignored() -> None:
    assert isinstance(validate_snapshot(0, {**GOOD, "note": "x"}), OrderSnapshot)


def test_validate_many_keeps_indexes() -> None:
    valid, rejected = validate_many([(10, GOOD), (11, {**GOOD, "status": "?"}), (12, GOOD)])
    assert [i for i, _ in valid] == [10, 12]
    assert [r.index for r in rejected] == [11]
