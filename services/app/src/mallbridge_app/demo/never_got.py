"""The demo's last story: a MALL order the shop never got, found by `mallbridge balance` and shown in the console.

MALL opened the order three hours ago and told ingest through its webhook, but no FastCentrik snapshot ever
named it: a customer paid for goods nobody will ship. The publisher sends nothing for it (there is nothing
to plan from); the daily `mallbridge balance` lists it as `unknown_to_fastcentrik` and records the tenant's
set, and the console's queue shows it to a person. The demo runs balance once, after the other stories
are judged (its observations would otherwise be part of what they are judged on).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta

from mallbridge_app.demo.scenario import Story
from mallbridge_app.demo.services import DemoServices
from mallbridge_publisher.balance.run import BalanceReport
from mallbridge_schema.mall_format import format_mall_datetime

NEVER_GOT = Story(
    "—",  # no FastCentrik order names it
    "10085339400",
    "a MALL order the shop never got: open at MALL for 3 hours, no snapshot; balance finds it",
    steps=(),
    final_mall="open",
    expect_puts=(),
)
OPEN_FOR = timedelta(hours=3)


def opened_at() -> str:
    """When MALL opened it, as MALL writes it (Prague time)."""
    return format_mall_datetime(datetime.now(UTC) - OPEN_FOR)


async def find_it(
    services: DemoServices, order_numbers: Sequence[str], *, timeout_s: float
) -> tuple[Story, str, str, bool]:
    """Once the publisher has recorded the outcome of every PUT of `order_numbers` (the other stories), run
    balance, wait until the console lists the order, and judge: one summary row."""
    await _until(lambda: services.settled(order_numbers), timeout_s=timeout_s)
    report = await services.run_balance()
    # the publisher's operator-events tail reads every 0.2 s in the demo
    listed = await _until(lambda: _in_console(services), timeout_s=timeout_s)
    return judge(report, listed)


async def _until(condition: Callable[[], bool], *, timeout_s: float) -> bool:
    """Look at `condition` (what the running services change) until it holds or the time is up: whether it held."""
    deadline = time.monotonic() + timeout_s
    while True:
        if condition():
            return True
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)


def _in_console(services: DemoServices) -> bool:
    console = services.publisher.console
    assert console is not None  # the demo always runs the console
    return any(NEVER_GOT.mall_order_id in {o.mall_order_id for o in seen.orders} for seen in console.unknown_orders())


def judge(report: BalanceReport, listed: bool) -> tuple[Story, str, str, bool]:
    """Balance must find exactly this order, unknown to FastCentrik, and nothing else out of balance (every
    other story's order is where the log says it is); the console must list it."""
    expected = "balance: unknown_to_fastcentrik, recorded; in the console's queue"
    found = [(d.kind, d.mall_order_id) for d in report.drifts]
    unknown = ("unknown_to_fastcentrik", NEVER_GOT.mall_order_id) in found
    others = [f"{kind} {mall_id}" for kind, mall_id in found if mall_id != NEVER_GOT.mall_order_id]
    recorded = any(t.unknown_recorded for t in report.tenants)
    actual = "balance: " + ("unknown_to_fastcentrik" if unknown else "did not find it")
    actual += ", recorded" if recorded else ", not recorded"
    if others:
        actual += f"; other drift: {', '.join(others)}"
    actual += "; in the console's queue" if listed else "; not in the console"
    return NEVER_GOT, expected, actual, unknown and recorded and not others and listed
