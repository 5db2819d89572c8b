"""The publisher against the sandbox MALL over real HTTP, on a real event log (Kafka and SQLite)."""

from __future__ import annotations

import json
from functools import partial

from mallbridge_core.eventlog import LogRecord, OutgoingRecord
from mallbridge_schema.events import AttentionNeeded, MallStatusUpdated, StepDeferred
from tests.integration.publisher.conftest import Harness
from tests.support.eventually import eventually

T = "acme"
TRACK = ("ZX12345-CZ", "https://tracking.example/ZX12345-CZ")


def _bodies(h: Harness, mall_id: str) -> list[dict[str, object]]:
    return [r["body"] for r in h.puts(mall_id)]


async def _dead_letters(h: Harness, *, at_least: int = 1) -> list[LogRecord]:
    """The dead-letter topic's records once there are `at_least` of them (else none, to wait on)."""
    found = [r async for batch in h.log.replay(h.topics.dead_letter) for r in batch]
    return found if len(found) >= at_least else []


def _statuses_ok(h: Harness, mall_id: str) -> list[int]:
    return [r["status"] for r in h.puts(mall_id)]


async def test_full_lifecycle_sends_each_status_once_in_order(harness: Harness) -> None:
    h, mid = harness, "10085339301"
    h.create_orders(T, [mid])
    w = h.writer
    publisher = h.start_publisher()
    try:
        await w.write(w.first_seen(T, "A-1", mid, "pending"))
        await w.write(w.status(T, "A-1", mid, "in_process"))
        await eventually(lambda: h.mall_status(mid) == "shipping")
        await w.write(w.tracking(T, "A-1", mid, *TRACK), w.status(T, "A-1", mid, "settled"))
        await eventually(lambda: h.mall_status(mid) == "shipped")
        await w.write(w.delivered(T, "A-1", mid, "2026-11-20T14:05:00+01:00"))
        await eventually(lambda: h.mall_status(mid) == "delivered")
    finally:
        await publisher.stop()
    assert _bodies(h, mid) == [
        {"status": "shipping", "confirmed": True},
        {"status": "shipped", "tracking_number": TRACK[0], "tracking_url": TRACK[1]},
        {"status": "delivered", "delivered_at": "2026-11-20 14:05:00"},
    ]
    assert _statuses_ok(h, mid) == [200, 200, 200]
    updated = [e for e in await h.sync_events() if isinstance(e, MallStatusUpdated)]
    assert [e.status.value for e in updated] == ["shipping", "shipped", "delivered"]


async def test_pending_to_settled_with_delivery_date_sends_shipped_then_delivered(harness: Harness) -> None:
    h, mid = harness, "10085339302"
    h.create_orders(T, [mid])
    w = h.writer
    await w.write(
        w.first_seen(T, "A-2", mid, "pending"),
        w.tracking(T, "A-2", mid, *TRACK),
        w.delivered(T, "A-2", mid, "2026-11-19"),
        w.status(T, "A-2", mid, "settled"),
    )
    publisher = h.start_publisher()
    try:
        await eventually(lambda: h.mall_status(mid) == "delivered")
    finally:
        await publisher.stop()
    assert _bodies(h, mid) == [
        {"status": "shipped", "confirmed": True, "tracking_number": TRACK[0], "tracking_url": TRACK[1]},
        {"status": "delivered", "delivered_at": "2026-11-19 12:00:00"},
    ]


async def test_cancel_after_shipped_sends_nothing_and_raises_attention(harness: Harness) -> None:
    h, mid = harness, "10085339303"
    h.create_orders(T, [mid])
    w = h.writer
    await w.write(w.first_seen(T, "A-3", mid, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]))
    publisher = h.start_publisher()
    try:
        await eventually(lambda: h.mall_status(mid) == "shipped")
        await w.write(w.status(T, "A-3", mid, "cancelled"))

        async def attention() -> list[AttentionNeeded]:
            return [e for e in await h.sync_events() if isinstance(e, AttentionNeeded) and e.order_number == "A-3"]

        # The pass that sees the cancel records the attention item as its last act: a cancel PUT would be first.
        found = await eventually(attention, what="the attention item for the cancel after shipped")
    finally:
        await publisher.stop()
    assert [a.code for a in found] == ["cancel_after_shipped"]
    assert "contact mall operations" in found[0].reason.lower()
    assert len(h.puts(mid)) == 1  # only the shipped PUT; the cancel never went out
    assert h.mall_status(mid) == "shipped"


async def test_redelivered_events_send_no_second_put(harness: Harness) -> None:
    h, mid = harness, "10085339304"
    h.create_orders(T, [mid])
    w = h.writer
    await w.write(w.first_seen(T, "A-4", mid, "in_process"))
    first = h.start_publisher()
    try:
        await eventually(lambda: h.mall_status(mid) == "shipping")
    finally:
        await first.stop()
    # A new consumer group receives every event again from offset 0; and the same events are appended twice.
    events = [w.status(T, "A-4", mid, "in_process")]
    await w.write(*events, *events)
    marker = await h.marker_after(T, "A-4", 10085339400)
    second = h.start_publisher(group="another-group")
    try:
        await eventually(lambda: h.mall_status(marker) == "shipping", what="the marker order after A-4's events")
    finally:
        await second.stop()  # graceful: A-4's pass, started before the marker's, has ended
    assert _bodies(h, mid) == [{"status": "shipping", "confirmed": True}]


async def test_shipped_without_tracking_is_deferred_then_sent_when_tracking_arrives(harness: Harness) -> None:
    h, mid = harness, "10085339305"
    h.create_orders(T, [mid])
    w = h.writer
    publisher = h.start_publisher()
    try:
        await w.write(w.first_seen(T, "A-5", mid, "settled"))

        async def deferrals() -> list[StepDeferred]:
            return [e for e in await h.sync_events() if isinstance(e, StepDeferred)]

        deferred = await eventually(deferrals, what="the deferral for the missing tracking")
        assert [d.status.value for d in deferred] == ["shipped"]
        assert "tracking number and tracking URL" in deferred[0].reason
        assert h.puts(mid) == []
        await w.write(w.tracking(T, "A-5", mid, *TRACK))
        await eventually(lambda: h.mall_status(mid) == "shipped")
    finally:
        await publisher.stop()
    assert _bodies(h, mid) == [
        {"status": "shipped", "confirmed": True, "tracking_number": TRACK[0], "tracking_url": TRACK[1]}
    ]


async def test_mdp_order_passes_through_shipping_and_never_gets_delivered_from_us(harness: Harness) -> None:
    h, mid = harness, "10085339306"
    h.create_orders(T, [mid], mdp=True)
    w = h.writer
    await w.write(w.first_seen(T, "A-6", mid, "settled", mdp=True, delivered_at="2026-11-19"))
    publisher = h.start_publisher()
    try:
        await eventually(lambda: h.mall_status(mid) == "shipped")
        # The marker: a cancel in FastCentrik now gets an attention item from the order's next pass, which
        # starts only after the pass that sent shipped ended (one pass per order at a time).
        await w.write(w.status(T, "A-6", mid, "cancelled"))

        async def attention() -> list[AttentionNeeded]:
            return [e for e in await h.sync_events() if isinstance(e, AttentionNeeded) and e.order_number == "A-6"]

        found = await eventually(attention, what="the attention item for A-6's cancel")
    finally:
        await publisher.stop()
    assert [a.code for a in found] == ["cancel_after_shipped"]
    assert _bodies(h, mid) == [{"status": "shipping", "confirmed": True}, {"status": "shipped"}]


async def test_an_undecodable_order_event_is_dead_lettered_and_the_next_order_still_goes_out(harness: Harness) -> None:
    h, mid = harness, "10085339351"
    h.create_orders(T, [mid])
    w = h.writer
    await h.log.append(h.topics.order_events, [OutgoingRecord(b"acme:BROKEN-1", b"{not an event")])
    publisher = h.start_publisher()
    try:
        await w.write(w.first_seen(T, "A-51", mid, "in_process"))
        await eventually(lambda: h.mall_status(mid) == "shipping")

        dead: list[LogRecord] = await eventually(partial(_dead_letters, h), what="a record on the dead-letter topic")
    finally:
        await publisher.stop()
    assert len(dead) == 1
    assert (dead[0].key, dead[0].value) == (b"acme:BROKEN-1", b"{not an event")
    headers = dict(dead[0].headers)
    assert headers["source-topic"] == h.topics.order_events.encode()
    assert headers["source-offset"] == b"0"
    assert b"JSON" in headers["error"]


async def test_a_record_without_a_key_is_dead_lettered_without_a_key(harness: Harness) -> None:
    # "same key, same bytes": a record read without a key went to the dead-letter topic with the key b""
    h, mid = harness, "10085339353"
    h.create_orders(T, [mid])
    w = h.writer
    await h.log.append(h.topics.order_events, [OutgoingRecord(None, b"[1, 2]")])
    publisher = h.start_publisher()
    try:
        await w.write(w.first_seen(T, "A-53", mid, "in_process"))
        await eventually(lambda: h.mall_status(mid) == "shipping")

        dead = await eventually(partial(_dead_letters, h), what="a record on the dead-letter topic")
    finally:
        await publisher.stop()
    assert [(r.key, r.value) for r in dead] == [(None, b"[1, 2]")]
    assert dict(dead[0].headers)["error"] == b"event is not a JSON object"


async def test_an_order_event_whose_mall_id_is_not_digits_is_dead_lettered_and_nothing_reaches_mall(
    harness: Harness,
) -> None:
    # The publisher puts the id in MALL's URL: "" used to send `PUT /orders/` and then GET `/orders/` for ever.
    h, mid = harness, "10085339352"
    h.create_orders(T, [mid])
    w = h.writer
    for n, bad_id in enumerate(("", "10085339351/../../partners")):
        event = w.first_seen(T, f"BAD-{n}", "1", "in_process").model_dump(mode="json")
        value = json.dumps({**event, "mall_order_id": bad_id}).encode()
        await h.log.append(h.topics.order_events, [OutgoingRecord(f"acme:BAD-{n}".encode(), value)])
    publisher = h.start_publisher()
    try:
        await w.write(w.first_seen(T, "A-52", mid, "in_process"))
        await eventually(lambda: h.mall_status(mid) == "shipping")

        dead = await eventually(partial(_dead_letters, h, at_least=2), what="both records on the dead-letter topic")
    finally:
        await publisher.stop()
    assert sorted(r.key for r in dead) == [b"acme:BAD-0", b"acme:BAD-1"]
    assert all(b"mall_order_id" in dict(r.headers)["error"] for r in dead)
    assert {r["path"] for r in h.requests()} == {f"/v1/orders/{mid}"}
