"""A tracking number corrected in FastCentrik after MALL has the order shipped reaches MALL once, through
`PUT /orders/{id}/tracking` (the sandbox enforces MALL's rules for it: shipped, not MALL Delivery, changed),
and `mallbridge audit --verify` finds it to be the PUT the rules call for. Both engines, real HTTP."""

from __future__ import annotations

from pathlib import Path

import httpx

from mallbridge_schema.events import AttentionNeeded, AttentionResolved
from tests.integration.publisher.conftest import Harness
from tests.integration.publisher.test_operator_commands import audit
from tests.support.eventually import eventually

T = "acme"
FIRST = ("ZX12345-CZ", "https://tracking.example/ZX12345-CZ")
FIXED = ("ZX12346-CZ", "https://tracking.example/ZX12346-CZ")


def _tracking_at_mall(h: Harness, mall_id: str) -> tuple[str | None, str | None]:
    with httpx.Client(base_url=h.sandbox.url, timeout=10) as admin:
        order = admin.get(f"/sandbox/orders/{mall_id}").json()["order"]
    return order["tracking_number"], order["tracking_url"]


async def test_a_corrected_tracking_reaches_mall_once_and_never_for_mall_delivery(
    harness: Harness, tenants_file: Path
) -> None:
    h, own, mdp, marker = harness, "10085339701", "10085339702", "10085339709"
    h.create_orders(T, [own, marker])
    h.create_orders(T, [mdp], mdp=True)
    w = h.writer
    await w.write(
        w.first_seen(T, "K-1", own, "settled", tracking_number=FIRST[0], tracking_url=FIRST[1]),
        w.first_seen(T, "K-2", mdp, "settled", mdp=True),
    )
    publisher = h.start_publisher()
    try:
        await eventually(lambda: h.mall_statuses([own, mdp]) == ["shipped", "shipped"], what="both shipped")
        await w.write(w.tracking(T, "K-1", own, *FIXED), w.tracking(T, "K-2", mdp, *FIXED))
        await eventually(lambda: _tracking_at_mall(h, own) == FIXED, what="the corrected tracking at MALL")
        # a marker going out after the corrections proves the publisher worked past both of them
        await w.write(w.first_seen(T, "M-1", marker, "in_process"))
        await eventually(lambda: h.mall_status(marker) == "shipping", what="the marker at MALL")
    finally:
        await publisher.stop()
    counted = {"tenant": T, "status": "tracking"}
    assert publisher.service.metrics.registry.get_sample_value("mallbridge_publisher_updates_sent_total", counted) == 1
    own_puts = [(r["path"], r["body"], r["status"]) for r in h.puts(own)]
    assert own_puts == [
        (
            f"/v1/orders/{own}",
            {"status": "shipped", "confirmed": True, "tracking_number": FIRST[0], "tracking_url": FIRST[1]},
            200,
        ),
        (f"/v1/orders/{own}/tracking", {"tracking_number": FIXED[0], "tracking_url": FIXED[1]}, 200),
    ]
    assert [r["path"] for r in h.puts(mdp)] == [f"/v1/orders/{mdp}", f"/v1/orders/{mdp}"]  # shipping, shipped
    assert _tracking_at_mall(h, mdp)[0] != FIXED[0]  # MALL Delivery: MALL's own tracking stays
    report = await audit(h, tenants_file, "K-1", "K-2")
    assert report["verify"]["differences"] == []
    assert report["verify"]["warnings"] == []
    [timeline] = [t for t in report["timelines"] if t["order_number"] == "K-1"]
    assert any("tracking correction" in e["summary"] for e in timeline["entries"]), timeline["entries"]


async def test_a_correction_mall_would_refuse_is_an_attention_item_until_fastcentrik_fixes_it(harness: Harness) -> None:
    h, own = harness, "10085339711"
    h.create_orders(T, [own])
    w = h.writer
    await w.write(w.first_seen(T, "K-3", own, "settled", tracking_number=FIRST[0], tracking_url=FIRST[1]))
    publisher = h.start_publisher()
    try:
        await eventually(lambda: h.mall_status(own) == "shipped", what="shipped")
        await w.write(w.tracking(T, "K-3", own, "ZX 12346", FIXED[1]))  # a space: MALL refuses it

        async def item(kind: type[AttentionNeeded | AttentionResolved]) -> bool:
            return any(isinstance(e, kind) and e.code == "tracking_refused" for e in await h.sync_events())

        await eventually(lambda: item(AttentionNeeded), what="the attention item")
        assert len(h.puts(own)) == 1  # only the shipped: the refused value never went out
        await w.write(w.tracking(T, "K-3", own, *FIXED))
        await eventually(lambda: _tracking_at_mall(h, own) == FIXED, what="the fixed tracking at MALL")
        await eventually(lambda: item(AttentionResolved), what="the item resolved")
    finally:
        await publisher.stop()
    assert [r["path"] for r in h.puts(own)] == [f"/v1/orders/{own}", f"/v1/orders/{own}/tracking"]
