"""The notifier on a real Kafka broker, with a local webhook receiver (uvicorn) and a local SMTP server
(aiosmtpd): one alert per attention item, retries until accepted, and no tenant waits for another."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from email.message import Message

import pytest

from mallbridge_core.eventlog import EventLog, open_event_log
from mallbridge_core.tenants import Tenant
from tests.integration.notify.harness import (
    CONSOLE,
    SyncWriter,
    needed,
    resolved,
    running_notifier,
    updated,
    webhook_tenant,
)
from tests.integration.notify.receivers import WebhookReceiver, smtp_server
from tests.support.eventually import eventually

pytestmark = pytest.mark.kafka


@pytest.fixture
async def log(kafka_bootstrap: str) -> AsyncIterator[EventLog]:
    event_log = open_event_log(f"kafka://{kafka_bootstrap}", partitions=3)
    await event_log.start()
    yield event_log
    await event_log.close()


def tenants(receiver: WebhookReceiver, *names: str, email: dict[str, str] | None = None) -> dict[str, Tenant]:
    email = email or {}
    return {name: webhook_tenant(name, receiver.url(name), email=email.get(name)) for name in names}


async def test_one_alert_per_attention_item_by_webhook_and_email(
    kafka_bootstrap: str, topic_prefix: str, log: EventLog, receiver: WebhookReceiver
) -> None:
    writer = SyncWriter(log, topic_prefix)
    with smtp_server() as (smtp_port, mailbox):
        acme_and_globex = tenants(receiver, "acme", "globex", email={"globex": "ops@globex.example"})
        async with running_notifier(f"kafka://{kafka_bootstrap}", topic_prefix, acme_and_globex, smtp_port=smtp_port):
            items = [
                needed("acme", "A-1"),
                updated("acme", "A-1"),  # no alert
                needed("globex", "G/7"),
                resolved("acme", "A-1"),
                needed("acme", "", code="mall_unauthorized", reason="MALL refused the client_id (HTTP 401)"),
            ]
            await writer.write(*items)
            await eventually(lambda: len(receiver.hook("acme").accepted) == 3 and len(mailbox) == 1, timeout=30)
            await writer.write(needed("acme", "MARKER"))  # proves everything before it was handled
            await eventually(lambda: any("MARKER" in t for t in receiver.hook("acme").texts()))
    acme = receiver.hook("acme").texts()
    assert len(acme) == 4
    a1 = [t for t in acme if "order A-1 " in t]  # one order's alerts arrive in order; orders side by side
    assert [t.split(":")[0] for t in a1] == ["Attention needed", "Resolved"]
    assert a1[0].startswith("Attention needed: order A-1 (MALL 10085339302)")
    assert f"{CONSOLE}/console/orders/acme/A-1" in a1[0]
    paused = next(t for t in acme if t.startswith("Tenant paused:"))
    assert "HTTP 401" in paused
    assert f"{CONSOLE}/console/queue?tenant=acme" in paused
    globex = receiver.hook("globex").texts()
    assert len(globex) == 1
    assert "G/7" in globex[0]
    assert f"{CONSOLE}/console/orders/globex/G%2F7" in globex[0]
    mail: Message = mailbox[0]
    assert mail["To"] == "ops@globex.example"
    assert "G/7" in mail["Subject"]
    assert f"{CONSOLE}/console/orders/globex/G%2F7" in mail.get_payload()


async def test_a_receiver_that_answers_500_then_200_gets_the_alert_once(
    kafka_bootstrap: str, topic_prefix: str, log: EventLog, receiver: WebhookReceiver
) -> None:
    receiver.hook("acme").script = [500, 500]
    async with running_notifier(f"kafka://{kafka_bootstrap}", topic_prefix, tenants(receiver, "acme")) as service:
        writer = SyncWriter(log, topic_prefix)
        await writer.write(needed("acme", "A-1"))
        await eventually(lambda: len(receiver.hook("acme").accepted) == 1)
        await writer.write(needed("acme", "MARKER"))
        await eventually(lambda: len(receiver.hook("acme").accepted) == 2)
        failures = service.metrics.registry.get_sample_value(
            "mallbridge_notify_delivery_failures_total", {"tenant": "acme", "channel": "webhook"}
        )
    statuses = [r.status for r in receiver.hook("acme").requests]
    assert statuses == [500, 500, 200, 200]
    assert ["A-1" in t for t in receiver.hook("acme").texts()] == [True, False]
    assert failures == 2


async def test_one_tenants_dead_webhook_does_not_delay_another_tenants_alerts(
    kafka_bootstrap: str, topic_prefix: str, log: EventLog, receiver: WebhookReceiver
) -> None:
    # The dead webhook accepts the connection and never answers until the test releases it, after the
    # healthy tenant's alert arrived: had the healthy alert waited for the dead one, it would never arrive.
    dead, healthy = receiver.hook("dead"), receiver.hook("healthy")
    dead.hold = asyncio.Event()
    async with running_notifier(f"kafka://{kafka_bootstrap}", topic_prefix, tenants(receiver, "dead", "healthy")):
        writer = SyncWriter(log, topic_prefix)
        await writer.write(needed("dead", "D-1"), needed("dead", "D-2"))
        await eventually(lambda: len(dead.requests) >= 1, what="the dead tenant's first delivery, hanging")
        alert = needed("healthy", "H-1")
        await writer.write(alert)
        await eventually(lambda: len(healthy.accepted) == 1, what="the healthy tenant's alert")
        healthy_at = healthy.accepted[0].at
        dead.hold.set()
        await eventually(lambda: len(dead.accepted) == 2, what="the dead tenant's alerts once it answers")
    first_dead = dead.requests[0]
    # on the receiver's own clock: the dead delivery began before the healthy alert was even written, and it
    # was answered only after the healthy alert had arrived
    assert first_dead.at < writer.written_at[alert.event_id] < healthy_at < first_dead.answered_at
    assert "H-1" in healthy.texts()[0]
    assert sorted("D-1" in t for t in dead.texts()) == [False, True]  # each once (two orders: any order)
    assert len(dead.requests) == 2


async def test_unknown_event_types_and_broken_records_do_not_block(
    kafka_bootstrap: str, topic_prefix: str, log: EventLog, receiver: WebhookReceiver
) -> None:
    async with running_notifier(f"kafka://{kafka_bootstrap}", topic_prefix, tenants(receiver, "acme")) as service:
        writer = SyncWriter(log, topic_prefix)
        newer = {**json.loads(needed("acme", "X").model_dump_json()), "type": "MallInvoiceIssued"}
        await writer.write_raw(json.dumps(newer).encode())
        await writer.write_raw(b"\x00\xff not an event")
        await writer.write(needed("acme", "AFTER"))
        await eventually(lambda: len(receiver.hook("acme").accepted) == 1)
        unknown = service.metrics.registry.get_sample_value(
            "mallbridge_notify_events_unreadable_total",
            {"lane": "default", "kind": "unknown_type"},
        )
    assert "AFTER" in receiver.hook("acme").texts()[0]
    assert unknown == 1


async def test_the_ledger_topic_is_compacted(
    kafka_bootstrap: str, topic_prefix: str, receiver: WebhookReceiver
) -> None:
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    async with running_notifier(f"kafka://{kafka_bootstrap}", topic_prefix, tenants(receiver, "acme")) as service:
        topic = service.ledger_topic
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        described = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
    finally:
        await admin.close()
    configs = {entry[0]: entry[1] for resource in described[0].resources for entry in resource[4]}
    assert configs["cleanup.policy"] == "compact"
