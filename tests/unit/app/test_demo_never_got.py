"""The demo's last row: balance must find the MALL order the shop never got, and only it, and the console list it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mallbridge_app.demo.never_got import NEVER_GOT, OPEN_FOR, judge, opened_at
from mallbridge_publisher.balance.drift import UNKNOWN_AFTER, Drift
from mallbridge_publisher.balance.mall_view import Spent
from mallbridge_publisher.balance.run import BalanceReport, TenantBalance
from mallbridge_schema.mall_format import PRAGUE
from mallbridge_schema.statuses import MallStatus

UNKNOWN = Drift("demo-shop", "unknown_to_fastcentrik", NEVER_GOT.mall_order_id, MallStatus.OPEN, opened_at="x")
STATUS = Drift("demo-shop", "status", "10085339302", MallStatus.SHIPPED, "D-1001", MallStatus.SHIPPING)


def _report(*drifts: Drift, recorded: bool = True) -> BalanceReport:
    return BalanceReport((TenantBalance("demo-shop", 9, drifts, 0, unknown_recorded=recorded),), Spent(pages=1))


def test_the_order_found_recorded_and_listed_is_as_expected() -> None:
    story, expected, actual, ok = judge(_report(UNKNOWN), listed=True)
    assert ok
    assert story is NEVER_GOT
    assert actual == expected == "balance: unknown_to_fastcentrik, recorded; in the console's queue"


def test_any_miss_is_told_and_fails_the_row() -> None:
    assert judge(_report(), listed=False)[2] == "balance: did not find it, recorded; not in the console"
    assert not judge(_report(UNKNOWN, recorded=False), listed=True)[3]
    assert not judge(_report(UNKNOWN), listed=False)[3]
    _, _, actual, ok = judge(_report(UNKNOWN, STATUS), listed=True)  # a story's order out of balance
    assert not ok
    assert "other drift: status 10085339302" in actual


def test_mall_opened_it_long_enough_ago_for_balance_to_call_it_unknown() -> None:
    moment = datetime.strptime(opened_at(), "%Y-%m-%d %H:%M:%S").replace(tzinfo=PRAGUE)
    assert abs(datetime.now(UTC) - moment - OPEN_FOR) < timedelta(minutes=1)
    assert UNKNOWN_AFTER < OPEN_FOR  # balance's rule: open for over an hour
