"""The notifier's handler behind FastStream's subscriber, driven by FastStream's `TestKafkaBroker`.

The FastStream app is the one `mallbridge notify` runs (`build_kafka_app`); the broker is FastStream's
in-memory test broker, the ledger lives on a fake event log and the senders are fakes (our own ports).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from faststream.kafka import KafkaBroker, TestKafkaBroker

from mallbridge_core.tenants import Tenant
from mallbridge_notify.adapters.ledger_log import LedgerLog
from mallbridge_notify.bootstrap import wire
from mallbridge_notify.config import NotifySettings
from mallbridge_notify.domain.ledger import AlertDelivered, AlertQueued, LedgerState, decode_entry
from mallbridge_notify.entrypoints.kafka_app import build_kafka_app, lane_group, operator_group
from mallbridge_notify.metrics import NotifyMetrics
from mallbridge_notify.notifier import Notifier
from mallbridge_schema.events import Event
from mallbridge_schema.serde import encode_event, event_key
from tests.support.eventually import eventually
from tests.unit.notify.fakes import (
    NOW,
    FakeEventLog,
    FakeSender,
    acknowledged,
    balance_observed,
    needed,
    resolved,
    returned,
    tenant,
    unknown_orders,
    updated,
)

SYNC = {"default": "t.sync-events.v1", "big": "t.lane-big.sync-events.v1"}
OPERATOR = {"default": "t.operator-events.v1", "big": "t.lane-big.operator-events.v1"}
LEDGER = "t.notify-alerts.v1"
SETTINGS = NotifySettings(console_base_url="https://console.example", backoff_base_s=0.01, backoff_max_s=0.05)


@dataclass
class Harness:
    broker: KafkaBroker
    notifier: Notifier
    log: FakeEventLog
    webhook: FakeSender
    email: FakeSender
    metrics: NotifyMetrics
    crashes: list[BaseException] = field(default_factory=list)

    async def publish(self, *events: Event | bytes, lane: str = "default", topics: dict[str, str] = SYNC) -> None:
        for event in events:
            if isinstance(event, bytes):
                await self.broker.publish(event, topics[lane])
            else:
                key = event_key(event.tenant_id, event.order_number)
                await self.broker.publish(encode_event(event), topics[lane], key=key)

    async def publish_operator(self, *events: Event | bytes, lane: str = "default") -> None:
        await self.publish(*events, lane=lane, topics=OPERATOR)

    def ledger(self) -> list[AlertQueued | AlertDelivered]:
        return [e for e in (decode_entry(r.value) for r in self.log.topics.get(LEDGER, [])) if e is not None]

    def sent(self) -> list[tuple[str, str]]:
        return [(t, m.text) for t, m in self.webhook.sent]

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics.registry.get_sample_value(name, labels) or 0.0


TENANTS = {
    "acme": tenant("acme"),
    "globex": tenant("globex", email=True),
    "quiet": tenant("quiet", webhook=False),
    "big": tenant("big", lane="big"),
}


def build(tenants: dict[str, Tenant], state: LedgerState | None = None) -> tuple[Harness, Callable[..., object]]:
    log, metrics = FakeEventLog(), NotifyMetrics()
    webhook, email = FakeSender("webhook"), FakeSender("email")
    notifier = wire(
        ledger=LedgerLog(log, LEDGER),
        state=state or LedgerState(),
        senders={"webhook": webhook, "email": email},
        tenants=tenants,
        settings=SETTINGS,
        metrics=metrics,
        clock=lambda: NOW,
    )
    crashes: list[BaseException] = []
    _, broker, _ = build_kafka_app(
        "localhost:9092",
        sync_topics=SYNC,
        operator_topics=OPERATOR,
        group="notify",
        notifier=notifier,
        on_crash=crashes.append,
    )
    return Harness(broker, notifier, log, webhook, email, metrics, crashes), crashes.append


@pytest.fixture
async def h() -> AsyncIterator[Harness]:
    harness, _ = build(TENANTS)
    async with TestKafkaBroker(harness.broker):
        yield harness
    await harness.notifier.deliveries.close(grace_s=0)


async def test_an_attention_item_becomes_one_webhook_alert(h: Harness) -> None:
    event = needed("acme", "FC-2026/0042")
    await h.publish(event)
    await eventually(lambda: len(h.webhook.sent) == 1, what="the alert at the webhook")
    tenant_id, message = h.webhook.sent[0]
    assert tenant_id == "acme"
    assert "FC-2026/0042" in message.text
    assert "10085339302" in message.text
    assert event.reason in message.text
    assert message.link == "https://console.example/console/orders/acme/FC-2026%2F0042"
    await eventually(lambda: [type(e).__name__ for e in h.ledger()] == ["AlertQueued", "AlertDelivered"])


async def test_the_same_event_read_again_alerts_no_one_twice(h: Harness) -> None:
    event, marker = needed("acme", "FC-1"), needed("acme", "FC-2")
    await h.publish(event)
    await eventually(lambda: len(h.webhook.sent) == 1)
    await h.publish(event, marker)  # a redelivery, then a later item that proves the first was handled
    await eventually(lambda: len(h.webhook.sent) == 2, what="the marker's alert")
    assert [m.text.count("FC-1") for _, m in h.webhook.sent] == [1, 0]
    assert h.metric("mallbridge_notify_alerts_skipped_total", reason="duplicate") == 1


async def test_every_attention_kind_alerts_and_other_events_do_not(h: Harness) -> None:
    await h.publish(
        updated("acme", "FC-1"),
        needed("acme", "FC-1"),
        resolved("acme", "FC-1"),
        needed("acme", "", code="mall_unauthorized"),
        resolved("acme", "", code="mall_unauthorized"),
    )
    await eventually(lambda: len(h.webhook.sent) == 4)
    assert [m.headline for _, m in h.webhook.sent] == [
        "Attention needed",
        "Resolved",
        "Tenant paused",
        "Tenant resumed",
    ]
    assert h.metric("mallbridge_notify_events_read_total", lane="default") == 5


async def test_unknown_types_and_broken_records_neither_crash_nor_block(h: Harness) -> None:
    unknown = json.dumps({**json.loads(encode_event(needed("acme"))), "type": "MallInvoiceIssued"}).encode()
    await h.publish(unknown, b"\xff not json", needed("acme", "FC-after"))
    await eventually(lambda: len(h.webhook.sent) == 1, what="the alert after the unreadable records")
    assert "FC-after" in h.webhook.sent[0][1].text
    unreadable = "mallbridge_notify_events_unreadable_total"
    assert h.metric(unreadable, lane="default", kind="unknown_type") == 1
    assert h.metric(unreadable, lane="default", kind="malformed") == 1
    assert h.crashes == []


async def test_each_channel_of_a_tenant_and_each_lane(h: Harness) -> None:
    await h.publish(needed("globex", "G-1"))
    await h.publish(needed("big", "B-1"), lane="big")
    await eventually(lambda: len(h.webhook.sent) == 2 and len(h.email.sent) == 1)
    assert sorted(t for t, _ in h.webhook.sent) == ["big", "globex"]
    assert h.email.sent[0][0] == "globex"


async def test_no_target_unknown_tenant_and_stale_items_are_counted_not_sent(h: Harness) -> None:
    await h.publish(needed("quiet"), needed("nobody"), needed("acme", "OLD", age_s=SETTINGS.max_age_s + 1))
    await h.publish(needed("acme", "MARKER"))
    await eventually(lambda: len(h.webhook.sent) == 1)
    assert "MARKER" in h.webhook.sent[0][1].text
    for reason in ("no_target", "unknown_tenant", "stale"):
        assert h.metric("mallbridge_notify_alerts_skipped_total", reason=reason) == 1, reason


async def test_a_failing_webhook_is_retried_until_it_accepts(h: Harness) -> None:
    h.webhook.failures["acme"] = 2
    await h.publish(needed("acme"))
    await eventually(lambda: len(h.webhook.sent) == 1)
    assert h.webhook.attempts == ["acme"] * 3
    delivered = [e for e in h.ledger() if isinstance(e, AlertDelivered)]
    assert [d.attempts for d in delivered] == [3]
    assert h.metric("mallbridge_notify_delivery_failures_total", tenant="acme", channel="webhook") == 2


async def test_one_tenants_stuck_webhook_holds_back_no_other_tenant(h: Harness) -> None:
    h.webhook.blocked.add("acme")
    await h.publish(needed("acme", "A-1"), needed("globex", "G-1"))
    await eventually(lambda: [t for t, _ in h.webhook.sent] == ["globex"], what="globex's alert while acme's hangs")
    assert h.webhook.attempts[0] == "acme"  # acme's delivery was under way first, and still is
    h.webhook.release.set()
    await eventually(lambda: [t for t, _ in h.webhook.sent] == ["globex", "acme"])


async def test_one_orders_alerts_go_out_in_order_and_other_orders_beside_them(h: Harness) -> None:
    h.webhook.blocked.add("acme")
    await h.publish(needed("acme", "A-1"), resolved("acme", "A-1"), needed("acme", "A-2"))
    # A-2 is tried while A-1's first alert hangs; A-1's resolution waits for it
    await eventually(lambda: len(h.webhook.attempts) == 2)
    await h.publish(needed("globex", "MARKER"))
    await eventually(lambda: len(h.webhook.sent) == 1)
    assert len(h.webhook.attempts) == 3  # acme's A-1 resolution was not tried before its attention went out
    h.webhook.release.set()
    await eventually(lambda: len(h.webhook.sent) == 4)
    acme = [m for t, m in h.webhook.sent if t == "acme"]
    a1 = [m.headline for m in acme if "A-1" in m.text]
    assert a1 == ["Attention needed", "Resolved"]


async def test_a_tenant_gets_at_most_its_concurrency_of_deliveries_at_once() -> None:
    harness, _ = build(TENANTS)
    harness.webhook.blocked.add("acme")
    async with TestKafkaBroker(harness.broker):
        await harness.publish(*[needed("acme", f"A-{i}") for i in range(SETTINGS.tenant_concurrency + 3)])
        await harness.publish(needed("globex", "MARKER"))
        await eventually(lambda: len(harness.webhook.sent) == 1)
        assert harness.webhook.attempts.count("acme") == SETTINGS.tenant_concurrency
        harness.webhook.release.set()
        await eventually(lambda: len(harness.webhook.sent) == SETTINGS.tenant_concurrency + 4)
    await harness.notifier.deliveries.close(grace_s=0)


async def test_owed_alerts_of_a_rebuilt_ledger_go_out_without_a_new_event() -> None:
    first, _ = build(TENANTS)
    first.webhook.blocked.add("acme")  # it never got through before the "restart"
    async with TestKafkaBroker(first.broker):
        await first.publish(needed("acme", "OWED"))
        await eventually(lambda: first.webhook.attempts == ["acme"])
    await first.notifier.deliveries.close(grace_s=0)
    state = await LedgerLog(first.log, LEDGER).rebuild(now=NOW, max_age_s=SETTINGS.max_age_s)
    second, _ = build(TENANTS, state)
    second.log.topics = first.log.topics
    async with TestKafkaBroker(second.broker):
        await eventually(lambda: len(second.webhook.sent) == 1)
        assert "OWED" in second.webhook.sent[0][1].text
        owed_again = [
            needed("acme", "OWED").model_copy(update={"event_id": q.alert.event_id}) for q in state.pending.values()
        ]
        await second.publish(*owed_again)  # its event read again after the restart: already owed, not twice
        await second.publish(needed("acme", "MARKER"))
        await eventually(lambda: len(second.webhook.sent) == 2)
        assert "MARKER" in second.webhook.sent[1][1].text
    await second.notifier.deliveries.close(grace_s=0)


async def test_a_handler_failure_nacks_and_reports_a_crash(h: Harness) -> None:
    async def boom(*args: object, **kwargs: object) -> None:
        raise RuntimeError("a bug")

    h.notifier.handle = boom  # type: ignore[method-assign]
    await h.publish(needed("acme"))
    await eventually(lambda: len(h.crashes) == 1)
    assert str(h.crashes[0]) == "a bug"
    assert h.webhook.sent == []


# ---- operator-events: balance's MALL orders the shop never got ------------------------------------------------


async def test_unknown_mall_orders_on_operator_events_become_one_alert(h: Harness) -> None:
    event = unknown_orders("acme", 12, total=40)
    await h.publish_operator(event)
    await eventually(lambda: len(h.webhook.sent) == 1, what="the unknown-orders alert at the webhook")
    tenant_id, message = h.webhook.sent[0]
    assert tenant_id == "acme"
    assert message.headline == "MALL orders the shop never got"
    assert "40 MALL orders of tenant acme" in message.text
    assert "10085339400 (open, opened 2026-11-19 00:15:00)" in message.text
    assert "10085339409 (shipping)" in message.text
    assert "10085339410" not in message.text  # the 11th and on: counted, not named
    assert "and 30 more" in message.text
    assert message.link == "https://console.example/console/queue?tenant=acme#unknown-mall-orders"
    queued = [e for e in h.ledger() if isinstance(e, AlertQueued)]
    assert [(q.alert_id, q.alert.kind, q.alert.total) for q in queued] == [
        (f"{event.event_id}:webhook", "unknown_mall_orders", 40)
    ]
    assert (
        h.metric("mallbridge_notify_alerts_queued_total", tenant="acme", channel="webhook", kind="unknown_mall_orders")
        == 1
    )


async def test_an_empty_set_says_none_are_left(h: Harness) -> None:
    await h.publish_operator(unknown_orders("acme", 1), unknown_orders("acme", 0))
    await eventually(lambda: len(h.webhook.sent) == 2)
    # one tenant's tenant-level alerts form one line: "none left" never overtakes the set before it
    assert [m.headline for _, m in h.webhook.sent] == [
        "MALL orders the shop never got",
        "No MALL orders left that the shop never got",
    ]


async def test_other_operator_events_are_read_and_skipped_not_unreadable(h: Harness) -> None:
    unknown_type = json.dumps({**json.loads(encode_event(returned("acme"))), "type": "InvoiceRequested"}).encode()
    await h.publish_operator(
        returned("acme"), acknowledged("acme"), balance_observed("acme"), unknown_type, unknown_orders("acme", 1)
    )
    await eventually(lambda: len(h.webhook.sent) == 1, what="the unknown-orders alert after the others")
    assert "10085339400" in h.webhook.sent[0][1].text
    assert h.metric("mallbridge_notify_operator_events_read_total", lane="default") == 5
    assert h.metric("mallbridge_notify_events_read_total", lane="default") == 0  # sync-events' own: none read
    unreadable = "mallbridge_notify_operator_events_unreadable_total"
    assert h.metric(unreadable, lane="default", kind="unknown_type") == 1
    assert h.metric(unreadable, lane="default", kind="malformed") == 0
    assert h.crashes == []


async def test_an_unknown_set_read_again_alerts_no_one_twice_and_each_lane_is_read(h: Harness) -> None:
    event = unknown_orders("acme", 2)
    await h.publish_operator(event)
    await eventually(lambda: len(h.webhook.sent) == 1)
    await h.publish_operator(event, unknown_orders("globex", 3))  # a redelivery, then a marker
    await h.publish_operator(unknown_orders("big", 1), lane="big")
    await eventually(lambda: len(h.webhook.sent) == 3 and len(h.email.sent) == 1, what="globex's and big's alerts")
    assert sorted(t for t, _ in h.webhook.sent) == ["acme", "big", "globex"]
    assert h.metric("mallbridge_notify_alerts_skipped_total", reason="duplicate") == 1


async def test_a_stale_unknown_set_is_not_sent(h: Harness) -> None:
    await h.publish_operator(unknown_orders("acme", 2, age_s=SETTINGS.max_age_s + 1), unknown_orders("acme", 1))
    await eventually(lambda: len(h.webhook.sent) == 1)
    assert "1 MALL order of tenant acme" in h.webhook.sent[0][1].text
    assert h.metric("mallbridge_notify_alerts_skipped_total", reason="stale") == 1


def test_no_operator_events_group_is_ever_a_sync_events_group() -> None:
    lanes = ["default", "operator", "x", "default_operator", "x-operator"]
    sync = {lane_group("mallbridge-notify", lane) for lane in lanes}
    operator = {operator_group("mallbridge-notify", lane) for lane in lanes}
    assert len(sync) == len(operator) == len(lanes)
    assert sync.isdisjoint(operator)
    assert operator_group("mallbridge-notify", "default") == "mallbridge-notify.default.operator"
