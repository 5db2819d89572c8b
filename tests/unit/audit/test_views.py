"""The fast msgspec views stay a faithful view of the schema's events."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from mallbridge_audit.views import (
    OperatorFact,
    OrderFact,
    RequestBody,
    SyncFact,
    UnknownOrderView,
    decode_order_event_full,
    decode_order_fact,
    decode_sync_event_full,
    decode_sync_fact,
    order_fact_from_event,
    sync_fact_from_event,
)
from mallbridge_schema.events import (
    OPERATOR_EVENT_TYPES,
    ORDER_EVENT_TYPES,
    SYNC_EVENT_TYPES,
    MallStateObserved,
    MallWebhookReceived,
    MdpFlagSet,
    UnknownMallOrder,
)
from mallbridge_schema.serde import EventDecodeError, encode_event

AT = datetime(2026, 10, 5, 8, 0, tzinfo=UTC)
ENV = {
    "tenant_id": "acme",
    "order_number": "N-1",
    "mall_order_id": "123456789012",
    "occurred_at": AT,
    "recorded_at": AT,
}


def test_every_view_field_is_a_field_of_the_schema() -> None:
    order_fields = {name for t in ORDER_EVENT_TYPES for name in t.model_fields}
    sync_fields = {name for t in SYNC_EVENT_TYPES for name in t.model_fields}
    assert set(OrderFact.__struct_fields__) <= order_fields
    assert set(SyncFact.__struct_fields__) <= sync_fields
    assert set(RequestBody.__struct_fields__) <= {"status", "tracking_number", "tracking_url", "delivered_at"}
    assert set(OperatorFact.__struct_fields__) <= {name for t in OPERATOR_EVENT_TYPES for name in t.model_fields}
    assert set(UnknownOrderView.__struct_fields__) <= set(UnknownMallOrder.model_fields)


def test_fast_and_schema_paths_agree_on_the_remaining_types() -> None:
    mdp = MdpFlagSet(event_id=uuid.uuid4(), seq=3, mdp=True, **ENV)
    observed = MallStateObserved(
        event_id=uuid.uuid4(),
        based_on_seq=2,
        request_no=4,
        status="shipped",
        confirmed=True,
        tracking_number="T1",
        tracking_url="https://t/1",
        **ENV,
    )
    assert decode_order_fact(encode_event(mdp)) == order_fact_from_event(mdp)
    assert decode_sync_fact(encode_event(observed)) == sync_fact_from_event(observed)
    assert decode_order_event_full(encode_event(mdp)) == mdp
    assert decode_sync_event_full(encode_event(observed)) == observed


def test_an_unexpected_shape_goes_through_the_schema_decoder() -> None:
    mdp = MdpFlagSet(event_id=uuid.uuid4(), seq=3, mdp=True, **ENV)
    raw = msgspec.json.encode({**msgspec.json.decode(encode_event(mdp)), "extra": {"nested": [1, 2]}})
    assert decode_order_fact(raw) == order_fact_from_event(mdp)  # unknown fields ignored on both paths


def test_a_webhook_receipt_is_a_fact_about_no_order() -> None:
    receipt = MallWebhookReceived(
        event_id=uuid.uuid4(), tenant_id="acme", occurred_at=AT, recorded_at=AT, order_ids=("123456789012",)
    )
    raw = encode_event(receipt)
    fact = decode_order_fact(raw)
    assert (fact.type, fact.order_number, fact.seq) == ("MallWebhookReceived", "", 0)
    assert fact == order_fact_from_event(receipt)
    assert decode_order_event_full(raw) == receipt


@pytest.mark.parametrize(
    "change",
    [
        {"order_number": "N-1"},  # a receipt is about no order: folded into N-1, it would count as its event
        {"mall_order_id": "123456789012"},
        {"order_ids": ["123456789012", "123456789012"]},  # not coalesced
        {"unknown_ids": ["999999999999"]},  # not among the ids of the delivery
        {"order_ids": ["12345678901x"]},
        {"order_ids": ["٣٠٠"]},  # digits, not ASCII ones
        {"order_ids": [str(100000000000 + i) for i in range(1001)]},
    ],
)
def test_a_receipt_the_schema_refuses_the_fast_view_does_not_take(change: dict[str, object]) -> None:
    receipt = MallWebhookReceived(
        event_id=uuid.uuid4(), tenant_id="acme", occurred_at=AT, recorded_at=AT, order_ids=("123456789012",)
    )
    raw = msgspec.json.encode({**msgspec.json.decode(encode_event(receipt)), **change})
    with pytest.raises(EventDecodeError):
        decode_order_event_full(raw)
    with pytest.raises(EventDecodeError):
        decode_order_fact(raw)
