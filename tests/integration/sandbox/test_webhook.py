"""MALL's webhook: the sandbox POSTs a JSON array of changed order ids to the partner's URL, coalesced, at
most once per interval, without retry; the last 60 results are readable. A real receiver counts what arrives."""

from __future__ import annotations

import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from mallbridge_sandbox import ManualClock, Partner, SandboxServer, create_app
from tests.conftest import free_port
from tests.integration.sandbox.receiver import Receiver, wait_until
from tests.integration.sandbox.support import ACME_KEY, GLOBEX_KEY, NOW, TRACKING, PartnerClient, Sandbox

FAST = 0.2  # seconds between deliveries in these tests (MALL: 60)


def test_a_mall_change_is_posted_as_a_json_array_of_numbers(
    sandbox: Sandbox, receiver: Receiver, acme: PartnerClient
) -> None:
    order = sandbox.create(confirmed=True)  # before the webhook: MALL sends nothing for it
    view = sandbox.webhook(url=receiver.url, interval_s=FAST)
    assert view["queued"] == []
    sandbox.act(order["id"], "customer-cancel")
    (delivery,) = receiver.wait_for(1)
    assert delivery.body == [int(order["id"])]
    assert delivery.content_type == "application/json"
    wait_until(lambda: len(sandbox.webhook_view()["deliveries"]) == 1, timeout=5, what="the result")
    (result,) = sandbox.webhook_view()["deliveries"]
    assert (result["ids"], result["status"], result["error"], result["ok"]) == ([int(order["id"])], 200, None, True)
    assert result["time"] == "2026-11-20T09:00:00.000+00:00"


def test_new_orders_are_included_single_and_bulk(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=FAST)
    sandbox.admin("POST", "/partners/acme/webhook/pause")
    one = sandbox.create()
    bulk = sandbox.admin("POST", "/orders/bulk", json={"orders": [{"partner": "acme"}, {"partner": "acme"}]}).json()
    sandbox.create(partner="globex")  # another partner's order is not acme's
    result = sandbox.admin("POST", "/partners/acme/webhook/deliver").json()["delivery"]
    assert result["ids"] == [int(i) for i in [one["id"], *bulk["ids"]]]
    assert receiver.bodies() == [result["ids"]]


def test_changes_are_coalesced_each_id_once(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=FAST)
    sandbox.admin("POST", "/partners/acme/webhook/pause")
    first, second = sandbox.create(status="blocked"), sandbox.create(status="shipping", confirmed=True)
    sandbox.act(first["id"], "open")
    sandbox.act(second["id"], "edit")
    sandbox.act(first["id"], "customer-cancel")
    assert sandbox.webhook_view()["queued"] == [int(first["id"]), int(second["id"])]
    sandbox.admin("POST", "/partners/acme/webhook/resume")
    (delivery,) = receiver.wait_for(1)
    assert delivery.body == [int(first["id"]), int(second["id"])]
    assert sandbox.webhook_view()["queued"] == []


def test_deliveries_are_at_least_the_interval_apart(sandbox: Sandbox, receiver: Receiver) -> None:
    interval = 0.3
    sandbox.webhook(url=receiver.url, interval_s=interval)
    created = []
    started = time.monotonic()
    while time.monotonic() - started < 1.5:  # a change every ~20 ms for 1.5 s
        created.append(int(sandbox.create()["id"]))
        time.sleep(0.02)
    wait_until(lambda: sum(len(b) for b in receiver.bodies()) == len(created), timeout=5, what="every id")
    arrivals = [r.at for r in receiver.received]
    gaps = [later - earlier for earlier, later in itertools.pairwise(arrivals)]
    assert 3 <= len(arrivals) <= 1.5 / interval + 2, arrivals
    assert min(gaps) >= interval, gaps  # the sandbox counts from the end of one to the start of the next
    delivered = [order_id for body in receiver.bodies() for order_id in body]
    assert delivered == created  # each id once, in the order of change


def test_no_retry_a_failed_delivery_is_recorded_and_its_ids_are_gone(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=0)
    receiver.status = 500
    lost = sandbox.create()
    receiver.wait_for(1)
    wait_until(lambda: len(sandbox.webhook_view()["deliveries"]) == 1, timeout=5, what="the failed result")
    receiver.status = 200
    marker = sandbox.create()  # a later change: its delivery proves the sandbox went on past the failure
    wait_until(lambda: len(receiver.received) == 2, timeout=5, what="the marker's delivery")
    wait_until(lambda: len(sandbox.webhook_view()["deliveries"]) == 2, timeout=5, what="the marker's result")
    assert receiver.bodies() == [[int(lost["id"])], [int(marker["id"])]]  # the failed ids never came again
    failed, delivered = sandbox.webhook_view()["deliveries"]
    assert (failed["status"], failed["ok"], delivered["status"], delivered["ok"]) == (500, False, 200, True)


def test_an_unreachable_receiver_is_an_error_without_the_url(sandbox: Sandbox) -> None:
    url = f"http://127.0.0.1:{free_port()}/hooks/unreachable-secret-token"
    sandbox.webhook(url=url, interval_s=0)
    order = sandbox.create()
    result = sandbox.admin("POST", "/partners/acme/webhook/deliver").json()["delivery"]
    assert result is None or result["ids"] == [int(order["id"])]  # it may have gone out on its own already
    wait_until(lambda: len(sandbox.webhook_view()["deliveries"]) == 1, timeout=5, what="the failed result")
    (failed,) = sandbox.webhook_view()["deliveries"]
    assert (failed["status"], failed["ok"]) == (None, False)
    assert failed["error"].startswith("ConnectError")
    for text in (sandbox.admin("GET", "/partners/acme/webhook").text, sandbox.admin("GET", "/partners").text):
        assert "unreachable-secret-token" not in text
        assert "/hooks" not in text


def test_a_slow_receiver_blocks_neither_the_api_nor_another_partner(
    sandbox: Sandbox, receiver: Receiver, acme: PartnerClient
) -> None:
    with Receiver() as quick:
        sandbox.webhook(url=receiver.url, interval_s=0, timeout_s=60)  # the hold, not the timeout, ends it
        sandbox.webhook("globex", url=quick.url, interval_s=0)
        receiver.hold()
        slow_order = sandbox.create()
        receiver.wait_for(1)  # acme's POST has arrived and hangs until released
        assert sandbox.webhook_view()["in_flight"] is True
        assert acme.get("/orders").status_code == 200
        assert sandbox.partner(GLOBEX_KEY).get("/orders").status_code == 200
        quick_order = sandbox.create(partner="globex")
        quick.wait_for(1)
        assert quick.bodies() == [[int(quick_order["id"])]]
        assert sandbox.webhook_view()["in_flight"] is True  # all of it while acme's delivery still hung
        receiver.release()
        wait_until(lambda: sandbox.webhook_view()["in_flight"] is False, timeout=10, what="acme's delivery to end")
        assert receiver.bodies() == [[int(slow_order["id"])]]


def test_a_receiver_slower_than_the_timeout_is_a_failed_delivery(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=0, timeout_s=0.2)
    receiver.delay_s = 2.0
    order = sandbox.create()
    result = sandbox.admin("POST", "/partners/acme/webhook/deliver").json()["delivery"]
    if result is None:  # it went out on its own before deliver was asked
        wait_until(lambda: len(sandbox.webhook_view()["deliveries"]) == 1, timeout=5, what="the result")
        (result,) = sandbox.webhook_view()["deliveries"]
    assert (result["ids"], result["status"], result["ok"]) == ([int(order["id"])], None, False)
    assert "Timeout" in result["error"]


def test_paused_queues_until_resumed_proved_by_another_partners_delivery(sandbox: Sandbox, receiver: Receiver) -> None:
    with Receiver() as other:
        sandbox.webhook(url=receiver.url, interval_s=0)
        sandbox.webhook("globex", url=other.url, interval_s=0)
        sandbox.admin("POST", "/partners/acme/webhook/pause")
        held = sandbox.create()
        marker = sandbox.create(partner="globex")
        other.wait_for(1)  # the dispatcher ran after acme's change
        assert other.bodies() == [[int(marker["id"])]]
        assert receiver.received == []
        view = sandbox.webhook_view()
        assert (view["paused"], view["queued"]) == (True, [int(held["id"])])
        sandbox.admin("POST", "/partners/acme/webhook/resume")
        assert [r.body for r in receiver.wait_for(1)] == [[int(held["id"])]]


def test_the_last_60_results_are_kept(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=3600)  # only deliver-now sends
    sandbox.admin("POST", "/partners/acme/webhook/pause")
    ids = []
    for _ in range(62):
        ids.append(int(sandbox.create()["id"]))
        result = sandbox.admin("POST", "/partners/acme/webhook/deliver").json()["delivery"]
        assert result["ids"] == [ids[-1]]
    results = sandbox.webhook_view()["deliveries"]
    assert [r["ids"] for r in results] == [[i] for i in ids[2:]]
    assert len(receiver.received) == 62


def test_deliver_with_nothing_waiting_and_without_a_webhook(sandbox: Sandbox, receiver: Receiver) -> None:
    assert sandbox.admin("POST", "/partners/acme/webhook/deliver").status_code == 409
    assert sandbox.admin("POST", "/partners/acme/webhook/pause").status_code == 409
    assert sandbox.admin("GET", "/partners/acme/webhook").json() == {"webhook": None}
    sandbox.webhook(url=receiver.url, interval_s=FAST)
    assert sandbox.admin("POST", "/partners/acme/webhook/deliver").json() == {"delivery": None}


def test_removing_the_webhook_stops_queueing(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=FAST)
    sandbox.admin("POST", "/partners/acme/webhook/pause")
    sandbox.create()
    assert sandbox.admin("DELETE", "/partners/acme/webhook").json() == {"webhook": None}
    sandbox.create()
    assert sandbox.admin("GET", "/partners/acme/webhook").json() == {"webhook": None}
    assert (
        next(p for p in sandbox.admin("GET", "/partners").json()["partners"] if p["name"] == "acme")["webhook"] is None
    )


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"url": "ftp://x/secret-path"}, 400),
        ({"url": "not a url secret-path"}, 400),
        ({"url": "http://h/secret-path", "interval_s": -1}, 400),
        ({"url": "http://h/secret-path", "timeout_s": 0}, 400),
        ({"url": "http://h/secret-path", "max_ids": 0}, 400),
        ({"url": "http://h/secret-path", "retries": 3}, 400),
        ({}, 400),
    ],
)
def test_webhook_settings_are_validated_without_echoing_the_url(
    sandbox: Sandbox, body: dict[str, Any], status: int
) -> None:
    response = sandbox.admin("PUT", "/partners/acme/webhook", json=body)
    assert response.status_code == status, response.text
    assert "secret-path" not in response.text
    assert sandbox.admin("PUT", "/partners/nobody/webhook", json={"url": "http://h/x"}).status_code == 404


def test_the_partners_listing_summarises_the_webhook(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=FAST)
    sandbox.admin("POST", "/partners/acme/webhook/pause")
    sandbox.create()
    acme = next(p for p in sandbox.admin("GET", "/partners").json()["partners"] if p["name"] == "acme")
    assert acme["webhook"] == {
        "url": f"http://127.0.0.1:{receiver.port}/***",
        "interval_s": FAST,
        "timeout_s": 10.0,
        "max_ids": 1000,
        "paused": True,
        "in_flight": False,
        "queued": 1,
    }


def test_reset_removes_webhooks_set_at_runtime(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=FAST)
    sandbox.admin("POST", "/reset")
    assert sandbox.admin("GET", "/partners/acme/webhook").json() == {"webhook": None}


def test_a_webhook_from_the_partner_settings_with_its_own_interval(receiver: Receiver) -> None:
    partners = [Partner("acme", ACME_KEY, webhook_url=receiver.url, webhook_interval_s=0.05)]
    app = create_app(partners, clock=ManualClock(NOW), webhook_interval_s=3600)
    with SandboxServer(app) as server, httpx.Client(base_url=server.url, timeout=5) as admin:
        order = admin.post("/sandbox/orders", json={"partner": "acme", "status": "shipped", **TRACKING}).json()["order"]
        receiver.wait_for(1)
        admin.post(f"/sandbox/orders/{order['id']}/actions/portal-return")
        receiver.wait_for(2)  # 0.05 s later, not the default hour
        assert receiver.bodies() == [[int(order["id"])], [int(order["id"])]]
        admin.post("/sandbox/reset")
        assert admin.get("/sandbox/partners/acme/webhook").json()["webhook"]["interval_s"] == 0.05


def test_partners_added_at_runtime_may_bring_a_webhook(sandbox: Sandbox, receiver: Receiver) -> None:
    body = {"name": "initech", "client_id": "initech-key", "webhook_url": receiver.url, "webhook_interval_s": 0}
    created = sandbox.admin("POST", "/partners", json=body)
    assert created.status_code == 201
    assert receiver.token not in created.text
    order = sandbox.create(partner="initech")
    assert receiver.wait_for(1)[0].body == [int(order["id"])]


def test_many_changes_at_once_go_out_in_deliveries_of_at_most_max_ids(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=0, max_ids=1000)
    sandbox.admin("POST", "/partners/acme/webhook/pause")
    ids = sandbox.admin("POST", "/orders/bulk", json={"orders": [{"partner": "acme"}] * 2500}).json()["ids"]
    sandbox.admin("POST", "/partners/acme/webhook/resume")
    wait_until(lambda: sum(len(b) for b in receiver.bodies()) == 2500, timeout=10, what="2500 ids")
    assert [len(b) for b in receiver.bodies()] == [1000, 1000, 500]
    assert [i for body in receiver.bodies() for i in body] == [int(i) for i in ids]


def test_concurrent_changes_each_id_delivered_once(sandbox: Sandbox, receiver: Receiver) -> None:
    sandbox.webhook(url=receiver.url, interval_s=0.05)
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = {int(o["id"]) for o in pool.map(lambda _: sandbox.create(), range(80))}
    wait_until(lambda: sum(len(b) for b in receiver.bodies()) >= 80, timeout=10, what="80 ids")
    delivered = [i for body in receiver.bodies() for i in body]
    assert sorted(delivered) == sorted(ids)
