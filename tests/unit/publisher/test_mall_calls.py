"""The MALL calls of one order: a recorded request goes out only while it is still due."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from uuid import UUID

from pydantic import SecretStr

from mallbridge_core.domain.projection import FastCentrikSide, MallSide, OrderState
from mallbridge_core.domain.reconciler import PutStep
from mallbridge_core.tenants import Tenant
from mallbridge_publisher.effects import Next, Stamp
from mallbridge_publisher.mall_calls import MallCalls
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_schema.events import MallUpdateRequested, SyncEventBase
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus
from tests.unit.publisher.fakes import FakeMall

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
ACME = Tenant(tenant_id="acme", mall_client_id=SecretStr("cid"), ingest_secret=None)
STATE = OrderState(
    "acme", "A-1", "10085339301", FastCentrikSide(seq=1, status=FastCentrikStatus.IN_PROCESS), MallSide()
)
SHIPPING = PutStep(MallStatus.SHIPPING, {"status": "shipping", "confirmed": True})


def calls(mall: FakeMall, recorded: list[SyncEventBase], metrics: PublisherMetrics) -> MallCalls:
    ids = itertools.count(1)

    async def record(event: SyncEventBase) -> None:
        recorded.append(event)

    return MallCalls(
        client=mall,
        gates={"acme": TenantGate("acme", concurrency=2, metrics=metrics)},
        metrics=metrics,
        stamp=lambda: Stamp(now=T0, new_id=lambda: UUID(int=next(ids))),
        record=record,
    )


async def test_a_request_still_due_goes_out() -> None:
    mall, metrics = FakeMall(), PublisherMetrics()
    recorded: list[SyncEventBase] = []
    effects = await calls(mall, recorded, metrics).send(ACME, STATE, SHIPPING, still_due=lambda: True)
    assert effects.accepted
    assert mall.calls == [("PUT", "10085339301", SHIPPING.body)]


async def test_a_request_no_longer_due_when_its_slot_comes_is_recorded_but_not_sent() -> None:
    # e.g. the publisher began to stop while the request waited for a slot: the next start reads first
    mall, metrics = FakeMall(), PublisherMetrics()
    recorded: list[SyncEventBase] = []
    effects = await calls(mall, recorded, metrics).send(ACME, STATE, SHIPPING, still_due=lambda: False)
    assert (effects.next, effects.events) == (Next.REPLAN, ())
    assert mall.calls == []
    assert [type(e) for e in recorded] == [MallUpdateRequested]  # in doubt: read before anything else
    assert metrics.withdrawn.labels("acme")._value.get() == 1
