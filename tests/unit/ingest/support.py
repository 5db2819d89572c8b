"""Builders for ingest unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from mallbridge_core.eventlog.port import EventLog
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.domain import UNKNOWN, OrderState, apply_event, detect_changes
from mallbridge_ingest.domain.state import with_seq_reserved
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService
from mallbridge_schema.snapshot import OrderSnapshot

T0 = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
T1 = datetime(2026, 11, 20, 10, 0, tzinfo=UTC)


def snap(order: str = "A-1", status: str = "pending", **fields: Any) -> OrderSnapshot:
    data: dict[str, Any] = {
        "order_number": order,
        "mall_order_id": fields.pop("mall_order_id", "1000000001"),
        "status": status,
    }
    data.update(fields)
    return OrderSnapshot.model_validate(data)


def state_of(snapshot: OrderSnapshot, *, seq: int = 1) -> OrderState:
    """The state after `snapshot` was written as the order's OrderFirstSeen, with the seq moved on to `seq`."""
    (first,), _ = detect_changes(UNKNOWN, snapshot, tenant_id="acme", occurred_at=T0, recorded_at=T1)
    return with_seq_reserved(apply_event(UNKNOWN, first), seq)


def run_each_test_with_states_in_memory_and_spilled(module: str) -> Any:
    """An autouse fixture for `module` (assign it to a module-level name): each test runs twice, with the
    module's `_hot_orders` 0 (every state in a dict) and 1 (at most two per tenant in memory, the rest
    on disk), which the module's service factory passes to IngestService."""

    @pytest.fixture(autouse=True, params=[0, 1], ids=["states-in-memory", "states-spilled"])
    def states_kept(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(f"{module}._hot_orders", request.param)

    return states_kept


def service_on(
    log: EventLog,
    tenants: dict[str, Tenant],
    *,
    now: datetime,
    hot_orders: int,
    metrics: IngestMetrics | None = None,
) -> IngestService:
    """An ingest service on `log` (topic prefix `t.`), its clock stopped at `now`."""
    return IngestService(
        log=log,
        tenants=tenants,
        topics=Topics(prefix="t."),
        metrics=metrics or IngestMetrics(),
        clock=lambda: now,
        hot_orders=hot_orders,
    )
