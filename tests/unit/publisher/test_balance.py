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
from mallbridge_publisher.balance.drift import TenantLog, compare, unknown_drift
from mallbridge_publisher.balance.mall_view import BalanceCannotRun
from mallbridge_publisher.balance.render import render_table, report_dict
from mallbridge_publisher.balance.run import BalanceRun
from mallbridge_publisher.ports import MallBasicOrder, MallOutcomeUnknown, MallRateLimited, MallUnauthorized
from mallbridge_schema.events import MallStateObserved, MallStatusUpdated
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
    assert all(isinstance(e, MallStateObserved) and e.source == "balance" for e in recorded)
    assert report_dict(first)["requests"] == {"total": 5, "list_pages": 4, "detail_reads": 1, "rate_limited": 0}

    second = await run_of(log, mall)([ACME])
    assert [d.kind for d in second.drifts] == ["unknown_to_fastcentrik"]  # recorded drift is no longer drift
    assert len(log.records(TOPICS.operator_events)) == 2
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
