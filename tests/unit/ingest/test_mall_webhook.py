"""MALL's webhook in ingest on a fake log: the body's ids, the receipt and the order events of one delivery,
ids no snapshot has named yet (pending, across restarts and races), and what a failed write leaves."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from mallbridge_core.eventlog.port import LogUnavailableError, OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_ingest.domain.mall_webhook import WebhookBodyError, webhook_ids
from mallbridge_ingest.mall_webhook import MallWebhookInbox
from mallbridge_ingest.service import IngestService, NotReadyError
from mallbridge_schema.events import MallOrderChanged, MallWebhookReceived, OrderEventBase
from mallbridge_schema.serde import decode_order_event
from tests.unit.ingest.fakes import FakeEventLog
from tests.unit.ingest.support import run_each_test_with_states_in_memory_and_spilled, service_on, snap

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOPIC = "t.order-events.v1"
TENANTS = {"acme": Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None)}


# ---- the body ----------------------------------------------------------------------------------------------


def test_ids_are_numbers_or_digit_strings_kept_as_digits_and_coalesced_in_order() -> None:
    assert webhook_ids([10085339302, "10085339303", 10085339302, 9223372036854775807]) == (
        "10085339302",
        "10085339303",
        "9223372036854775807",
    )
    assert webhook_ids([]) == ()
    assert len(webhook_ids(list(range(1, 1001)))) == 1000


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"ids": [1]}, "body", "an object, not an array"),
        ("123", "body", "a string, not an array"),
        (None, "body", "null, not an array"),
        (list(range(1, 1002)), "body", "1001 ids in one delivery, more than 1000"),
        ([1, True], "body[1]", "a boolean, not an order id"),
        ([1, 2, 1.5], "body[2]", "a number (1.5), not an order id"),
        ([-3], "body[0]", "a number (-3), not an order id"),
        ([1, "12a"], "body[1]", "a string ('12a'), not an order id"),
        ([""], "body[0]", "a string (''), not an order id"),
        (["١٢٣"], "body[0]", "a string ('١٢٣'), not an order id"),  # Unicode digits are not MALL ids
        ([10**20], "body[0]", "a number (100000000000000000000), not an order id"),
        ([[1]], "body[0]", "an array, not an order id"),
        ([None], "body[0]", "null, not an order id"),
    ],
)
def test_a_body_that_is_not_an_array_of_ids_names_where_and_the_allowed_shape(
    body: Any, field: str, problem: str
) -> None:
    with pytest.raises(WebhookBodyError) as caught:
        webhook_ids(body)
    assert (caught.value.field, caught.value.problem) == (field, problem)
    assert "a JSON array of 0 to 1000 MALL order ids" in str(caught.value)


# ---- deliveries ----------------------------------------------------------------------------------------------


_hot_orders = 0

_states_kept = run_each_test_with_states_in_memory_and_spilled(__name__)


def service(log: FakeEventLog) -> IngestService:
    return service_on(log, TENANTS, now=NOW, hot_orders=_hot_orders)


async def ready(log: FakeEventLog) -> tuple[IngestService, MallWebhookInbox]:
    svc = service(log)
    await svc.prepare()
    return svc, MallWebhookInbox(svc)


def written(log: FakeEventLog) -> list[tuple[bytes | None, Any]]:
    return [(r.key, decode_order_event(r.value)) for r in log.topics.get(TOPIC, [])]


def kinds(log: FakeEventLog, start: int = 0) -> list[tuple[bytes | None, str, int]]:
    return [(key, type(e).__name__, getattr(e, "seq", 0)) for key, e in written(log)[start:]]


async def test_a_delivery_writes_its_receipt_and_one_change_per_known_order_in_one_append() -> None:
    log = FakeEventLog()
    svc, inbox = await ready(log)
    await svc.ingest("acme", [(0, snap("A", mall_order_id="11")), (1, snap("B", mall_order_id="22"))], source="push")
    appends = log.appends

    result = await inbox.receive("acme", ("22", "99", "11"))

    assert (result.received, result.known, result.unknown) == (3, 2, 1)
    assert log.appends == appends + 1
    assert kinds(log, 2) == [
        (b"acme:", "MallWebhookReceived", 0),
        (b"acme:B", "MallOrderChanged", 2),
        (b"acme:A", "MallOrderChanged", 2),
    ]
    (_, receipt), (_, change_b), _ = written(log)[2:]
    assert isinstance(receipt, MallWebhookReceived)
    assert (receipt.order_ids, receipt.unknown_ids) == (("22", "99", "11"), ("99",))
    assert isinstance(change_b, MallOrderChanged)
    assert (change_b.receipt_id, change_b.mall_order_id, change_b.occurred_at) == (receipt.event_id, "22", NOW)
    assert svc.known_state("acme", "B").seq == 2
    await svc.ingest("acme", [(0, snap("B", "settled", mall_order_id="22"))], source="push")
    assert kinds(log)[-1] == (b"acme:B", "OrderStatusChanged", 3)  # FastCentrik's facts continue after it


async def test_an_id_no_snapshot_named_gets_its_change_right_after_the_first_snapshot_names_it() -> None:
    log = FakeEventLog()
    svc, inbox = await ready(log)
    await inbox.receive("acme", ("77",))
    assert kinds(log) == [(b"acme:", "MallWebhookReceived", 0)]

    await svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push")
    assert kinds(log)[1:] == [(b"acme:C", "OrderFirstSeen", 1), (b"acme:C", "MallOrderChanged", 2)]
    receipt_id = written(log)[0][1].event_id
    assert written(log)[2][1].receipt_id == receipt_id

    await svc.ingest("acme", [(0, snap("C", "settled", mall_order_id="77"))], source="push")
    assert kinds(log)[3:] == [(b"acme:C", "OrderStatusChanged", 3)]  # once: the id is no longer pending


async def test_pending_ids_survive_a_restart_and_answered_ones_do_not_come_back() -> None:
    log = FakeEventLog()
    svc, inbox = await ready(log)
    await inbox.receive("acme", ("77", "88"))
    await svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push")
    assert svc.mall_ids.pending("acme").keys() == {"88"}

    restarted, _ = await ready(log)
    assert restarted.mall_ids.pending("acme").keys() == {"88"}
    before = len(written(log))
    await restarted.ingest("acme", [(0, snap("C", "settled", mall_order_id="77"))], source="push")
    await restarted.ingest("acme", [(0, snap("D", mall_order_id="88"))], source="push")
    assert kinds(log, before) == [
        (b"acme:C", "OrderStatusChanged", 3),
        (b"acme:D", "OrderFirstSeen", 1),
        (b"acme:D", "MallOrderChanged", 2),
    ]


async def test_an_id_named_again_is_answered_for_the_last_receipt_that_named_it() -> None:
    log = FakeEventLog()
    svc, inbox = await ready(log)
    await inbox.receive("acme", ("77",))
    await inbox.receive("acme", ("77",))
    await svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push")
    restarted, _ = await ready(log)
    assert restarted.mall_ids.pending("acme") == {}  # one change answers both namings
    assert [type(e).__name__ for _, e in written(log)].count("MallOrderChanged") == 1


async def test_a_failed_write_acknowledges_nothing_and_changes_no_state() -> None:
    log = FakeEventLog()
    svc, inbox = await ready(log)
    await svc.ingest("acme", [(0, snap("A", mall_order_id="11"))], source="push")
    log.down = True
    with pytest.raises(LogUnavailableError):
        await inbox.receive("acme", ("11", "99"))
    log.down = False
    assert len(written(log)) == 1
    assert svc.mall_ids.pending("acme") == {}  # "99" was never acknowledged
    await inbox.receive("acme", ("11",))
    assert kinds(log)[-1] == (b"acme:A", "MallOrderChanged", 3)  # seq 2 stays reserved: it may have landed


async def test_a_failed_first_snapshot_keeps_the_id_pending() -> None:
    log = FakeEventLog()
    svc, inbox = await ready(log)
    await inbox.receive("acme", ("77",))
    log.down = True
    with pytest.raises(LogUnavailableError):
        await svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push")
    log.down = False
    assert svc.mall_ids.pending("acme").keys() == {"77"}
    await svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push")
    assert kinds(log)[1:] == [(b"acme:C", "OrderFirstSeen", 3), (b"acme:C", "MallOrderChanged", 4)]


async def test_not_ready_before_the_state_is_rebuilt() -> None:
    with pytest.raises(NotReadyError):
        await MallWebhookInbox(service(FakeEventLog())).receive("acme", ("1",))


class GatedLog(FakeEventLog):
    """Holds the next append to `gated_key` until `release` is set."""

    def __init__(self) -> None:
        super().__init__()
        self.gated_key: bytes | None = None
        self.arrived = asyncio.Event()
        self.release = asyncio.Event()

    async def append(self, topic: str, records: Sequence[OutgoingRecord]) -> None:
        if self.gated_key is not None and any(r.key == self.gated_key for r in records):
            self.gated_key = None
            self.arrived.set()
            await self.release.wait()
        await super().append(topic, records)


async def test_a_delivery_during_the_first_snapshots_write_still_gets_the_order_read() -> None:
    log = GatedLog()
    svc, inbox = await ready(log)
    log.gated_key = b"acme:C"
    first_write = asyncio.create_task(svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push"))
    await log.arrived.wait()  # C's OrderFirstSeen is on its way; the index does not know "77" yet
    result = await inbox.receive("acme", ("77",))
    assert (result.known, result.unknown) == (0, 1)
    log.release.set()
    await first_write
    assert kinds(log) == [
        (b"acme:", "MallWebhookReceived", 0),
        (b"acme:C", "OrderFirstSeen", 1),
        (b"acme:C", "MallOrderChanged", 2),
    ]
    assert svc.mall_ids.pending("acme") == {}


async def test_a_first_snapshot_during_a_deliverys_write_still_gets_the_order_read() -> None:
    log = GatedLog()
    svc, inbox = await ready(log)
    log.gated_key = b"acme:"
    delivery = asyncio.create_task(inbox.receive("acme", ("77",)))
    await log.arrived.wait()  # the receipt naming "77" as unknown is on its way
    await svc.ingest("acme", [(0, snap("C", mall_order_id="77"))], source="push")
    log.release.set()
    assert (await delivery).unknown == 1
    assert kinds(log) == [
        (b"acme:C", "OrderFirstSeen", 1),
        (b"acme:", "MallWebhookReceived", 0),
        (b"acme:C", "MallOrderChanged", 2),
    ]
    changed = written(log)[2][1]
    assert isinstance(changed, OrderEventBase)
    assert isinstance(changed, MallOrderChanged)
    assert changed.receipt_id == written(log)[1][1].event_id


async def test_an_import_worker_keeps_every_receipt_but_only_its_own_orders() -> None:
    log = FakeEventLog()
    _svc, inbox = await ready(log)
    await inbox.receive("acme", ("77",))
    worker = service(log)
    await worker.prepare(["acme"], owns_order=lambda order: order == b"C")  # the receipt's order part is b""
    assert worker.mall_ids.pending("acme").keys() == {"77"}
