"""`mallbridge balance` on fakes of our ports: what is drift (and what recorded drift is), the unknown
orders' hour, what one run records and spends, and a run that cannot finish recording nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest
from click.testing import CliRunner
from pydantic import SecretStr

from mallbridge_core.domain.mall_side import MallSide
from mallbridge_core.domain.projection import FastCentrikSide, OrderState
from mallbridge_core.eventlog import OutgoingRecord
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.balance import cli as balance_cli
from mallbridge_publisher.balance.drift import (
    Drift,
    TenantLog,
    UnknownSet,
    compare,
    unknown_drift,
    unknown_observation,
)
from mallbridge_publisher.balance.mall_view import BalanceCannotRun
from mallbridge_publisher.balance.render import render_table, report_dict
from mallbridge_publisher.balance.run import BalanceRun
from mallbridge_publisher.ports import MallBasicOrder, MallOutcomeUnknown, MallRateLimited, MallUnauthorized
from mallbridge_schema.events import (
    MAX_UNKNOWN_LISTED,
    MallStateObserved,
    MallStatusUpdated,
    UnknownMallOrdersObserved,
)
from mallbridge_schema.mall_format import format_mall_datetime
from mallbridge_schema.serde import decode_operator_event, encode_event, event_key
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus
from tests.support.orders import OrderEventWriter
from tests.unit.publisher.fakes import FakeEventLog, FakeMall, FakeMallOrder

S = MallStatus
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PREFIX = "bal."
TOPICS = Topics(prefix=PREFIX)
ACME = Tenant(tenant_id="acme", mall_client_id=SecretStr("cid"), ingest_secret=None)


def state(order: str, mall_id: str, mall_status: MallStatus = S.OPEN) -> OrderState:
    fc = FastCentrikSide(seq=1, status=FastCentrikStatus.PENDING)
    return OrderState("acme", order, mall_id, fc, MallSide(status=mall_status, status_by="us"))


def basic(mall_id: str, status: MallStatus | None, confirmed: bool | None = True) -> MallBasicOrder:
    return MallBasicOrder(mall_id, status, confirmed)


def test_a_status_differing_from_the_log_is_drift_unless_the_log_already_recorded_it() -> None:
    log = TenantLog(
        {"1": state("A", "1"), "2": state("B", "2"), "3": state("C", "3", S.SHIPPING)},
        balance_recorded={"B": S.SHIPPED},
    )
    listed = [basic("1", S.SHIPPING), basic("2", S.SHIPPED), basic("3", S.SHIPPING), basic("9", S.OPEN)]
    result = compare("acme", listed, log)
    assert [(d.order_number, d.log_status, d.mall_status) for d in result.drifts] == [("A", S.OPEN, S.SHIPPING)]
    assert [o.id for o in result.unknown] == ["9"]


def test_blocked_and_unreadable_orders_fastcentrik_has_not_named_are_not_read() -> None:
    result = compare("acme", [basic("8", S.BLOCKED), basic("7", None)], TenantLog({}, {}))
    assert (result.drifts, result.unknown) == ((), ())


@pytest.mark.parametrize(
    ("opened", "drifted"),
    [
        (NOW - timedelta(hours=2), True),
        (NOW - timedelta(minutes=59), False),
        (None, True),  # past blocked, so MALL opened it, at a moment it does not say
    ],
)
def test_an_unknown_order_is_drift_once_open_for_over_an_hour(opened: datetime | None, drifted: bool) -> None:
    text = format_mall_datetime(opened) if opened is not None else None
    drift = unknown_drift("acme", basic("9", S.OPEN), text, now=NOW)
    assert (drift is not None) is drifted
    if drift is not None:
        assert (drift.kind, drift.order_number, drift.opened_at, drift.recordable) == (
            "unknown_to_fastcentrik",
            "",
            text,
            False,
        )


async def prepared(mall: FakeMall) -> FakeEventLog:
    log = FakeEventLog()
    w = OrderEventWriter(log, TOPICS.order_events)
    await w.write(*[w.first_seen("acme", f"A-{i}", str(100 + i), "pending") for i in range(6)])
    for i in range(6):
        mall.orders[str(100 + i)] = FakeMallOrder(S.OPEN, confirmed=True)
    return log


def run_of(log: FakeEventLog, mall: FakeMall, page_size: int = 2) -> BalanceRun:
    return BalanceRun(log, mall, PREFIX, lambda: NOW, page_size=page_size)


async def test_a_run_records_each_status_drift_once_and_counts_the_pages() -> None:
    mall = FakeMall()
    log = await prepared(mall)
    mall.orders["102"].status = S.SHIPPING
    mall.orders["104"].status = S.BLOCKED
    mall.orders["199"] = FakeMallOrder(
        S.OPEN, confirmed=False, opened_at=format_mall_datetime(NOW - timedelta(hours=3))
    )

    first = await run_of(log, mall)([ACME])
    kinds = [(d.kind, d.order_number or d.mall_order_id, d.mall_status) for d in first.drifts]
    assert kinds == [
        ("status", "A-2", S.SHIPPING),
        ("status", "A-4", S.BLOCKED),
        ("unknown_to_fastcentrik", "199", S.OPEN),
    ]
    assert (first.spent.pages, first.spent.details, first.spent.total) == (4, 1, 5)  # 7 orders, 2 a page
    recorded = [decode_operator_event(r.value) for r in log.records(TOPICS.operator_events)]
    assert {(e.order_number, e.status) for e in recorded if isinstance(e, MallStateObserved)} == {
        ("A-2", S.SHIPPING),
        ("A-4", S.BLOCKED),
    }
    observed = [e for e in recorded if e.order_number]
    assert len(observed) == 2
    assert all(isinstance(e, MallStateObserved) and e.source == "balance" for e in observed)
    unknown = [e for e in recorded if not e.order_number]  # the console's list of them: the tenant's whole set
    assert [type(e) for e in unknown] == [UnknownMallOrdersObserved]
    assert [
        (e.total, [o.mall_order_id for o in e.orders]) for e in unknown if isinstance(e, UnknownMallOrdersObserved)
    ] == [(1, ["199"])]
    assert report_dict(first)["requests"] == {"total": 5, "list_pages": 4, "detail_reads": 1, "rate_limited": 0}

    second = await run_of(log, mall)([ACME])
    assert [d.kind for d in second.drifts] == ["unknown_to_fastcentrik"]  # recorded drift is no longer drift
    assert len(log.records(TOPICS.operator_events)) == 3  # and the same unknown orders are not recorded again
    assert "drift found: 1" in render_table(second)


async def test_a_claim_the_log_moved_past_no_longer_hides_the_same_status_later() -> None:
    """The first run records A-2 `shipping`; the publisher then reads it and sends `shipped`. When MALL shows
    `shipping` again (MALL Operations moved it back), that is new drift, not the old recorded one."""
    mall = FakeMall()
    log = await prepared(mall)
    mall.orders["102"].status = S.SHIPPING
    first = await run_of(log, mall)([ACME])
    assert [(d.order_number, d.mall_status) for d in first.drifts] == [("A-2", S.SHIPPING)]
    later = NOW + timedelta(minutes=5)
    shipped = MallStatusUpdated(
        event_id=uuid4(),
        tenant_id="acme",
        order_number="A-2",
        mall_order_id="102",
        occurred_at=later,
        recorded_at=later,
        based_on_seq=1,
        request_no=1,
        status=S.SHIPPED,
        request={"status": "shipped"},
        http_status=200,
        latency_ms=3.0,
    )
    await log.append(TOPICS.sync_events, [OutgoingRecord(event_key("acme", "A-2"), encode_event(shipped))])

    second = await BalanceRun(log, mall, PREFIX, lambda: later, page_size=2)([ACME])
    assert [(d.order_number, d.log_status, d.mall_status) for d in second.drifts] == [("A-2", S.SHIPPED, S.SHIPPING)]
    third = await BalanceRun(log, mall, PREFIX, lambda: later, page_size=2)([ACME])
    assert third.drifts == ()  # and, recorded, it is listed once


async def test_in_balance_says_so_and_spends_only_the_pages() -> None:
    mall = FakeMall()
    log = await prepared(mall)
    report = await run_of(log, mall, page_size=100)([ACME])
    assert (report.in_balance, report.spent.total, report.spent.pages) == (True, 1, 1)
    assert render_table(report).splitlines()[-2:] == [
        "MALL requests spent: 1 (1 list page, 0 detail reads)",
        "in balance",
    ]


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (MallUnauthorized("GET /orders page 2: HTTP 401: bad", http_status=401), "refused the client_id (HTTP 401)"),
        (MallOutcomeUnknown("GET /orders page 2: connection failed"), "MALL is unreachable"),
    ],
)
async def test_a_run_mall_cannot_answer_records_nothing(error: Exception, words: str) -> None:
    mall = FakeMall()
    log = await prepared(mall)
    mall.orders["102"].status = S.SHIPPING

    real = mall.list_orders
    calls = 0

    async def list_orders(*args: object, **kwargs: object) -> object:
        nonlocal calls
        calls += 1
        if calls == 2:
            raise error
        return await real(*args, **kwargs)  # type: ignore[arg-type]

    mall.list_orders = list_orders  # type: ignore[method-assign,assignment]
    with pytest.raises(BalanceCannotRun) as caught:
        await run_of(log, mall)([ACME])
    assert words in str(caught.value)
    assert "cid" not in str(caught.value)
    assert log.records(TOPICS.operator_events) == []


async def test_a_429_is_waited_out_and_counted() -> None:
    mall = FakeMall()
    log = await prepared(mall)
    mall.fail("LIST", MallRateLimited("429", retry_after_s=7.0))
    waited: list[float] = []

    async def sleep(seconds: float) -> None:
        waited.append(seconds)

    run = run_of(log, mall, page_size=100)
    report = await BalanceRun(log, mall, PREFIX, lambda: NOW, page_size=100, sleep=sleep)([ACME])
    assert (report.spent.pages, report.spent.rate_limited, waited) == (2, 1, [7.0])
    assert run.page_size == 100


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("MALLBRIDGE_PUBLISHER_MALL_PAGE_SIZE", "50", "Input should be greater than or equal to 100"),
        ("MALLBRIDGE_PUBLISHER_READ_TIMEOUT_S", "soon", "Input should be a valid number"),
    ],
)
def test_a_bad_publisher_variable_is_could_not_run_not_drift(
    tmp_path: Path, variable: str, value: str, expected: str
) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text('[tenants.acme]\nmall_client_id = "env:ACME_ID"\n')
    db = tmp_path / "events.db"
    db.touch()
    args = ["--tenants", str(tenants), "--log", f"sqlite:///{db}"]
    result = CliRunner().invoke(balance_cli.balance, args, env={variable: value, "ACME_ID": "k"})
    # was a ValidationError traceback and exit 1, the exit code that says "drift found"
    assert result.exit_code == 2, result.output
    assert f"Error: {variable}: {expected}" in result.stderr
    assert f"(got {value!r})" in result.stderr


async def test_a_mall_order_two_fastcentrik_orders_name_is_told_but_is_no_drift() -> None:
    """Both orders' statuses go to the one MALL order; MALL and the log may agree, so it is a warning, not
    drift (the exit code stays), listed while MALL has the order in a non-final status."""
    mall = FakeMall()
    log = await prepared(mall)
    w = OrderEventWriter(log, TOPICS.order_events)
    await w.write(w.first_seen("acme", "A-2-dup", "102", "pending"), w.first_seen("acme", "A-5-dup", "105", "pending"))
    mall.orders["105"].status = S.DELIVERED  # final: not listed, so not told

    report = await run_of(log, mall, page_size=100)([ACME])

    assert report.in_balance
    assert [(s.mall_order_id, s.order_numbers) for s in report.shared] == [("102", ("A-2", "A-2-dup"))]
    assert "warning: acme: MALL order 102 is named by FastCentrik orders A-2, A-2-dup" in render_table(report)
    assert render_table(report).splitlines()[-1] == "in balance"
    assert report_dict(report)["shared_mall_ids"] == [
        {"tenant": "acme", "mall_order_id": "102", "order_numbers": ["A-2", "A-2-dup"]}
    ]
    assert log.records(TOPICS.operator_events) == []  # nothing recorded for it


# ---- the MALL orders unknown to FastCentrik, recorded as one set per tenant for the console ----------------


def unknown(mall_id: str, opened_at: str | None = "2026-03-02 09:00:00") -> Drift:
    return Drift("acme", "unknown_to_fastcentrik", mall_id, S.OPEN, opened_at=opened_at)


def recorded_set(*ids: str, total: int | None = None) -> UnknownSet:
    return UnknownSet(frozenset(ids), len(ids) if total is None else total)


def test_the_unknown_orders_are_recorded_only_when_their_set_changes() -> None:
    status = Drift("acme", "status", "1", S.SHIPPING, "A-1", log_status=S.OPEN)

    def observed(drifts: tuple[Drift, ...], before: UnknownSet | None) -> UnknownMallOrdersObserved | None:
        return unknown_observation("acme", drifts, before, now=NOW, new_id=uuid4)

    assert observed((status,), None) is None  # none now, and never any: nothing to say
    assert observed((status, unknown("9")), recorded_set("9")) is None  # the log says the same
    new = observed((unknown("9"), unknown("8")), recorded_set("9"))
    assert new is not None
    assert [o.mall_order_id for o in new.orders] == ["8", "9"]
    assert new.total == 2
    assert (new.tenant_id, new.order_number, new.mall_order_id, new.recorded_at) == ("acme", "", "", NOW)
    gone = observed((status,), recorded_set("9"))  # all named or closed since: an empty set clears the list
    assert gone is not None
    assert (gone.orders, gone.total) == ((), 0)
    assert observed((), recorded_set()) is None


def test_the_unknown_orders_go_oldest_first_and_at_most_the_cap_are_listed() -> None:
    drifts = (unknown("3", None), unknown("2", "2026-03-02 08:00:00"), unknown("1", "2026-03-02 10:00:00"))
    ordered = unknown_observation("acme", drifts, None, now=NOW, new_id=uuid4)
    assert ordered is not None
    assert [o.mall_order_id for o in ordered.orders] == ["2", "1", "3"]
    assert [o.opened_at for o in ordered.orders] == ["2026-03-02 08:00:00", "2026-03-02 10:00:00", None]

    many = tuple(unknown(str(10_000 + i)) for i in range(MAX_UNKNOWN_LISTED + 5))
    capped = unknown_observation("acme", many, None, now=NOW, new_id=uuid4)
    assert capped is not None
    assert (len(capped.orders), capped.total) == (MAX_UNKNOWN_LISTED, MAX_UNKNOWN_LISTED + 5)
    listed = {o.mall_order_id for o in capped.orders}
    assert unknown_observation("acme", many, recorded_set(*listed, total=len(many)), now=NOW, new_id=uuid4) is None
    assert unknown_observation("acme", many, recorded_set(*listed), now=NOW, new_id=uuid4) is not None  # total moved


async def test_an_unknown_order_a_snapshot_names_later_leaves_the_recorded_list() -> None:
    mall = FakeMall()
    log = await prepared(mall)
    opened = format_mall_datetime(NOW - timedelta(hours=3))
    for mall_id in ("198", "199"):
        mall.orders[mall_id] = FakeMallOrder(S.OPEN, confirmed=False, opened_at=opened)

    def unknown_lists() -> list[list[str]]:
        events = [decode_operator_event(r.value) for r in log.records(TOPICS.operator_events)]
        return [[o.mall_order_id for o in e.orders] for e in events if isinstance(e, UnknownMallOrdersObserved)]

    first = await run_of(log, mall, page_size=100)([ACME])
    assert unknown_lists() == [["198", "199"]]
    assert first.tenants[0].unknown_recorded
    assert "acme: the console's list of MALL orders unknown to FastCentrik recorded (2 now)" in render_table(first)
    again = await run_of(log, mall, page_size=100)([ACME])
    assert unknown_lists() == [["198", "199"]]
    assert not again.tenants[0].unknown_recorded
    assert (report_dict(first)["unknown_recorded_for"], report_dict(again)["unknown_recorded_for"]) == (["acme"], [])

    w = OrderEventWriter(log, TOPICS.order_events)
    await w.write(w.first_seen("acme", "A-199", "199", "pending"))  # the shop got it after all
    await run_of(log, mall, page_size=100)([ACME])
    mall.orders["198"].status = S.CANCELLED  # a person cancelled the other at MALL: final, no longer listed
    await run_of(log, mall, page_size=100)([ACME])
    assert unknown_lists() == [["198", "199"], ["198"], []]
