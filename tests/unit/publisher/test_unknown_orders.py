"""The MALL orders the shop never got, as balance's `UnknownMallOrdersObserved` says: the pure book that keeps the
latest per tenant, and the running publisher that fills it from the rebuild and the live tail, drops it with
its partition, and exports its count as a gauge."""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import timedelta

from mallbridge_publisher.bootstrap import PublisherService
from mallbridge_publisher.unknown_orders import UnknownOrdersBook
from mallbridge_schema.serde import event_key
from mallbridge_schema.statuses import MallStatus
from tests.unit.domain.builders import T0, acknowledged
from tests.unit.publisher.fakes import FakeEventLog, FakeMall
from tests.unit.publisher.running import eventually_on_loop, running_publisher
from tests.unit.publisher.test_engine import FAST, PREFIX, TENANTS, TOPICS, sample
from tests.unit.publisher.unknown_seen import SEEN_AT, record_unknown, unknown, unknown_seen

LATER = SEEN_AT + timedelta(hours=1)

# ---- the book ------------------------------------------------------------------------------------------------


def _listed(book: UnknownOrdersBook) -> list[tuple[str, tuple[str, ...], int]]:
    return [(seen.tenant_id, tuple(o.mall_order_id for o in seen.orders), seen.total) for seen in book.outstanding()]


def test_the_latest_by_its_recording_moment_wins_whatever_the_order_of_folding() -> None:
    book = UnknownOrdersBook(["acme"])
    book.fold(unknown_seen("acme", "2", at=LATER), 1)
    book.fold(unknown_seen("acme", "1", "3", at=SEEN_AT), 1)  # an older one, folded later (a rebuild)
    assert _listed(book) == [("acme", ("2",), 1)]
    book.fold(unknown_seen("acme", "4", "5", total=1200, at=LATER + timedelta(minutes=1)), 1)
    assert _listed(book) == [("acme", ("4", "5"), 1200)]
    assert book.total("acme") == 1200


def test_what_one_run_saw_is_kept_as_balance_wrote_it() -> None:
    book = UnknownOrdersBook(["acme"])
    entries = (unknown("7", MallStatus.SHIPPING, None), unknown("8", MallStatus.OPEN, "2026-03-02 07:14:03"))
    book.fold(unknown_seen("acme", *entries, total=5), 2)
    [seen] = book.outstanding()
    assert (seen.orders, seen.total, seen.seen_at, seen.partition) == (entries, 5, SEEN_AT, 2)


def test_an_empty_observation_says_there_are_none_any_more() -> None:
    book = UnknownOrdersBook(["acme"])
    book.fold(unknown_seen("acme", "1", total=3), 1)
    book.fold(unknown_seen("acme", at=LATER), 1)
    assert (_listed(book), book.total("acme")) == ([], 0)


def test_each_tenant_has_its_own_another_lanes_tenant_and_other_events_are_ignored() -> None:
    book = UnknownOrdersBook(["acme", "beta"])
    book.fold(unknown_seen("acme", "1", "2"), 1)
    book.fold(unknown_seen("beta", "9"), 0)
    book.fold(unknown_seen("gamma", "5"), 0)  # not this lane's tenant
    book.fold(acknowledged("mall_rejected", at=T0), 1)  # an order's event: not this book's
    book.fold(unknown_seen("beta", at=LATER), 0)
    assert _listed(book) == [("acme", ("1", "2"), 2)]
    assert (book.total("beta"), book.total("gamma"), book.total("nobody")) == (0, 0, 0)


def test_a_revoke_drops_what_came_from_the_revoked_partitions_only() -> None:
    book = UnknownOrdersBook(["acme", "beta"])
    book.fold(unknown_seen("acme", "1"), 1)
    book.fold(unknown_seen("beta", "9"), 0)
    book.drop([1, 2])
    assert _listed(book) == [("beta", ("9",), 1)]
    book.fold(unknown_seen("acme", "1"), 1)  # the rebuild of partition 1 brings it back
    assert [seen.tenant_id for seen in book.outstanding()] == ["acme", "beta"]


# ---- the running publisher -------------------------------------------------------------------------------------

TAIL_OFTEN = FAST.model_copy(update={"operator_tail_interval_s": 0.01})


def running(log: FakeEventLog) -> AbstractAsyncContextManager[PublisherService]:
    return running_publisher(log, FakeMall(), settings=TAIL_OFTEN, tenants=TENANTS, prefix=PREFIX)


def _gauge(service: PublisherService, tenant: str = "acme") -> float | None:
    return sample(service, "mallbridge_publisher_unknown_mall_orders", tenant=tenant)


def _held(service: PublisherService) -> list[tuple[str, tuple[str, ...], int]]:
    return _listed(service.engines[0].unknown_orders)


async def test_a_start_rebuilds_the_latest_observation_and_the_gauge_counts_it() -> None:
    log = FakeEventLog()
    await record_unknown(
        log,
        TOPICS.operator_events,
        unknown_seen("acme", "3", total=7, at=LATER),
        unknown_seen("acme", "1", "2", at=SEEN_AT),  # recorded earlier (appended later): replaced
        unknown_seen("beta", "9"),  # a tenant this publisher does not serve
    )
    async with running(log) as service:
        assert _gauge(service) == 7  # ready: the rebuild has folded it
        assert _held(service) == [("acme", ("3",), 7)]
        assert _gauge(service, "beta") is None


async def test_the_live_tail_folds_a_new_observation_and_an_empty_one_clears_it() -> None:
    log = FakeEventLog()
    async with running(log) as service:
        assert _gauge(service) == 0  # a tenant with no observation counts none
        await record_unknown(log, TOPICS.operator_events, unknown_seen("acme", "1", "2"))
        await eventually_on_loop(lambda: _gauge(service) == 2)
        assert _held(service) == [("acme", ("1", "2"), 2)]
        await record_unknown(log, TOPICS.operator_events, unknown_seen("acme", at=LATER))
        await eventually_on_loop(lambda: _gauge(service) == 0)
        assert _held(service) == []
        assert len(service.engines[0].orders) == 0  # a tenant-level event is no order


async def test_the_observation_leaves_with_its_partition_and_a_rebuild_brings_it_back() -> None:
    log = FakeEventLog()
    await record_unknown(log, TOPICS.operator_events, unknown_seen("acme", "1"))
    home = log.partition_of(event_key("acme", ""))
    everything = frozenset(range(log.partitions))
    async with running(log) as service:
        member = log.subscriptions[-1]
        assert _gauge(service) == 1
        await member.rebalance(everything - {home})
        assert (_gauge(service), _held(service)) == (0, [])
        await member.rebalance(everything)
        assert (_gauge(service), _held(service)) == (1, [("acme", ("1",), 1)])
