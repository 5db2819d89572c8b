"""Injected faults per partner: latency, 5xx, 429, dropped connections, apply-then-fail; reproducible by seed."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.integration.sandbox.support import (
    GLOBEX_KEY,
    PartnerClient,
    Sandbox,
    assert_mall_error,
    assert_ok,
)


def outcome(acme: PartnerClient, path: str = "/orders") -> str:
    try:
        return str(acme.get(path).status_code)
    except httpx.TransportError:
        return "drop"


def test_latency_is_added(sandbox: Sandbox, acme: PartnerClient) -> None:
    acme.get("/orders")  # warm the connection
    sandbox.faults(latency_ms=300)
    started = time.perf_counter()
    response = acme.get("/orders")
    elapsed = time.perf_counter() - started
    assert response.status_code == 200
    assert elapsed >= 0.3  # the added latency is a floor; how much more a busy machine adds is not the sandbox's


@pytest.mark.parametrize(("status", "code"), [(503, "SERVICE_UNAVAILABLE"), (500, "INTERNAL_ERROR")])
def test_injected_5xx_is_not_applied(sandbox: Sandbox, acme: PartnerClient, status: int, code: str) -> None:
    order = sandbox.create(confirmed=True)
    sandbox.faults(error_rate=1.0, error_status=status)
    response = acme.put(f"/orders/{order['id']}", {"status": "shipping"})
    assert_mall_error(response, status, code)
    assert "X-RateLimit-Remaining" in response.headers
    sandbox.admin("DELETE", "/partners/acme/faults")
    assert acme.status_of(order["id"]) == "open"


def test_injected_429_carries_the_reset_seconds(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    sandbox.faults(rate_limit_rate=1.0, rate_limit_reset_s=17)
    response = acme.put(f"/orders/{order['id']}", {"status": "shipping"})
    body = assert_mall_error(response, 429, "RATE_LIMIT_EXCEEDED")
    assert body["result"]["status"] == "LIMITED"
    assert response.headers["X-RateLimit-Reset"] == "17"
    assert response.headers["X-RateLimit-Remaining"] == "0"
    sandbox.admin("DELETE", "/partners/acme/faults")
    assert acme.status_of(order["id"]) == "open"


def test_dropped_connection_gets_no_response_and_is_not_applied(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    sandbox.faults(drop_rate=1.0)
    with pytest.raises(httpx.RemoteProtocolError):
        acme.put(f"/orders/{order['id']}", {"status": "shipping"})
    sandbox.admin("DELETE", "/partners/acme/faults")
    assert acme.status_of(order["id"]) == "open"
    (entry,) = sandbox.requests(method="PUT")
    assert (entry["status"], entry["dropped"], entry["fault"]) == (None, True, "drop")


def test_apply_then_drop_applies_the_put_but_drops_the_answer(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    sandbox.faults(apply_then_fail_rate=1.0, apply_then_fail_mode="drop", methods=["PUT"], max_faults=1)
    with pytest.raises(httpx.RemoteProtocolError):
        acme.put(f"/orders/{order['id']}", {"status": "shipping"})
    assert acme.status_of(order["id"]) == "shipping"  # GETs are not faulted (methods=["PUT"])
    # what a client that retries blindly gets: the status is no longer a change
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipping"}), 400, "STATUS_UNCHANGED")
    entry = sandbox.requests(method="PUT")[0]
    assert (entry["status"], entry["dropped"], entry["fault"], entry["applied_status"]) == (
        None,
        True,
        "apply_then_drop",
        200,
    )


def test_apply_then_error_applies_the_put_but_answers_5xx(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    sandbox.faults(apply_then_fail_rate=1.0, apply_then_fail_mode="error", error_status=504, methods=["PUT"])
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipping"}), 504, "SERVICE_UNAVAILABLE")
    assert acme.status_of(order["id"]) == "shipping"


def test_faults_can_target_one_order_and_stop_after_max_faults(sandbox: Sandbox, acme: PartnerClient) -> None:
    target, other = sandbox.create(confirmed=True), sandbox.create(confirmed=True)
    sandbox.faults(error_rate=1.0, order_id=target["id"], max_faults=2)
    assert acme.get(f"/orders/{other['id']}").status_code == 200
    assert [acme.get(f"/orders/{target['id']}").status_code for _ in range(3)] == [503, 503, 200]
    assert sandbox.admin("GET", "/partners").json()["partners"][0]["faults_injected"] == 2


def test_faults_are_per_partner(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.faults(error_rate=1.0)
    assert acme.get("/orders").status_code == 503
    assert sandbox.partner(GLOBEX_KEY).get("/orders").status_code == 200


def test_faults_are_reproducible_from_the_seed(sandbox: Sandbox, acme: PartnerClient) -> None:
    config: dict[str, Any] = {"error_rate": 0.3, "rate_limit_rate": 0.2, "drop_rate": 0.2}
    sandbox.faults(**config)
    first = [outcome(acme) for _ in range(30)]
    sandbox.faults(**config)  # setting faults restarts the partner's generator from (seed, partner)
    second = [outcome(acme) for _ in range(30)]
    assert first == second
    assert {"200", "503", "429", "drop"} <= set(first)


def test_faults_reset(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.faults(error_rate=1.0)
    sandbox.faults("globex", error_rate=1.0)
    assert sandbox.admin("GET", "/partners/acme/faults").json()["faults"]["error_rate"] == 1.0
    assert sandbox.admin("DELETE", "/partners/acme/faults").json() == {"faults": None}
    assert acme.get("/orders").status_code == 200
    assert sandbox.partner(GLOBEX_KEY).get("/orders").status_code == 503
    sandbox.admin("DELETE", "/faults")
    assert sandbox.partner(GLOBEX_KEY).get("/orders").status_code == 200


@pytest.mark.parametrize(
    "config",
    [
        {"error_rate": 0.6, "drop_rate": 0.5},
        {"error_rate": 1.5},
        {"latency": 10},
        {"error_status": 404},
        {"methods": ["POST"]},
        {"apply_then_fail_mode": "x"},
    ],
)
def test_invalid_fault_configs_are_refused(sandbox: Sandbox, config: dict[str, object]) -> None:
    response = sandbox.admin("PUT", "/partners/acme/faults", json=config)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid body"


def test_faults_for_unknown_partner_is_404(sandbox: Sandbox) -> None:
    assert sandbox.admin("PUT", "/partners/nobody/faults", json={"error_rate": 1.0}).status_code == 404


def test_faults_do_not_touch_the_admin_api(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.faults(drop_rate=1.0)
    order = sandbox.create()
    assert sandbox.admin("GET", f"/orders/{order['id']}").status_code == 200
    sandbox.admin("DELETE", "/partners/acme/faults")
    assert_ok(acme.put(f"/orders/{order['id']}", {"confirmed": True}))
