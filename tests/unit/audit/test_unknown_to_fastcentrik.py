"""`mallbridge balance`'s UnknownMallOrdersObserved in the audit: the MALL orders FastCentrik never got, per
tenant, as the last balance run saw them. Tenant-level (no order number): never an order's row, timeline or
`--verify` history; the latest by recorded_at replaces every earlier one, in one read and across the shares
of parallel workers; an empty one clears the figure. Information for a person: no effect on the exit code."""

from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import datetime, timedelta

import msgspec
import pytest
from rich.console import Console

from mallbridge_audit.assembly import assemble
from mallbridge_audit.export import report_json, write_csv
from mallbridge_audit.model import Report, UnknownToFastCentrik
from mallbridge_audit.render import write_table
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify import Verifier
from mallbridge_audit.views import decode_operator_event_full, decode_operator_fact, operator_fact_from_event
from mallbridge_schema.events import UnknownMallOrder, UnknownMallOrdersObserved
from mallbridge_schema.serde import EventDecodeError, encode_event
from mallbridge_schema.statuses import MallStatus
from tests.unit.domain.builders import ORDER, TENANT, first_seen, return_requested

from .scenario import AS_OF, H, T


def observed(at: datetime, *ids: str, total: int | None = None, tenant: str = TENANT) -> UnknownMallOrdersObserved:
    """Balance's observation recorded at `at`, listing `ids` (all of them, unless `total` says more)."""
    return UnknownMallOrdersObserved(
        event_id=uuid.uuid4(),
        tenant_id=tenant,
        occurred_at=at - timedelta(seconds=5),
        recorded_at=at,
        orders=tuple(
            UnknownMallOrder(mall_order_id=i, status=MallStatus.OPEN, opened_at="2026-10-05 06:00:00") for i in ids
        ),
        total=len(ids) if total is None else total,
    )


def builder_of(*events: UnknownMallOrdersObserved, scope: Scope | None = None) -> ReportBuilder:
    """A builder fed the events through the fast views, in this order."""
    builder = ReportBuilder(scope)
    for event in events:
        builder.add_operator_fact(decode_operator_fact(encode_event(event)))
    return builder


def figure(report: Report, tenant: str = TENANT) -> UnknownToFastCentrik | None:
    [row] = [t for t in report.tenants if t.tenant_id == tenant]
    return row.unknown_to_fastcentrik


# ---- the figure --------------------------------------------------------------------------------------


def test_one_observation_is_the_tenants_figure_and_makes_no_order() -> None:
    builder = builder_of(observed(T, "300000000091", "300000000092", total=7))
    report = builder.finish(as_of=AS_OF)
    assert figure(report) == UnknownToFastCentrik(7, ("300000000091", "300000000092"), T)
    [tenant] = report.tenants  # the tenant has its row, though it has no order in the log
    assert (tenant.orders, report.orders, report.operator_events) == (0, (), 1)


def test_the_event_is_no_order_of_a_tenant_with_orders() -> None:
    builder = ReportBuilder()
    builder.add_order_event(first_seen("settled"))
    builder.add_operator_fact(decode_operator_fact(encode_event(observed(T, "300000000091"))))
    builder.add_operator_event(observed(T + H, "300000000092"))  # the full event: the same fold
    report = builder.finish(as_of=AS_OF)
    assert [o.order_number for o in report.orders] == [ORDER]
    assert (report.tenants[0].orders, figure(report)) == (1, UnknownToFastCentrik(1, ("300000000092",), T + H))


def test_the_latest_by_recorded_at_wins_in_whatever_order_they_are_read() -> None:
    older, newer = observed(T, "300000000091", "300000000092"), observed(T + H, "300000000093")
    expected = UnknownToFastCentrik(1, ("300000000093",), T + H)
    assert figure(builder_of(older, newer).finish(as_of=AS_OF)) == expected
    assert figure(builder_of(newer, older).finish(as_of=AS_OF)) == expected  # the older one read later


def test_an_empty_observation_says_there_are_none_any_more() -> None:
    report = builder_of(observed(T, "300000000091"), observed(T + H)).finish(as_of=AS_OF)
    assert figure(report) == UnknownToFastCentrik(0, (), T + H)


@pytest.mark.parametrize("flip", [False, True], ids=["older-share-first", "newer-share-first"])
def test_the_latest_wins_across_the_shares_of_parallel_workers(flip: bool) -> None:
    older = builder_of(observed(T, "300000000091"), observed(T + 2 * H, "300000000092"))
    newer = builder_of(observed(T + 3 * H, "300000000093"), observed(T + H, "300000000094"))
    other = builder_of(observed(T + 4 * H, "300000000095", tenant="zeta"))
    parts = [older.partial(), newer.partial(), other.partial()]
    report = assemble(parts[::-1] if flip else parts, scope=Scope(), as_of=AS_OF)
    assert figure(report) == UnknownToFastCentrik(1, ("300000000093",), T + 3 * H)
    assert figure(report, "zeta") == UnknownToFastCentrik(1, ("300000000095",), T + 4 * H)


def test_it_is_about_the_tenant_whatever_the_order_or_window_and_only_of_the_tenants_in_scope() -> None:
    event = observed(T, "300000000091")
    for scope in (Scope(orders=frozenset({"X-1"})), Scope(since=T + H), Scope(tenants=frozenset({TENANT}))):
        assert figure(builder_of(event, scope=scope).finish(as_of=AS_OF)) is not None, scope
    assert builder_of(event, scope=Scope(tenants=frozenset({"zeta"}))).finish(as_of=AS_OF).tenants == ()


def test_a_tenant_never_observed_has_no_figure() -> None:
    builder = ReportBuilder()
    builder.add_order_event(first_seen("settled"))
    assert figure(builder.finish(as_of=AS_OF)) is None


# ---- no order's timeline, nor --verify ---------------------------------------------------------------


def test_it_is_in_no_timeline_even_when_timelines_are_kept() -> None:
    builder = ReportBuilder(Scope(orders=frozenset({ORDER})))
    builder.add_order_event(first_seen("settled"))
    builder.add_operator_event(observed(T, "300000000091"))
    report = builder.finish(as_of=AS_OF)
    assert list(report.timelines) == [(TENANT, ORDER)]
    assert [e.type for e in report.timelines[(TENANT, ORDER)]] == ["OrderFirstSeen"]
    assert figure(report) is not None
    assert builder._timelines.keys() == {(TENANT, ORDER)}  # not kept and dropped at the end: never kept


def test_verify_skips_it_it_is_about_no_orders_puts() -> None:
    verifier = Verifier()
    verifier.add_order_event(first_seen("settled"))
    verifier.add_operator_event(observed(T, "300000000091"))
    verifier.add_operator_event(return_requested(at=T))  # an order's operator event: kept for the order
    assert set(verifier._orders) == {(TENANT, ORDER)}  # no order "" appeared
    alone = Verifier()
    alone.add_operator_event(observed(T, "300000000091"))
    result = alone.finish(as_of=AS_OF)
    assert (result.orders_checked, result.differences, result.warnings) == (0, (), ())


# ---- the fast view -----------------------------------------------------------------------------------


def test_the_fast_view_equals_the_schemas_event() -> None:
    event = observed(T, "300000000091", "300000000092", total=3)
    raw = encode_event(event)
    fact = decode_operator_fact(raw)
    assert fact == operator_fact_from_event(event)
    assert (fact.order_number, fact.total, [o.mall_order_id for o in fact.orders]) == (
        "",
        3,
        ["300000000091", "300000000092"],
    )
    assert decode_operator_event_full(raw) == event


@pytest.mark.parametrize(
    "change",
    [
        {"order_number": "A-1"},
        {"mall_order_id": "300000000091"},
        {"total": 1},  # fewer than listed
        {"orders": [{"mall_order_id": "300000000091", "status": "open"}] * 2},  # one id twice
        {"orders": [{"mall_order_id": "30000000009x", "status": "open"}], "total": 1},
        {"orders": [{"mall_order_id": "٣٠٠", "status": "open"}], "total": 1},  # digits, not ASCII ones
        {"orders": [{"mall_order_id": "", "status": "open"}], "total": 1},
        {"orders": [{"mall_order_id": "300000000091", "status": "settled"}], "total": 1},
        {"orders": [{"mall_order_id": str(300000000000 + i), "status": "open"} for i in range(1001)], "total": 1001},
    ],
)
def test_what_the_schema_refuses_the_fast_view_does_not_take(change: dict[str, object]) -> None:
    value = {**msgspec.json.decode(encode_event(observed(T, "300000000091", "300000000092"))), **change}
    raw = msgspec.json.encode(value)
    with pytest.raises(EventDecodeError):
        decode_operator_event_full(raw)
    with pytest.raises(EventDecodeError):
        decode_operator_fact(raw)


def test_without_orders_or_total_it_is_an_empty_observation_on_both_paths() -> None:
    value = msgspec.json.decode(encode_event(observed(T, "300000000091")))
    del value["orders"], value["total"]
    raw = msgspec.json.encode(value)
    assert decode_operator_fact(raw) == operator_fact_from_event(decode_operator_event_full(raw))
    assert decode_operator_fact(raw).total == 0


# ---- what the report shows ---------------------------------------------------------------------------


def _two_tenants() -> Report:
    many = observed(T + H, *(str(300000000091 + i) for i in range(7)), total=9)
    builder = builder_of(observed(T, "300000000001"), many, observed(T + H, tenant="zeta"))
    builder.add_order_event(first_seen("settled").model_copy(update={"tenant_id": "omega"}))
    return builder.finish(as_of=AS_OF)


def _tenants_json(report: Report) -> dict[str, dict[str, object]]:
    data = json.loads(json.dumps(report_json(report, meta={})))
    return {t["tenant_id"]: t for t in data["tenants"]}


def test_json_gives_the_total_every_listed_id_and_when_or_null() -> None:
    tenants = _tenants_json(_two_tenants())
    assert tenants[TENANT]["unknown_to_fastcentrik"] == {
        "total": 9,
        "mall_order_ids": [str(300000000091 + i) for i in range(7)],
        "seen_at": (T + H).isoformat(),
    }
    assert tenants["zeta"]["unknown_to_fastcentrik"] == {
        "total": 0,
        "mall_order_ids": [],
        "seen_at": (T + H).isoformat(),
    }
    assert tenants["omega"]["unknown_to_fastcentrik"] is None  # balance never recorded any


def test_the_table_has_a_line_only_for_a_tenant_with_some() -> None:
    out = io.StringIO()
    write_table(_two_tenants(), Console(file=out, width=250), meta={})
    lines = [line for line in out.getvalue().splitlines() if "FastCentrik never got" in line]
    assert lines == [
        "tenant acme: 9 MALL orders FastCentrik never got (mallbridge balance at 2026-10-05 09:00:00+00:00): "
        "300000000091, 300000000092, 300000000093, 300000000094, 300000000095 and 4 more"
    ]


def test_csv_has_the_total_the_ids_and_when() -> None:
    out = io.StringIO()
    write_csv(_two_tenants(), out, table="tenants")
    rows = {r["tenant_id"]: r for r in csv.DictReader(io.StringIO(out.getvalue()))}
    assert rows[TENANT]["unknown_to_fastcentrik"] == "9"
    assert rows[TENANT]["unknown_to_fastcentrik_ids"].split(";")[:2] == ["300000000091", "300000000092"]
    assert rows["zeta"]["unknown_to_fastcentrik"] == "0"
    assert rows["omega"]["unknown_to_fastcentrik"] == rows["omega"]["unknown_to_fastcentrik_ids"] == ""
    assert rows[TENANT]["unknown_to_fastcentrik_seen_at"] == (T + H).isoformat()
