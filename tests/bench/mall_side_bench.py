"""MALL requests per order lifecycle under MALL's webhook, next to a "re-list everything hourly" baseline
measured against the same sandbox in the same run.

The chain runs in one process (`tests/support/mall_chain.py`: the sandbox with its webhook delivering by
itself every 0.2 s, a real ingest on uvicorn, the publisher) on the embedded log: requests are counted in
the sandbox's request log, so the process layout does not change the figures.

Lifecycle of each of `ORDERS` orders: MALL creates it (open, unconfirmed: MALL's webhook names it), then
FastCentrik moves it pending → in process → settled (with tracking) → delivered; a quarter of them are
edited at MALL while in `shipping` (unconfirmed again). Legal steps per order: a confirmation per MALL
change that left it unconfirmed with no status PUT due (creation, the edit), shipping, shipped,
delivered. Goal: one PUT per legal step, one GET per MALL-side change, no repeated or refused request.

Baseline: an integrator that learns MALL's side by listing every order of the account (closed ones
included, as MALL warns against, page size 100 as the official client) once an hour over a `LIFECYCLE_H`
hour lifecycle, on an account that also holds `HISTORY` closed orders, sending the same PUTs. Its list
requests are really sent to the sandbox here (compressed in time) and counted the same way.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from pathlib import Path
from typing import Any

from mallbridge_schema.events import MallStatusUpdated
from tests.support.mall_chain import TRACK, Chain, eventually, running_chain

ORDERS = 200
EDITED = ORDERS // 4
HISTORY = 5000
LIFECYCLE_H = 72
PAGE_SIZE = 100
FIRST_ID = 10086000000
POLL_INTERVAL_S = 900


async def _wait_puts(chain: Chain, n: int, what: str) -> None:
    async def enough() -> bool:
        return len([e for e in await chain.sync_events() if isinstance(e, MallStatusUpdated)]) >= n

    await eventually(enough, timeout=300, interval=0.5, what=what)


async def _push_all(chain: Chain, ids: list[str], status: str, **fields: Any) -> None:
    snapshots = [
        {"order_number": f"L-{i}", "mall_order_id": mid, "status": status, **fields} for i, mid in enumerate(ids)
    ]
    response = await chain.ingest.push("acme", snapshots)
    assert response.status_code == 202, response.text


async def _lifecycle(chain: Chain, ids: list[str]) -> None:
    orders = [{"partner": "acme", "id": mid, "status": "open", "confirmed": False} for mid in ids]
    assert (await chain.admin.post("/orders/bulk", json={"orders": orders})).status_code == 201
    await asyncio.sleep(1.0)  # MALL's webhook names the new orders before they reach FastCentrik
    await _push_all(chain, ids, "pending")
    await _wait_puts(chain, ORDERS, "each new order confirmed")
    await _push_all(chain, ids, "in_process")
    await _wait_puts(chain, 2 * ORDERS, "shipping")
    for mid in ids[:EDITED]:
        await chain.act(mid, "edit", external_id=f"edited-{mid}")
    await _wait_puts(chain, 2 * ORDERS + EDITED, "each edited order confirmed again")
    await _push_all(chain, ids, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1])
    await _wait_puts(chain, 3 * ORDERS + EDITED, "shipped")
    await _push_all(chain, ids, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1], delivered_at="2026-01-05")
    await _wait_puts(chain, 4 * ORDERS + EDITED, "delivered")


def _count(requests: list[dict[str, Any]], ids: set[str]) -> dict[str, int]:
    """PUTs, GETs, refusals, and repeats: a status sent to an order twice (a confirmation answers its own
    MALL change, so confirm-only PUTs are checked by their number instead: PUTs = legal steps)."""
    mine = [r for r in requests if r["order_id"] in ids]
    statuses = Counter(
        (r["order_id"], r["body"]["status"]) for r in mine if r["method"] == "PUT" and "status" in r["body"]
    )
    return {
        "puts": sum(1 for r in mine if r["method"] == "PUT"),
        "gets": sum(1 for r in mine if r["method"] == "GET"),
        "refused": sum(1 for r in mine if r["status"] != 200),
        "repeats": sum(n - 1 for n in statuses.values()),
        "list_requests": sum(1 for r in requests if r["order_id"] is None),
    }


async def _relist_hourly(chain: Chain) -> int:
    """One listing of every order of the account, as the baseline sends it each hour; its request count."""
    async with chain.sandbox_client() as mall:
        page, pages, sent = 1, 1, 0
        while page <= pages:
            r = await mall.get(
                "/orders",
                params={
                    "filter": "basic",
                    "page": page,
                    "page_size": PAGE_SIZE,
                    "status": "in:blocked,open,shipping,shipped,delivered,returned,cancelled,lost",
                },
            )
            r.raise_for_status()
            pages = r.json()["paging"]["pages"]
            page, sent = page + 1, sent + 1
    return sent


async def run(bootstrap: str, tmpdir: str) -> dict[str, Any]:
    del bootstrap  # request counts do not depend on the engine: the embedded log keeps the run short
    ids = [str(FIRST_ID + i) for i in range(ORDERS)]
    url = f"sqlite:///{Path(tmpdir) / 'events.db'}"
    async with running_chain(url, "bench.") as chain:
        history = [{"partner": "acme", "status": "delivered", "confirmed": True} for _ in range(HISTORY)]
        assert (await chain.admin.post("/orders/bulk", json={"orders": history})).status_code == 201
        await chain.use_webhook(interval_s=0.2)
        await chain.start_publisher(url)
        await chain.admin.delete("/requests")
        started = time.perf_counter()
        await _lifecycle(chain, ids)
        await chain.processed()  # nothing more was on its way
        wall_s = time.perf_counter() - started
        webhook = _count(await chain.requests(), set(ids))
        await chain.admin.delete("/requests")
        per_listing = await _relist_hourly(chain)
    steps = 4 * ORDERS + EDITED
    changes = ORDERS + EDITED
    webhook_total = webhook["puts"] + webhook["gets"]
    relist_total = webhook["puts"] + per_listing * LIFECYCLE_H
    return {
        "orders": ORDERS,
        "mall_side_changes": changes,
        "legal_steps": steps,
        "webhook": {
            **webhook,
            "puts_per_legal_step": round(webhook["puts"] / steps, 3),
            "gets_per_mall_change": round(webhook["gets"] / changes, 3),
            "requests_per_order": round(webhook_total / ORDERS, 2),
            "wall_s": round(wall_s, 1),
        },
        "relist_hourly_baseline": {
            "account_orders": ORDERS + HISTORY,
            "list_requests_per_listing": per_listing,
            "listings_per_lifecycle": LIFECYCLE_H,
            "requests_per_order": round(relist_total / ORDERS, 2),
        },
        "ratio_webhook_to_baseline": round(webhook_total / relist_total, 4),
        "unconfirmed_poll_computed": {
            "interval_s": POLL_INTERVAL_S,
            "list_requests_per_tenant_per_lifecycle": math.ceil(LIFECYCLE_H * 3600 / POLL_INTERVAL_S),
            "note": "one page per round while the unconfirmed queue is short; per publisher member holding orders",
        },
    }
