"""Balance's MALL orders the shop never got reach a person: an `UnknownMallOrdersObserved` appended to a
lane's operator-events goes to the tenant's webhook (a real HTTP receiver) once, with its ids and the
console link, on both engines; read again from the start by a notifier on the same ledger, it is not sent
again."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from mallbridge_core.eventlog import EventLog, open_event_log
from tests.integration.notify.harness import (
    CONSOLE,
    OperatorWriter,
    notify_settings,
    returned,
    running_notifier,
    unknown_orders,
    webhook_tenant,
)
from tests.integration.notify.receivers import WebhookReceiver
from tests.support.eventually import eventually

LINK = f"{CONSOLE}/console/queue?tenant=acme#unknown-mall-orders"


@pytest.fixture
async def log(event_log_url: str) -> AsyncIterator[EventLog]:
    event_log = open_event_log(event_log_url, partitions=3)
    await event_log.start()
    yield event_log
    await event_log.close()


async def test_unknown_mall_orders_reach_the_webhook_once_even_when_read_again(
    event_log_url: str, topic_prefix: str, log: EventLog, receiver: WebhookReceiver
) -> None:
    writer = OperatorWriter(log, topic_prefix)
    tenants = {"acme": webhook_tenant("acme", receiver.url("acme"))}
    hook = receiver.hook("acme")
    unknown = unknown_orders("acme", "10085339411", "10085339412", total=3)
    async with running_notifier(event_log_url, topic_prefix, tenants):
        await writer.write(returned("acme", "A-1"), unknown)  # a person's action: read, no alert
        await eventually(lambda: len(hook.accepted) == 1, what="the unknown-orders alert at the webhook")
    [text] = hook.texts()
    assert text.startswith("MALL orders the shop never got: 3 MALL orders of tenant acme never reached FastCentrik")
    assert (
        ": 10085339411 (open, opened 2026-12-07 08:00:00), 10085339412 (open, opened 2026-12-07 08:00:00) and 1 more."
        in text
    )
    assert "bring each into FastCentrik or cancel it at MALL" in text
    assert LINK in text

    # Another notifier on the same ledger, in a new consumer group: it reads operator-events from the start
    # again (as after a crash before the position was committed) and must know the alert went out.
    async with running_notifier(event_log_url, topic_prefix, tenants, settings=notify_settings()) as again:
        none_left = unknown_orders("acme")  # the marker: same key, so read after the set
        await writer.write(none_left)
        await eventually(lambda: len(hook.accepted) == 2, what="the none-left alert after the set was read again")

        def read_all_three() -> bool:
            labels = {"lane": "default"}
            return again.metrics.registry.get_sample_value("mallbridge_notify_operator_events_read_total", labels) == 3

        await eventually(read_all_three, what="the person's action, the set and the marker read")
        samples = again.metrics.registry
        duplicates = samples.get_sample_value("mallbridge_notify_alerts_skipped_total", {"reason": "duplicate"})
        unreadable = [s for m in samples.collect() for s in m.samples if s.name.endswith("events_unreadable_total")]
    assert [t.split(":", 1)[0] for t in hook.texts()] == [
        "MALL orders the shop never got",
        "No MALL orders left that the shop never got",
    ]
    assert LINK in hook.texts()[1]
    assert len(hook.requests) == 2
    assert duplicates == 1  # the set was read again, and skipped by its event_id
    assert unreadable == []  # the person's action is a known event, not an unreadable one
