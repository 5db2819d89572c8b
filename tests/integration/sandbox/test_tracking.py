"""`PUT /v1/orders/{id}/tracking`: only while shipped, only for non-MDP orders (MALL's rule)."""

from __future__ import annotations

import pytest

from tests.integration.sandbox.support import TRACKING, PartnerClient, Sandbox, assert_mall_error, assert_ok

NEW = {"tracking_number": "PPL-777_x", "tracking_url": "https://ppl.example.com/track/PPL-777_x"}


def test_tracking_can_be_corrected_while_shipped(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    assert_ok(acme.put(f"/orders/{order['id']}/tracking", NEW))
    data = acme.get(f"/orders/{order['id']}").json()["data"]
    assert (data["tracking_number"], data["tracking_url"], data["status"]) == (*NEW.values(), "shipped")


@pytest.mark.parametrize("status", ["open", "shipping", "delivered", "returned", "cancelled"])
def test_tracking_refused_unless_shipped(sandbox: Sandbox, acme: PartnerClient, status: str) -> None:
    order = sandbox.create(status=status, confirmed=True)
    body = assert_mall_error(acme.put(f"/orders/{order['id']}/tracking", NEW), 400, "ORDER_NOT_SHIPPED")
    assert body["errorCodes"][0]["errorAttributes"]["status"] == status


def test_tracking_refused_for_mdp_orders(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, mdp=True)
    assert_mall_error(acme.put(f"/orders/{order['id']}/tracking", NEW), 400, "MDP_TRACKING_FORBIDDEN")


def test_tracking_values_are_validated(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    path = f"/orders/{order['id']}/tracking"
    assert_mall_error(
        acme.put(path, {"tracking_number": "A B"} | {"tracking_url": NEW["tracking_url"]}),
        400,
        "TRACKING_NUMBER_INVALID",
    )
    assert_mall_error(acme.put(path, {"tracking_number": "AB"}), 400, "TRACKING_URL_MISSING")
    assert_mall_error(acme.put(path, {"tracking_url": NEW["tracking_url"]}), 400, "TRACKING_NUMBER_MISSING")
    assert_mall_error(acme.put(path, {**NEW, "status": "shipped"}), 400, "UNKNOWN_FIELD")
    assert_mall_error(acme.put(path, {**NEW, "tracking_number": None}), 400, "INVALID_FIELD_TYPE")
    assert acme.get(f"/orders/{order['id']}").json()["data"]["tracking_number"] == TRACKING["tracking_number"]


def test_unchanged_tracking_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    assert_mall_error(acme.put(f"/orders/{order['id']}/tracking", TRACKING), 400, "TRACKING_UNCHANGED")


def test_tracking_of_unknown_order_is_404(sandbox: Sandbox, acme: PartnerClient) -> None:
    assert_mall_error(acme.put("/orders/77777777777/tracking", NEW), 404, "RESOURCE_NOT_FOUND")
