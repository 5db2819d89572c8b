"""Events on the wire (ARCHITECTURE.md §3): round trips, tolerant reading, clear errors and the upcaster mechanism."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from pydantic import BaseModel

from mallbridge_schema import serde
from mallbridge_schema.events import (
    OPERATOR_EVENT_TYPES,
    ORDER_EVENT_TYPES,
    SYNC_EVENT_TYPES,
    AttentionNeeded,
    Event,
    MallStateObserved,
    MallStatusUpdated,
    MallWebhookReceived,
    MdpFlagSet,
    OrderFirstSeen,
    OrderResyncRequested,
    OrderStatusChanged,
    StepDeferred,
    UnknownMallOrder,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.examples import AT, ENVELOPE, OPERATOR_EXAMPLES, ORDER_EXAMPLES, SYNC_EXAMPLES
from mallbridge_schema.serde import (
    EventDecodeError,
    decode_operator_event,
    decode_order_event,
    decode_sync_event,
    encode_event,
    event_key,
    topic_name,
)
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

ALL_EXAMPLES = ORDER_EXAMPLES + SYNC_EXAMPLES + OPERATOR_EXAMPLES
DECODERS: dict[int, Callable[[bytes], Any]] = {id(e): decode_order_event for e in ORDER_EXAMPLES}
DECODERS |= {id(e): decode_sync_event for e in SYNC_EXAMPLES}
DECODERS |= {id(e): decode_operator_event for e in OPERATOR_EXAMPLES}


def test_examples_cover_every_event_type() -> None:
    assert {type(e) for e in ORDER_EXAMPLES} == set(ORDER_EVENT_TYPES)
    assert {type(e) for e in SYNC_EXAMPLES} == set(SYNC_EVENT_TYPES)
    assert {type(e) for e in OPERATOR_EXAMPLES} == set(OPERATOR_EVENT_TYPES)


@pytest.mark.parametrize("event", OPERATOR_EXAMPLES, ids=lambda e: type(e).__name__)
def test_operator_event_round_trip(event: Event) -> None:
    raw = encode_event(event)
    decoded = decode_operator_event(raw)
    assert decoded == event
    assert type(decoded) is type(event)
    assert encode_event(decoded) == raw


@pytest.mark.parametrize("event", ORDER_EXAMPLES, ids=lambda e: type(e).__name__)
def test_order_event_round_trip(event: Event) -> None:
    raw = encode_event(event)
    decoded = decode_order_event(raw)
    assert decoded == event
    assert type(decoded) is type(event)
    assert encode_event(decoded) == raw


@pytest.mark.parametrize("event", SYNC_EXAMPLES, ids=lambda e: type(e).__name__)
def test_sync_event_round_trip(event: Event) -> None:
    raw = encode_event(event)
    decoded = decode_sync_event(raw)
    assert decoded == event
    assert type(decoded) is type(event)
    assert encode_event(decoded) == raw


@pytest.mark.parametrize("event", ALL_EXAMPLES, ids=lambda e: type(e).__name__)
def test_wire_form_is_utf8_json_with_the_envelope(event: Event) -> None:
    data = json.loads(encode_event(event).decode("utf-8"))
    assert data["type"] == type(event).__name__
    assert data["schema_version"] == 1
    assert datetime.fromisoformat(data["occurred_at"]) == AT
    if isinstance(event, MallWebhookReceived | UnknownMallOrdersObserved):  # tenant-level: key "{tenant}:"
        assert (data["order_number"], data["mall_order_id"]) == ("", "")
        assert event_key(event.tenant_id, event.order_number) == b"acme:"
        return
    assert data["mall_order_id"] == "10085339302"
    assert data["event_id"] == "6f1c2a8e-1d0b-4c55-9a77-0e6a3b1f2d10"


@pytest.mark.parametrize("event", ALL_EXAMPLES, ids=lambda e: type(e).__name__)
def test_events_are_frozen(event: BaseModel) -> None:
    with pytest.raises(ValueError, match="frozen"):
        event.tenant_id = "other"  # type: ignore[attr-defined]


def test_a_topic_decoder_refuses_the_other_topics_events() -> None:
    with pytest.raises(EventDecodeError, match=r"unknown event type 'MallStatusUpdated' for topic order-events\.v1"):
        decode_order_event(encode_event(SYNC_EXAMPLES[1]))
    with pytest.raises(EventDecodeError, match=r"unknown event type 'OrderFirstSeen' for topic sync-events\.v1"):
        decode_sync_event(encode_event(ORDER_EXAMPLES[0]))
    with pytest.raises(EventDecodeError, match=r"unknown event type 'AttentionNeeded' for topic operator-events\.v1"):
        decode_operator_event(encode_event(SYNC_EXAMPLES[6]))
    with pytest.raises(EventDecodeError, match=r"unknown event type 'OrderReturnRequested' for topic sync-events"):
        decode_sync_event(encode_event(OPERATOR_EXAMPLES[0]))


# ---- tolerant reading: events written by an older (or newer) writer ----------------------------------


def _wire(event: Event) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(encode_event(event))
    return data


def test_an_older_order_event_without_newer_optional_fields_reads() -> None:
    data = _wire(ORDER_EXAMPLES[0])
    for newer in ("delivered_at", "tracking_number", "tracking_url", "mdp", "schema_version"):
        del data[newer]
    event = decode_order_event(json.dumps(data).encode())
    assert isinstance(event, OrderFirstSeen)
    assert (event.delivered_at, event.tracking_number, event.tracking_url, event.mdp) == (None, None, None, False)
    assert event.schema_version == 1
    assert event.status is FastCentrikStatus.SETTLED


def test_an_older_sync_event_without_newer_optional_fields_reads() -> None:
    data = _wire(SYNC_EXAMPLES[1])  # MallStatusUpdated
    del data["attempts"], data["based_on_seq"]
    event = decode_sync_event(json.dumps(data).encode())
    assert isinstance(event, MallStatusUpdated)
    assert (event.attempts, event.based_on_seq) == (1, 0)

    deferred = _wire(SYNC_EXAMPLES[5])  # StepDeferred
    del deferred["until"]
    step = decode_sync_event(json.dumps(deferred).encode())
    assert isinstance(step, StepDeferred)
    assert step.until is None

    observed = _wire(SYNC_EXAMPLES[4])  # MallStateObserved
    for newer in ("request_no", "tracking_number", "tracking_url", "delivered_at", "source", "changed", "mdp"):
        del observed[newer]
    seen = decode_sync_event(json.dumps(observed).encode())
    assert isinstance(seen, MallStateObserved)
    assert (seen.request_no, seen.tracking_number, seen.delivered_at) == (0, None, None)
    # an observation written before `source` existed was always the read after an unknown outcome
    assert (seen.source, seen.changed, seen.mdp, seen.confirmed) == ("outcome_unknown", (), None, True)
    del observed["confirmed"]
    unsaid = decode_sync_event(json.dumps(observed).encode())
    assert isinstance(unsaid, MallStateObserved)
    assert unsaid.confirmed is None  # the source did not say

    attention = _wire(SYNC_EXAMPLES[6])
    del attention["scope"]
    needed = decode_sync_event(json.dumps(attention).encode())
    assert isinstance(needed, AttentionNeeded)
    assert needed.scope == "order"


@pytest.mark.parametrize("event", ALL_EXAMPLES, ids=lambda e: type(e).__name__)
def test_unknown_extra_fields_are_ignored(event: Event) -> None:
    data = {**_wire(event), "carrier": "PPL", "nested": {"x": [1, 2]}, "schema_version": 2}
    decoded = DECODERS[id(event)](json.dumps(data).encode())
    assert decoded.model_dump(exclude={"schema_version"}) == event.model_dump(exclude={"schema_version"})
    assert not hasattr(decoded, "carrier")


@pytest.mark.parametrize("event", ORDER_EXAMPLES[:-1], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("mall_order_id", ["", "10085339302/../../partners", "1008533930x", "１２３", "1" * 33])
def test_an_order_event_whose_mall_order_id_is_not_digits_is_a_decode_error(event: Event, mall_order_id: str) -> None:
    # the publisher puts the id in MALL's URL: "" sent `PUT /orders/` and then GETs without end
    data = {**_wire(event), "mall_order_id": mall_order_id}
    with pytest.raises(EventDecodeError, match="mall_order_id"):
        decode_order_event(json.dumps(data).encode())


def test_an_operator_event_without_a_reason_reads() -> None:
    data = _wire(OPERATOR_EXAMPLES[1])
    del data["reason"]
    event = decode_operator_event(json.dumps(data).encode())
    assert isinstance(event, OrderResyncRequested)
    assert event.reason == ""


# ---- clear errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"order_ids": ["123", "12a"]}, "order_ids.1"),
        ({"order_ids": [123]}, "order_ids.0"),
        ({"order_ids": ["1"] * 2}, "coalesced"),
        ({"order_ids": [str(n) for n in range(1001)]}, "at most 1000"),
        ({"unknown_ids": ["555"]}, "unknown_ids must be among order_ids; not there: 555"),
        ({"order_number": "FC-1"}, "order_number"),
        ({"mall_order_id": "1"}, "mall_order_id"),
    ],
)
def test_a_malformed_webhook_receipt_names_what_is_wrong(change: dict[str, Any], match: str) -> None:
    data = {**_wire(ORDER_EXAMPLES[-1]), **change}
    with pytest.raises(EventDecodeError, match=match):
        decode_order_event(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"by": ""}, "by"),
        ({"by": "   "}, "by"),
        ({"code": ""}, "code"),
    ],
)
def test_an_operator_event_needs_who_and_a_code(change: dict[str, Any], match: str) -> None:
    data = {**_wire(OPERATOR_EXAMPLES[2]), **change}
    with pytest.raises(EventDecodeError, match=match):
        decode_operator_event(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("change", "match"),
    [({"source": "guess"}, "source"), ({"changed": ["status", "colour"]}, "changed.1")],
)
def test_an_observation_names_a_known_source_and_fields(change: dict[str, Any], match: str) -> None:
    data = {**_wire(SYNC_EXAMPLES[4]), **change}
    with pytest.raises(EventDecodeError, match=match):
        decode_sync_event(json.dumps(data).encode())


def test_unknown_type_is_a_clear_error() -> None:
    data = {**_wire(ORDER_EXAMPLES[0]), "type": "OrderVanished"}
    with pytest.raises(EventDecodeError) as caught:
        decode_order_event(json.dumps(data).encode())
    message = str(caught.value)
    assert "unknown event type 'OrderVanished'" in message
    assert "order-events.v1" in message
    for known in ("OrderFirstSeen", "OrderStatusChanged", "DeliveryDateSet", "TrackingAssigned", "MdpFlagSet"):
        assert known in message


def test_missing_type_is_a_clear_error() -> None:
    data = _wire(SYNC_EXAMPLES[0])
    del data["type"]
    with pytest.raises(EventDecodeError, match=r"unknown event type None for topic sync-events\.v1"):
        decode_sync_event(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        (b"\xff\xfe\x00garbage", "not UTF-8 JSON"),
        (b"{not json", "not UTF-8 JSON"),
        (b"[1, 2]", "not a JSON object"),
        (b'"OrderFirstSeen"', "not a JSON object"),
    ],
)
def test_undecodable_bytes(raw: bytes, match: str) -> None:
    with pytest.raises(EventDecodeError, match=match):
        decode_order_event(raw)


def test_a_missing_required_field_names_it() -> None:
    data = _wire(ORDER_EXAMPLES[1])
    del data["to_status"]
    with pytest.raises(EventDecodeError, match="to_status"):
        decode_order_event(json.dumps(data).encode())


@pytest.mark.parametrize("bad", ["one", None, 1.5, True, [1]])
def test_a_malformed_schema_version_is_a_decode_error(bad: object) -> None:
    data = {**_wire(ORDER_EXAMPLES[1]), "schema_version": bad}
    with pytest.raises(EventDecodeError, match="schema_version"):
        decode_order_event(json.dumps(data).encode())


def test_a_naive_timestamp_is_refused() -> None:
    data = {**_wire(ORDER_EXAMPLES[1]), "occurred_at": "2026-03-29T10:00:00"}
    with pytest.raises(EventDecodeError, match="occurred_at"):
        decode_order_event(json.dumps(data).encode())


# ---- the upcaster mechanism -----------------------------------------------------------------------------


@pytest.fixture
def upcasters() -> Iterator[dict[tuple[str, int], serde.Upcaster]]:
    """The live registry, restored to exactly what it was afterwards."""
    saved = dict(serde.UPCASTERS)
    try:
        yield serde.UPCASTERS
    finally:
        serde.UPCASTERS.clear()
        serde.UPCASTERS.update(saved)


def _v0_status_changed() -> dict[str, Any]:
    """A fake version-0 OrderStatusChanged: one field `change` holding "from>to", labels not yet recorded."""
    data = _wire(ORDER_EXAMPLES[1])
    for field in ("from_status", "to_status", "status_label"):
        del data[field]
    return {**data, "schema_version": 0, "change": "pending>in_process"}


def _v0_to_v1(data: dict[str, Any]) -> dict[str, Any]:
    before, after = data.pop("change").split(">")
    return {**data, "from_status": before, "to_status": after, "status_label": after, "schema_version": 1}


def test_an_old_version_without_its_upcaster_fails_validation(upcasters: dict[Any, Any]) -> None:
    with pytest.raises(EventDecodeError, match="from_status"):
        decode_order_event(json.dumps(_v0_status_changed()).encode())


def test_a_registered_upcaster_upgrades_an_old_event(upcasters: dict[Any, Any]) -> None:
    upcasters[("OrderStatusChanged", 0)] = _v0_to_v1
    event = decode_order_event(json.dumps(_v0_status_changed()).encode())
    assert isinstance(event, OrderStatusChanged)
    assert (event.from_status, event.to_status) == (FastCentrikStatus.PENDING, FastCentrikStatus.IN_PROCESS)
    assert event.schema_version == 1
    assert event.seq == 2


def test_an_upcaster_applies_only_to_its_type_and_version(upcasters: dict[Any, Any]) -> None:
    calls: list[dict[str, Any]] = []

    def spy(data: dict[str, Any]) -> dict[str, Any]:
        calls.append(data)
        return data

    upcasters[("OrderStatusChanged", 0)] = spy
    decode_order_event(encode_event(ORDER_EXAMPLES[1]))  # version 1: already current
    decode_order_event(json.dumps({**_wire(ORDER_EXAMPLES[2]), "schema_version": 0}).encode())  # another type
    assert calls == []


def test_upcasters_chain_and_may_rename_the_type(upcasters: dict[Any, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    # Pretend the current version is 3: v1 "MdpChanged" was renamed to MdpFlagSet in v2, v2 → v3 adds nothing.
    monkeypatch.setattr(serde, "SCHEMA_VERSION", 3)
    seen: list[tuple[str, int]] = []

    def rename(data: dict[str, Any]) -> dict[str, Any]:
        seen.append((data["type"], data["schema_version"]))
        return {**data, "type": "MdpFlagSet", "mdp": data.pop("flag")}

    def noop_forgetting_the_version(data: dict[str, Any]) -> dict[str, Any]:
        seen.append((data["type"], data["schema_version"]))
        return data  # leaves schema_version at 2: the decoder still moves on (no endless loop)

    upcasters[("MdpChanged", 1)] = rename
    upcasters[("MdpFlagSet", 2)] = noop_forgetting_the_version
    old = {**_wire(ORDER_EXAMPLES[6]), "type": "MdpChanged", "flag": True, "schema_version": 1}
    del old["mdp"]
    event = decode_order_event(json.dumps(old).encode())
    assert isinstance(event, MdpFlagSet)
    assert event.mdp is True
    assert event.schema_version == 3
    assert seen == [("MdpChanged", 1), ("MdpFlagSet", 2)]


def test_a_failing_upcaster_is_a_decode_error(upcasters: dict[Any, Any]) -> None:
    upcasters[("OrderStatusChanged", 0)] = _v0_to_v1
    broken = _v0_status_changed()
    del broken["change"]
    with pytest.raises(EventDecodeError, match="cannot upcast OrderStatusChanged v0"):
        decode_order_event(json.dumps(broken).encode())


def test_the_registry_is_restored() -> None:
    # Runs after the upcaster tests in file order: nothing they registered is left behind.
    assert ("OrderStatusChanged", 0) not in serde.UPCASTERS
    assert ("MdpChanged", 1) not in serde.UPCASTERS
    assert serde.SCHEMA_VERSION == 1  # type: ignore[attr-defined]


# ---- keys and topics ------------------------------------------------------------------------------------


def test_event_key_and_topic_names() -> None:
    assert event_key("acme", "FC-2026/0042") == b"acme:FC-2026/0042"
    assert event_key("shop-ř", "1") == "shop-ř:1".encode()
    assert topic_name("mallbridge.", serde.ORDER_EVENTS_TOPIC) == "mallbridge.order-events.v1"
    assert topic_name("t1.", serde.SYNC_EVENTS_TOPIC) == "t1.sync-events.v1"
    assert topic_name("t1.", serde.OPERATOR_EVENTS_TOPIC) == "t1.operator-events.v1"
    assert topic_name(serde.DEFAULT_TOPIC_PREFIX, serde.DEAD_LETTER_TOPIC) == "mallbridge.dead-letter.v1"


def test_unknown_mall_orders_are_listed_once_each_and_counted_at_least_as_listed() -> None:
    listed = (UnknownMallOrder(mall_order_id="11", status=MallStatus.OPEN),)
    envelope = {k: v for k, v in ENVELOPE.items() if k not in ("order_number", "mall_order_id")}
    assert UnknownMallOrdersObserved(**envelope, orders=listed, total=5).total == 5
    with pytest.raises(ValueError, match="total must be at least the number of orders listed"):
        UnknownMallOrdersObserved(**envelope, orders=listed, total=0)
    with pytest.raises(ValueError, match="each MALL order once"):
        UnknownMallOrdersObserved(**envelope, orders=listed * 2, total=2)
    with pytest.raises(ValueError, match="mall_order_id"):
        UnknownMallOrder(mall_order_id="MALL-11", status=MallStatus.OPEN)
