"""Faults at MALL: 5xx and 429 converge; one tenant's trouble does not slow another."""

from __future__ import annotations

from collections import Counter

from mallbridge_schema.events import AttentionNeeded, MallStateObserved, MallUpdateRejected, MallUpdateRequested
from tests.integration.publisher.conftest import Harness
from tests.integration.publisher.holding_mall import HoldingMall
from tests.support.eventually import eventually

TRACK = ("TRK-1", "https://tracking.example/TRK-1")


def _no_status_twice(h: Harness) -> None:
    applied = Counter(
        (r["order_id"], r["body"]["status"]) for r in h.puts() if r["status"] == 200 or r.get("applied_status") == 200
    )
    assert [k for k, n in applied.items() if n > 1] == []
    assert [r for r in h.puts() if r["status"] is not None and 400 <= r["status"] < 500 and r["status"] != 429] == []


async def test_every_order_converges_with_20_percent_500s_and_10_percent_429s(harness: Harness) -> None:
    h = harness
    ids = [str(10085340000 + i) for i in range(40)]
    h.create_orders("acme", ids)
    h.faults("acme", error_rate=0.2, error_status=500, rate_limit_rate=0.1, rate_limit_reset_s=1)
    w = h.writer
    events = []
    for i, mid in enumerate(ids):
        events.append(w.first_seen("acme", f"F-{i}", mid, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]))
        events.append(w.delivered("acme", f"F-{i}", mid, "2026-11-20T10:00:00+01:00"))
    await w.write(*events)
    publisher = h.start_publisher()
    try:
        await eventually(lambda: set(h.mall_statuses(ids)) == {"delivered"}, timeout=90, interval=0.5)
    finally:
        await publisher.stop()
    faults = Counter(r["fault"] for r in h.puts() if r["fault"])
    assert faults  # the faults really happened
    _no_status_twice(h)


async def test_a_put_held_by_a_429_is_not_sent_once_fastcentrik_changed_the_order(harness: Harness) -> None:
    """MALL answers 429 to `shipped`; while the publisher waits out the reset, FastCentrik cancels the order.
    The held `shipped` must not go out (it would make the cancel impossible): the order ends cancelled."""
    h = harness
    mall_id = "10085345001"
    h.create_orders("acme", [mall_id])
    h.faults("acme", rate_limit_rate=1.0, rate_limit_reset_s=3)
    w = h.writer
    await w.write(w.first_seen("acme", "H-1", mall_id, "settled", tracking_number=TRACK[0], tracking_url=TRACK[1]))
    publisher = h.start_publisher()
    try:
        await eventually(lambda: any(r["status"] == 429 for r in h.puts(mall_id)), what="the shipped PUT refused")
        await w.write(w.status("acme", "H-1", mall_id, "cancelled"))
        h.faults("acme", rate_limit_rate=0.0)
        await eventually(lambda: h.mall_status(mall_id) == "cancelled", timeout=30, what="the order cancelled at MALL")
    finally:
        await publisher.stop()
    sent = [(r["body"]["status"], r["status"]) for r in h.puts(mall_id)]
    assert ("shipped", 200) not in sent
    assert sent[-1] == ("cancelled", 200)


async def test_a_put_still_at_mall_when_the_client_gave_up_is_not_sent_twice(harness: Harness) -> None:
    """MALL takes 5.5 s over a PUT, the client waits 5 s: the outcome is unknown, and MALL applies it half a
    second later. The read that settles the doubt waits for that (read timeout + a margin after the PUT
    went out); read at once, it saw `open` and the same PUT went out again."""
    h = harness
    mall_id = "10085345101"
    h.create_orders("acme", [mall_id], confirmed=True)
    h.faults("acme", latency_ms=5500, methods=["PUT"])
    w = h.writer
    await w.write(w.first_seen("acme", "L-1", mall_id, "in_process"))
    publisher = h.start_publisher(read_timeout_s=5.0)
    try:

        async def settled() -> list[MallStateObserved]:
            return [e for e in await h.sync_events() if isinstance(e, MallStateObserved) and e.order_number == "L-1"]

        await eventually(settled, timeout=30, what="the read that settles the PUT in doubt")
    finally:
        await publisher.stop()
    (read,) = await settled()
    assert read.status.value == "shipping"  # it had landed
    assert [r["body"]["status"] for r in h.puts(mall_id)] == ["shipping"]
    requested = [e for e in await h.sync_events() if isinstance(e, MallUpdateRequested) and e.order_number == "L-1"]
    assert len(requested) == 1


async def test_a_tenant_answering_401_does_not_hold_up_another(harness: Harness) -> None:
    h = harness
    h.tenants["beta"] = h.tenants["beta"].model_copy(
        update={"mall_client_id": __import__("pydantic").SecretStr("wrong")}
    )
    acme_ids = [str(10085341000 + i) for i in range(10)]
    beta_ids = [str(10085342000 + i) for i in range(10)]
    h.create_orders("acme", acme_ids)
    h.create_orders("beta", beta_ids)
    w = h.writer
    events = [w.first_seen("beta", f"B-{i}", mid, "in_process") for i, mid in enumerate(beta_ids)]
    events += [w.first_seen("acme", f"A-{i}", mid, "in_process") for i, mid in enumerate(acme_ids)]
    publisher = h.start_publisher()
    try:
        await w.write(*events)  # beta's first: acme's come after them on every partition
        await eventually(lambda: set(h.mall_statuses(acme_ids)) == {"shipping"}, what="acme's orders at MALL")
    finally:
        await publisher.stop()
    assert set(h.mall_statuses(beta_ids)) == {"open"}
    tenant_attention = [e for e in await h.sync_events() if isinstance(e, AttentionNeeded) and e.scope == "tenant"]
    assert {(e.tenant_id, e.code) for e in tenant_attention} == {("beta", "mall_unauthorized")}  # beta was tried


async def test_a_slow_tenant_does_not_slow_another(harness: Harness) -> None:
    """beta's MALL answers nothing until released: acme's orders, written after beta's, must all reach MALL
    while every one of beta's requests is still held (beta's slots full, its orders still open)."""
    h = harness
    acme_ids = [str(10085343000 + i) for i in range(10)]
    beta_ids = [str(10085344000 + i) for i in range(10)]
    h.create_orders("acme", acme_ids)
    h.create_orders("beta", beta_ids)
    w = h.writer
    with HoldingMall(h.sandbox.url) as held_mall:
        h.tenants["beta"] = h.tenants["beta"].model_copy(update={"mall_base_url": held_mall.base_url})
        publisher = h.start_publisher(tenant_concurrency=4)
        try:
            await w.write(*[w.first_seen("beta", f"B-{i}", m, "in_process") for i, m in enumerate(beta_ids)])
            await w.write(*[w.first_seen("acme", f"A-{i}", m, "in_process") for i, m in enumerate(acme_ids)])
            await eventually(lambda: held_mall.held > 0, what="beta's requests held at its MALL")
            await eventually(lambda: set(h.mall_statuses(acme_ids)) == {"shipping"}, what="acme at MALL")
            assert set(h.mall_statuses(beta_ids)) == {"open"}  # nothing of beta's got through meanwhile
            held_mall.release()
            await eventually(lambda: set(h.mall_statuses(beta_ids)) == {"shipping"}, what="beta at MALL")
        finally:
            held_mall.release()
            await publisher.stop()
    _no_status_twice(h)


async def test_a_request_in_doubt_that_mall_answers_404_on_is_recorded_as_that_request_refused(
    harness: Harness,
) -> None:
    """The PUT is dropped (outcome unknown), the read that must settle it gets 404: the refusal recorded
    is the one of the request in doubt (its status, body and seq), not a blank one, and no PUT follows."""
    h = harness
    missing = "10085349999"  # never created at the sandbox
    h.faults("acme", drop_rate=1.0, methods=["PUT"], max_faults=1)
    w = h.writer
    await w.write(w.first_seen("acme", "N-1", missing, "in_process"))
    publisher = h.start_publisher()
    try:

        async def pass_ended() -> list[AttentionNeeded]:
            """The pass over the order ends by recording why nothing more goes out (its attention item), so
            a wrong extra PUT, sent after the refusal in the same pass, would be at MALL before it."""
            return [e for e in await h.sync_events() if isinstance(e, AttentionNeeded) and e.order_number == "N-1"]

        [attention] = await eventually(pass_ended, what="the order's attention item after the refusal")
    finally:
        await publisher.stop()
    assert attention.code == "mall_rejected"
    events = await h.sync_events()
    requested = [e for e in events if isinstance(e, MallUpdateRequested)]
    refused = [e for e in events if isinstance(e, MallUpdateRejected)]
    assert len(requested) == 1
    assert len(refused) == 1
    assert (refused[0].request_no, refused[0].status, refused[0].request) == (
        requested[0].request_no,
        requested[0].status,
        requested[0].request,
    )
    assert refused[0].status.value == "shipping"
    assert refused[0].based_on_seq == requested[0].based_on_seq == 1
    assert refused[0].http_status == 404
    assert [r["fault"] for r in h.puts(missing)] == ["drop"]  # the dropped one only: nothing re-sent
    assert [r["status"] for r in h.requests(method="GET", order_id=missing)] == [404]
