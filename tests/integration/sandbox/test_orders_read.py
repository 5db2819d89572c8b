"""Reading orders: detail, the lists (ids / basic, status filters, paging), unconfirmed, legacy by-status."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sandbox.support import (
    BIG_ID,
    GLOBEX_KEY,
    TRACKING,
    PartnerClient,
    Sandbox,
    assert_mall_error,
    assert_ok,
)


def listed(acme: PartnerClient, path: str = "/orders", **params: Any) -> dict[str, Any]:
    response = acme.get(path, **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["result"] == {"code": 200, "status": "OK"}
    return body


def test_detail_carries_the_order_under_data(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.create(id=BIG_ID, external_id="FC-1001", mdp=False)
    body = acme.get(f"/orders/{BIG_ID}").json()
    assert body["result"] == {"code": 200, "status": "OK"}
    data = body["data"]
    assert data["id"] == 10085339302
    assert isinstance(data["id"], int)
    assert data["external_id"] == "FC-1001"
    assert (data["status"], data["confirmed"], data["mdp"], data["test"]) == ("open", False, False, False)
    assert (data["tracking_number"], data["tracking_url"], data["delivered_at"]) == (None, None, None)
    assert data["open"] == "2026-11-20 10:00:00"  # Europe/Prague local time, MALL's format
    for status in ("blocked", "shipping", "shipped", "delivered", "returned", "cancelled", "lost"):
        assert data[status] is None
    for field in (
        "purchase_id",
        "currency",
        "cod",
        "payment_type",
        "delivery_method",
        "address",
        "items",
        "first_delivery_attempt",
        "ship_date",
        "delivery_date",
        "ready_to_return",
    ):
        assert field in data


def test_list_returns_ids_by_default(sandbox: Sandbox, acme: PartnerClient) -> None:
    ids = [sandbox.create()["id"] for _ in range(3)]
    body = listed(acme)
    assert body["data"] == [int(i) for i in ids]
    assert body["paging"] == {"total": 3, "pages": 1, "size": 100, "page": 1}


def test_list_filter_basic_returns_objects(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    (item,) = listed(acme, filter="basic")["data"]
    assert item["id"] == int(order["id"])
    assert (item["status"], item["confirmed"], item["mdp"]) == ("shipped", True, False)
    assert item["tracking_number"] == TRACKING["tracking_number"]


def test_list_unknown_filter_value_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    assert_mall_error(acme.get("/orders", filter="full"), 400, "INVALID_QUERY")


def test_status_filters_plain_eq_neq_in_nin(sandbox: Sandbox, acme: PartnerClient) -> None:
    by_status = {s: int(sandbox.create(status=s, confirmed=True)["id"]) for s in ("open", "shipping", "shipped")}
    assert listed(acme, status="open")["data"] == [by_status["open"]]
    assert listed(acme, status="eq:shipping")["data"] == [by_status["shipping"]]
    assert listed(acme, status="neq:open")["data"] == [by_status["shipping"], by_status["shipped"]]
    assert listed(acme, status="in:open,shipping")["data"] == [by_status["open"], by_status["shipping"]]
    assert listed(acme, status="nin:open,shipping")["data"] == [by_status["shipped"]]
    assert listed(acme, status="eq:delivered")["data"] == []


@pytest.mark.parametrize(
    "value", ["gt:open", "bt:open,shipped", "like:open", "eq:canceled", "in:open,bogus", "eq:open,shipped", "Open"]
)
def test_bad_status_filters_are_refused(sandbox: Sandbox, acme: PartnerClient, value: str) -> None:
    body = assert_mall_error(acme.get("/orders", status=value), 400, "INVALID_QUERY")
    assert body["errorCodes"][0]["errorAttributes"]["parameter"] == "status"


def test_blocked_orders_are_hidden_unless_filtered_on(sandbox: Sandbox, acme: PartnerClient) -> None:
    blocked = int(sandbox.create(status="blocked")["id"])
    open_ = int(sandbox.create()["id"])
    assert listed(acme)["data"] == [open_]
    assert listed(acme, status="neq:open")["data"] == []
    assert listed(acme, status="eq:blocked")["data"] == [blocked]
    assert listed(acme, status="in:open,blocked")["data"] == [blocked, open_]
    assert listed(acme, "/orders/blocked")["data"] == [blocked]


def test_test_orders_are_hidden_unless_test_1(sandbox: Sandbox, acme: PartnerClient) -> None:
    real = int(sandbox.create()["id"])
    test = int(sandbox.create(test=True)["id"])
    assert listed(acme)["data"] == [real]
    assert listed(acme, test="1")["data"] == [real, test]


def test_paging_is_one_based_with_total_pages_size_page(sandbox: Sandbox, acme: PartnerClient) -> None:
    ids = [int(sandbox.create()["id"]) for _ in range(5)]
    first = listed(acme, page="1", page_size="2")
    assert first["data"] == ids[:2]
    assert first["paging"] == {"total": 5, "pages": 3, "size": 2, "page": 1}
    assert listed(acme, page="3", page_size="2")["data"] == ids[4:]
    past = listed(acme, page="4", page_size="2")
    assert past["data"] == []
    assert past["paging"] == {"total": 5, "pages": 3, "size": 2, "page": 4}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("page", "0"),
        ("page", "-1"),
        ("page", "x"),
        ("page", "²"),  # a digit to str.isdigit(), not a number to int()
        ("page", "١"),  # an Arabic-Indic one
        ("page_size", "0"),
        ("page_size", "1001"),
        ("page_size", "1.5"),
        ("page_size", "１０"),  # full-width
    ],
)
def test_bad_paging_is_refused(sandbox: Sandbox, acme: PartnerClient, name: str, value: str) -> None:
    body = assert_mall_error(acme.get("/orders", **{name: value}), 400, "INVALID_QUERY")
    assert body["errorCodes"][0]["errorAttributes"]["parameter"] == name


def test_unconfirmed_lists_orders_waiting_for_confirmation(sandbox: Sandbox, acme: PartnerClient) -> None:
    unconfirmed = int(sandbox.create()["id"])
    sandbox.create(confirmed=True)
    sandbox.create(status="blocked")
    body = listed(acme, "/orders/unconfirmed")
    assert body["data"] == [unconfirmed]
    assert body["paging"]["total"] == 1
    assert listed(acme, "/orders/unconfirmed", filter="basic")["data"][0]["confirmed"] is False
    assert_ok(acme.put(f"/orders/{unconfirmed}", {"confirmed": True}))
    assert listed(acme, "/orders/unconfirmed")["data"] == []


def test_legacy_list_by_status_path(sandbox: Sandbox, acme: PartnerClient) -> None:
    shipping = int(sandbox.create(status="shipping", confirmed=True)["id"])
    sandbox.create()
    assert listed(acme, "/orders/shipping")["data"] == [shipping]


def test_lists_show_only_the_partners_own_orders(sandbox: Sandbox, acme: PartnerClient) -> None:
    mine = int(sandbox.create()["id"])
    sandbox.create(partner="globex")
    assert listed(acme)["data"] == [mine]
    assert len(listed(sandbox.partner(GLOBEX_KEY))["data"]) == 1
