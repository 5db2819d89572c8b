"""A tenant paused for a refused client_id (401) across a restart of the publisher.

The pause lives in memory, its attention item in the log. A restart must neither leave the item open when
the fixed client_id now works (the usual fix: correct the tenants file, restart), nor raise it a second
time while MALL still refuses.
"""

from __future__ import annotations

from pydantic import SecretStr

from mallbridge_schema.events import AttentionNeeded, AttentionResolved
from tests.integration.publisher.conftest import Harness
from tests.support.eventually import eventually

BETA_IDS = [str(10085343000 + i) for i in range(3)]


async def _tenant_items(h: Harness) -> list[tuple[str, str, str]]:
    return [
        (type(e).__name__, e.tenant_id, e.code)
        for e in await h.sync_events()
        if isinstance(e, AttentionNeeded | AttentionResolved) and e.scope == "tenant"
    ]


def _refused(h: Harness) -> int:
    return sum(1 for mall_id in BETA_IDS for r in h.requests(order_id=mall_id) if r["status"] == 401)


async def _paused_by_a_wrong_client_id(h: Harness) -> SecretStr:
    good = h.tenants["beta"].mall_client_id
    assert good is not None
    h.tenants["beta"] = h.tenants["beta"].model_copy(update={"mall_client_id": SecretStr("wrong")})
    h.create_orders("beta", BETA_IDS)
    await h.writer.write(*(h.writer.first_seen("beta", f"B-{i}", mid, "in_process") for i, mid in enumerate(BETA_IDS)))
    publisher = h.start_publisher()
    try:

        async def item_raised() -> bool:
            return await _tenant_items(h) == [("AttentionNeeded", "beta", "mall_unauthorized")]

        await eventually(item_raised, what="the tenant's 401 item")
    finally:
        await publisher.stop()
    return good


# The 401s' requests stay in doubt in the log (a pause records no outcome per request), so a restarted
# publisher reads those orders only once their PUTs may have settled: the read timeout and a margin after
# they went out. A short read timeout keeps that wait short here.
SHORT_READ_S = 2.0


async def test_the_item_is_resolved_when_the_client_id_fixed_during_the_restart_works(harness: Harness) -> None:
    h = harness
    good = await _paused_by_a_wrong_client_id(h)
    h.tenants["beta"] = h.tenants["beta"].model_copy(update={"mall_client_id": good})
    publisher = h.start_publisher(read_timeout_s=SHORT_READ_S)
    try:
        await eventually(lambda: set(h.mall_statuses(BETA_IDS)) == {"shipping"}, what="beta's orders at MALL")

        async def resolved() -> bool:
            return ("AttentionResolved", "beta", "mall_unauthorized") in await _tenant_items(h)

        await eventually(resolved, what="the tenant's item resolved")  # was left open for good
    finally:
        await publisher.stop()
    assert await _tenant_items(h) == [
        ("AttentionNeeded", "beta", "mall_unauthorized"),
        ("AttentionResolved", "beta", "mall_unauthorized"),
    ]


async def test_the_item_is_not_raised_again_while_mall_still_refuses(harness: Harness) -> None:
    h = harness
    await _paused_by_a_wrong_client_id(h)
    refused_before = _refused(h)
    publisher = h.start_publisher(pause_probe_s=0.5, read_timeout_s=SHORT_READ_S)
    try:
        # Two refusals after the restart: the second is the next probe, which goes out only once the first
        # refusal's outcome was taken (the pause renewed), the moment a second item would have been raised.
        await eventually(lambda: _refused(h) >= refused_before + 2, what="two probes refused after the restart")
    finally:
        await publisher.stop()
    assert await _tenant_items(h) == [("AttentionNeeded", "beta", "mall_unauthorized")]  # was raised twice
    assert set(h.mall_statuses(BETA_IDS)) == {"open"}


async def _paused_gauge_once(h: Harness, item: tuple[str, str, str], *, what: str) -> float | None:
    """Run a publisher until the log has the tenant item `item`; the tenant's paused gauge then."""
    publisher = h.start_publisher(pause_probe_s=0.2)
    try:

        async def recorded() -> bool:
            return item in await _tenant_items(h)

        await eventually(recorded, what=what)
        gauge = {"tenant": item[1]}
        return publisher.service.metrics.registry.get_sample_value("mallbridge_publisher_tenant_paused", gauge)
    finally:
        await publisher.stop()


async def test_the_poll_alone_raises_and_resolves_the_item_of_a_tenant_with_no_order_work(harness: Harness) -> None:
    """Every order of the tenant is where it should be at MALL; only the unconfirmed poll still calls MALL. A
    client_id revoked meanwhile is known from its refusal, and the fix (restart with the right one) from
    its answer, not only at the next order's request."""
    h = harness
    good = h.tenants["beta"].mall_client_id
    h.create_orders("beta", BETA_IDS)
    await h.writer.write(*(h.writer.first_seen("beta", f"B-{i}", mid, "in_process") for i, mid in enumerate(BETA_IDS)))
    publisher = h.start_publisher()
    try:
        await eventually(lambda: set(h.mall_statuses(BETA_IDS)) == {"shipping"}, what="beta's orders at MALL")
    finally:
        await publisher.stop()
    order_requests = sum(len(h.requests(order_id=mall_id)) for mall_id in BETA_IDS)

    polled_often = {"mall_poll_interval_s": 0.2}
    h.tenants["beta"] = h.tenants["beta"].model_copy(update={"mall_client_id": SecretStr("wrong"), **polled_often})
    raised = ("AttentionNeeded", "beta", "mall_unauthorized")
    assert await _paused_gauge_once(h, raised, what="the tenant's 401 item, raised by the poll") == 1
    h.tenants["beta"] = h.tenants["beta"].model_copy(update={"mall_client_id": good})
    resolved = ("AttentionResolved", "beta", "mall_unauthorized")
    assert await _paused_gauge_once(h, resolved, what="the tenant's item resolved by the poll") == 0
    assert await _tenant_items(h) == [
        ("AttentionNeeded", "beta", "mall_unauthorized"),
        ("AttentionResolved", "beta", "mall_unauthorized"),
    ]
    # no order of the tenant had work: the poll's lists were the only calls to MALL after the first run
    assert sum(len(h.requests(order_id=mall_id)) for mall_id in BETA_IDS) == order_requests
