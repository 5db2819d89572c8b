"""The unconfirmed poll on its own (a fake MALL): every page is listed, only orders whose MALL state differs
from the log are read, a round that finds nothing new asks for nothing, a failed page asks for nothing,
`mall_poll_interval_s = 0` turns the poll off, and a page's 401 or answer pauses or resumes the tenant
as an order's request would."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from pydantic import SecretStr

from mallbridge_core.domain.fastcentrik import FastCentrikSide
from mallbridge_core.domain.mall_side import MallSide
from mallbridge_core.domain.projection import OrderState
from mallbridge_core.tenants import Tenant
from mallbridge_publisher import unconfirmed_poll
from mallbridge_publisher.effects import Stamp
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.ports import MallOrderPage, MallRateLimited, MallUnauthorized
from mallbridge_publisher.tenant_gate import TenantGate
from mallbridge_publisher.unconfirmed_poll import UnconfirmedPoll
from mallbridge_schema.events import AttentionNeeded, AttentionResolved, SyncEventBase
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus
from tests.unit.publisher.fakes import FakeMall, FakeMallOrder

Key = tuple[str, str]


def tenant(tenant_id: str = "acme", poll_s: float = 900) -> Tenant:
    return Tenant(tenant_id=tenant_id, mall_client_id=SecretStr("cid"), ingest_secret=None, mall_poll_interval_s=poll_s)


def known(order: str, mall_id: str, status: MallStatus, confirmed: bool | None) -> tuple[Key, OrderState]:
    """An order a FastCentrik snapshot named, with what the log says MALL has."""
    fc = FastCentrikSide(seq=1, status=FastCentrikStatus.PENDING)
    state = OrderState("acme", order, mall_id, fc=fc, mall=MallSide(status=status, confirmed=confirmed))
    return ("acme", order), state


class Known:
    """The poll's view of this member's orders (`KnownOrders`, which `OrderBook` is), over a dict of states."""

    def __init__(self, states: dict[Key, OrderState]) -> None:
        self.states = states

    def names_orders_of(self, tenant_id: str) -> bool:
        return any(key[0] == tenant_id and state.fc.status is not None for key, state in self.states.items())

    def order_of_mall_id(self, tenant_id: str, mall_order_id: str) -> Key | None:
        found = (k for k, s in self.states.items() if k[0] == tenant_id and s.mall_order_id == mall_order_id)
        key = next(found, None)
        return key if key is not None and self.states[key].fc.status is not None else None

    def state(self, key: Key) -> OrderState | None:
        return self.states.get(key)


class Poll:
    def __init__(self, mall: FakeMall, states: dict[Key, OrderState], page_size: int = 2) -> None:
        self.reads: list[Key] = []
        self.recorded: list[SyncEventBase] = []
        self.metrics = PublisherMetrics()
        self.gate = TenantGate("acme", concurrency=2, metrics=self.metrics, pause_probe_s=0.0)
        self.poll = UnconfirmedPoll(
            client=mall,
            gates={"acme": self.gate},
            orders=Known(states),
            request_read=self.reads.append,
            metrics=self.metrics,
            stamp=lambda: Stamp(now=datetime(2026, 3, 1, 12, tzinfo=UTC), new_id=uuid.uuid4),
            record=self._record,
            page_size=page_size,
        )

    async def _record(self, event: SyncEventBase) -> None:
        self.recorded.append(event)

    def tenant_items(self) -> list[tuple[str, str, str, str]]:
        return [
            (type(e).__name__, e.tenant_id, e.order_number, e.code)
            for e in self.recorded
            if isinstance(e, AttentionNeeded | AttentionResolved) and e.scope == "tenant"
        ]


def lists(mall: FakeMall) -> list[int]:
    return [
        int(args["page"]) for method, what, args in mall.calls if method == "LIST" and what == "unconfirmed" and args
    ]


async def test_every_page_is_listed_and_only_orders_that_differ_from_the_log_are_read() -> None:
    mall = FakeMall()
    states = dict(
        [
            known("A-1", "101", MallStatus.CANCELLED, False),  # the log already has what MALL says
            known("A-2", "102", MallStatus.CANCELLED, None),  # MALL cancelled it: the log does not know yet
            known("A-3", "103", MallStatus.OPEN, True),  # MALL changed it since: unconfirmed again
            known("A-4", "104", MallStatus.OPEN, True),  # confirmed: not in the queue
        ]
    )
    for mall_id in ("101", "102", "103"):
        mall.orders[mall_id] = FakeMallOrder(MallStatus.CANCELLED if mall_id != "103" else MallStatus.OPEN)
    mall.orders["104"] = FakeMallOrder(MallStatus.OPEN, confirmed=True)
    mall.orders["105"] = FakeMallOrder(MallStatus.OPEN)  # no FastCentrik snapshot names it
    p = Poll(mall, states, page_size=2)

    result = await p.poll.poll_once(tenant())

    assert result is not None
    assert (result.pages, result.listed, result.to_read) == (2, 4, 2)
    assert lists(mall) == [1, 2]
    assert p.reads == [("acme", "A-2"), ("acme", "A-3")]
    assert [m for m, *_ in mall.calls] == ["LIST", "LIST"]  # the poll itself reads nothing, PUTs nothing
    assert p.metrics.registry.get_sample_value("mallbridge_publisher_unconfirmed_poll_pages_total", {"tenant": "acme"})


async def test_a_round_that_finds_nothing_new_asks_for_nothing() -> None:
    mall = FakeMall()
    states = dict([known("A-1", "101", MallStatus.CANCELLED, False), known("A-2", "102", MallStatus.SHIPPING, False)])
    mall.orders["101"] = FakeMallOrder(MallStatus.CANCELLED)
    mall.orders["102"] = FakeMallOrder(MallStatus.SHIPPING)
    p = Poll(mall, states)

    for _ in range(3):
        result = await p.poll.poll_once(tenant())
        assert result is not None
        assert (result.listed, result.to_read) == (2, 0)  # the round ran and listed both

    assert p.reads == []
    assert lists(mall) == [1, 1, 1]


async def test_a_page_that_fails_stops_the_round_before_any_read_and_is_counted() -> None:
    mall = FakeMall()
    states = dict(known(f"A-{i}", f"10{i}", MallStatus.OPEN, True) for i in range(1, 5))
    for i in range(1, 5):
        mall.orders[f"10{i}"] = FakeMallOrder(MallStatus.CANCELLED)
    p = Poll(mall, states, page_size=2)
    original = mall.list_orders

    async def list_orders(*args: Any, **kwargs: Any) -> MallOrderPage:
        if kwargs.get("page") == 2:  # MALL answers page 1, then says 429
            mall.fail("LIST", MallRateLimited("429", retry_after_s=0.01))
        return await original(*args, **kwargs)

    mall.list_orders = list_orders  # type: ignore[method-assign]
    assert await p.poll.poll_once(tenant()) is None
    assert lists(mall) == [1, 2]
    assert p.reads == []  # page 1's orders differ, but nothing is asked for from a half-listed queue
    outcome = {"tenant": "acme", "outcome": "rate_limited"}
    assert p.metrics.registry.get_sample_value("mallbridge_publisher_unconfirmed_polls_total", outcome) == 1


async def test_an_interval_of_0_turns_the_poll_off() -> None:
    mall = FakeMall()
    mall.orders["101"] = FakeMallOrder(MallStatus.CANCELLED)
    p = Poll(mall, dict([known("A-1", "101", MallStatus.OPEN, True)]))
    ready, stop = asyncio.Event(), asyncio.Event()
    ready.set()

    # with nothing to poll, run() returns by itself: stop is never set
    await asyncio.wait_for(p.poll.run({"acme": tenant(poll_s=0)}, ready=ready, stop=stop), timeout=5)
    assert mall.calls == []

    polled = asyncio.create_task(p.poll.run({"acme": tenant(poll_s=0.01)}, ready=ready, stop=stop))
    async with asyncio.timeout(5):
        while not lists(mall):
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(polled, timeout=5)
    assert p.reads == [("acme", "A-1")]  # the same tenant with an interval is polled


def test_the_interval_defaults_to_900_seconds() -> None:
    assert Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None).mall_poll_interval_s == 900


async def test_the_first_round_comes_soon_after_a_start_not_a_whole_interval_later(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(unconfirmed_poll, "FIRST_ROUND_AFTER_S", 0.05)
    mall = FakeMall()
    mall.orders["101"] = FakeMallOrder(MallStatus.CANCELLED)
    p = Poll(mall, dict([known("A-1", "101", MallStatus.OPEN, True)]))
    ready, stop = asyncio.Event(), asyncio.Event()
    ready.set()
    polled = asyncio.create_task(p.poll.run({"acme": tenant(poll_s=900)}, ready=ready, stop=stop))
    async with asyncio.timeout(5):  # not 900 s
        while not lists(mall):
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(polled, timeout=5)
    assert len(lists(mall)) == 1  # and the next one a whole interval later


async def test_a_refused_client_id_pauses_the_tenant_and_raises_its_item_once() -> None:
    mall = FakeMall()
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN)
    p = Poll(mall, dict([known("A-1", "101", MallStatus.OPEN, False)]))
    mall.fail("LIST", MallUnauthorized("401", http_status=401), MallUnauthorized("401", http_status=401))

    assert await p.poll.poll_once(tenant()) is None
    assert p.gate.paused
    assert await p.poll.poll_once(tenant()) is None  # the next round is the probe: refused again

    assert p.tenant_items() == [("AttentionNeeded", "acme", "", "mall_unauthorized")]
    assert p.gate.paused
    paused = p.metrics.registry.get_sample_value("mallbridge_publisher_tenant_paused", {"tenant": "acme"})
    assert paused == 1
    outcome = {"tenant": "acme", "outcome": "unauthorized"}
    assert p.metrics.registry.get_sample_value("mallbridge_publisher_unconfirmed_polls_total", outcome) == 2


async def test_an_answered_page_resumes_a_paused_tenant_and_resolves_its_item() -> None:
    mall = FakeMall()
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN)
    p = Poll(mall, dict([known("A-1", "101", MallStatus.OPEN, False)]))
    p.gate.pause_as_recorded()  # a restart with the tenant's item open, no order with work to probe

    assert await p.poll.poll_once(tenant()) is not None

    assert not p.gate.paused
    assert p.tenant_items() == [("AttentionResolved", "acme", "", "mall_unauthorized")]
    assert await p.poll.poll_once(tenant()) is not None
    assert len(p.tenant_items()) == 1  # an unpaused tenant's answer records nothing


async def test_a_429_makes_the_tenant_wait_and_records_nothing() -> None:
    mall = FakeMall()
    mall.orders["101"] = FakeMallOrder(MallStatus.OPEN)
    p = Poll(mall, dict([known("A-1", "101", MallStatus.OPEN, False)]))
    mall.fail("LIST", MallRateLimited("429", retry_after_s=0.3))

    assert await p.poll.poll_once(tenant()) is None
    started = asyncio.get_running_loop().time()
    assert await p.poll.poll_once(tenant()) is not None  # waited at the gate for MALL's retry-after
    assert asyncio.get_running_loop().time() - started >= 0.25
    assert p.recorded == []
    assert not p.gate.paused
