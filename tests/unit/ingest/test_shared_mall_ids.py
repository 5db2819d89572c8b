"""Two FastCentrik orders naming one MALL order: written (a split order is one), and told (a gauge, a warning),
also after a restart rebuilt the state from the log."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import pytest

from mallbridge_core.tenants import Tenant
from mallbridge_ingest.mall_ids import MallIdBook
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService
from mallbridge_schema.serde import decode_order_event
from tests.unit.ingest.fakes import FakeEventLog
from tests.unit.ingest.support import run_each_test_with_states_in_memory_and_spilled, service_on, snap

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
TOPIC = "t.order-events.v1"
TENANTS = {
    "acme": Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None),
    "beta": Tenant(tenant_id="beta", mall_client_id=None, ingest_secret=None),
}
GAUGE = "mallbridge_ingest_shared_mall_ids"

_hot_orders = 0
_states_kept = run_each_test_with_states_in_memory_and_spilled(__name__)


# ---- the book ----------------------------------------------------------------------------------------------


def test_the_first_order_keeps_the_id_and_a_second_one_is_named_as_sharing_it() -> None:
    book = MallIdBook()
    assert book.note_order("acme", "11", "A") is None
    assert book.note_order("acme", "11", "A") is None  # the same order again: nothing shared
    assert book.note_order("acme", "22", "B") is None
    assert book.shared("acme") == frozenset()

    assert book.note_order("acme", "11", "C") == "A"
    assert book.note_order("acme", "11", "D") == "A"
    assert book.order_of("acme", "11") == "A"
    assert book.shared("acme") == {"11"}
    assert book.note_order("beta", "11", "X") is None  # ids are per tenant
    assert book.shared("beta") == frozenset()


# ---- the service ---------------------------------------------------------------------------------------------


async def ready(log: FakeEventLog) -> tuple[IngestService, IngestMetrics]:
    metrics = IngestMetrics()
    svc = service_on(log, TENANTS, now=NOW, hot_orders=_hot_orders, metrics=metrics)
    await svc.prepare()
    return svc, metrics


def gauge(metrics: IngestMetrics, tenant: str) -> float | None:
    return metrics.registry.get_sample_value(GAUGE, {"tenant": tenant})


async def test_a_second_order_naming_a_mall_order_is_written_counted_and_logged(
    caplog: pytest.LogCaptureFixture,
) -> None:
    log = FakeEventLog()
    svc, metrics = await ready(log)
    assert (gauge(metrics, "acme"), gauge(metrics, "beta")) == (0, 0)  # there from the start, to alert on

    await svc.ingest("acme", [(0, snap("A", mall_order_id="11")), (1, snap("B", mall_order_id="22"))], source="push")
    assert gauge(metrics, "acme") == 0
    with caplog.at_level(logging.WARNING, logger="mallbridge_ingest.service"):
        result = await svc.ingest("acme", [(0, snap("C", "in_process", mall_order_id="11"))], source="push")

    assert result.events == 1  # written: FastCentrik's order is a fact, whatever MALL id it names
    orders = [decode_order_event(r.value) for r in log.topics[TOPIC]]
    assert [(e.order_number, e.mall_order_id) for e in orders] == [("A", "11"), ("B", "22"), ("C", "11")]
    assert gauge(metrics, "acme") == 1
    (warning,) = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert "two FastCentrik orders name one MALL order" in warning.getMessage()
    assert (warning.tenant, warning.mall_order_id, warning.order, warning.first_order) == ("acme", "11", "C", "A")  # type: ignore[attr-defined]

    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mallbridge_ingest.service"):
        await svc.ingest("acme", [(0, snap("C", "settled", mall_order_id="11"))], source="push")
        await svc.ingest("acme", [(0, snap("D", mall_order_id="11"))], source="push")
    assert [r.order for r in caplog.records] == ["D"]  # type: ignore[attr-defined]  # C told once, not per change
    assert gauge(metrics, "acme") == 1  # one MALL id, however many orders share it
    assert gauge(metrics, "beta") == 0


async def test_a_restart_counts_the_shared_ids_again_from_the_log() -> None:
    log = FakeEventLog()
    svc, _ = await ready(log)
    await svc.ingest("acme", [(0, snap("A", mall_order_id="11")), (1, snap("C", mall_order_id="11"))], source="push")
    await svc.ingest("acme", [(0, snap("B", mall_order_id="22")), (1, snap("D", mall_order_id="33"))], source="push")

    restarted, metrics = await ready(log)

    assert gauge(metrics, "acme") == 1
    assert restarted.mall_ids.order_of("acme", "11") == "A"
    assert restarted.mall_ids.shared("acme") == {"11"}
