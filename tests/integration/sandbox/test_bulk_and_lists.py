"""Bulk setup (`POST /sandbox/orders/bulk`) and the lists as MALL has them on 5,000 orders: paging, basic
objects with exactly the official client's BasicOrder fields, blocked orders hidden, the unconfirmed queue."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sandbox.support import TRACKING, PartnerClient, Sandbox

# mallgroup/mpapi-client-php src/Order/Entity/BasicOrder.php, createFromApi
BASIC_ORDER_FIELDS = {
    "id", "purchase_id", "customer_id", "customer", "cod", "payment_type", "ship_date", "tracking_number",
    "tracking_url", "delivered_at", "status", "confirmed", "test", "mdp",
}  # fmt: skip


def bulk(sandbox: Sandbox, orders: list[dict[str, Any]]) -> list[int]:
    response = sandbox.admin("POST", "/orders/bulk", json={"orders": orders})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["created"] == len(orders)
    return [int(i) for i in body["ids"]]


def read_all(acme: PartnerClient, path: str = "/orders", **params: Any) -> tuple[list[Any], list[dict[str, Any]]]:
    """Every page of a list; the items and each page's paging."""
    items: list[Any] = []
    pagings = []
    page = 1
    while True:
        body = acme.get(path, page=str(page), **params).json()
        pagings.append(body["paging"])
        items += body["data"]
        if page >= body["paging"]["pages"]:
            return items, pagings
        page += 1


@pytest.fixture
def five_thousand(sandbox: Sandbox) -> dict[str, list[int]]:
    """5,000 orders of acme: 4,000 open unconfirmed, 600 shipping, 300 shipped, 100 blocked."""
    shapes: dict[str, dict[str, Any]] = {
        "open": {"partner": "acme"},
        "shipping": {"partner": "acme", "status": "shipping", "confirmed": True},
        "shipped": {"partner": "acme", "status": "shipped", "confirmed": True, **TRACKING},
        "blocked": {"partner": "acme", "status": "blocked"},
    }
    counts = {"open": 4000, "shipping": 600, "shipped": 300, "blocked": 100}
    return {status: bulk(sandbox, [shapes[status]] * count) for status, count in counts.items()}


def test_bulk_create_5000_and_read_them_all_in_pages(
    sandbox: Sandbox, acme: PartnerClient, five_thousand: dict[str, list[int]]
) -> None:
    visible = sorted(five_thousand["open"] + five_thousand["shipping"] + five_thousand["shipped"])
    ids, pagings = read_all(acme, page_size="1000")
    assert ids == visible  # blocked hidden, sorted by id
    assert [p["page"] for p in pagings] == [1, 2, 3, 4, 5]
    assert pagings[0] == {"total": 4900, "pages": 5, "size": 1000, "page": 1}
    default, _ = read_all(acme)  # 100 a page, 49 pages
    assert default == visible


def test_status_filters_on_5000(acme: PartnerClient, five_thousand: dict[str, list[int]]) -> None:
    basic, _ = read_all(acme, filter="basic", status="in:shipping,shipped", page_size="250")
    assert [o["id"] for o in basic] == sorted(five_thousand["shipping"] + five_thousand["shipped"])
    assert {o["status"] for o in basic} == {"shipping", "shipped"}
    blocked, _ = read_all(acme, status="blocked", page_size="1000")
    assert blocked == five_thousand["blocked"]
    neq, _ = read_all(acme, status="neq:open", page_size="1000")
    assert neq == sorted(five_thousand["shipping"] + five_thousand["shipped"])  # neq does not name blocked


def test_basic_objects_carry_exactly_the_official_fields(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.create(status="shipped", confirmed=True, external_id="FC-1", **TRACKING)
    (item,) = acme.get("/orders", filter="basic").json()["data"]
    assert set(item) == BASIC_ORDER_FIELDS
    assert isinstance(item["id"], int)
    assert isinstance(item["purchase_id"], int)
    assert isinstance(item["customer_id"], int)
    assert isinstance(item["cod"], float)


def test_the_detail_keeps_its_per_status_timestamps(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="blocked")
    sandbox.clock.advance(60)
    sandbox.act(order["id"], "open")
    data = acme.get(f"/orders/{order['id']}").json()["data"]
    assert (data["blocked"], data["open"], data["shipping"]) == ("2026-11-20 10:00:00", "2026-11-20 10:01:00", None)


def test_unconfirmed_paged_with_and_without_basic(
    sandbox: Sandbox, acme: PartnerClient, five_thousand: dict[str, list[int]]
) -> None:
    ids, pagings = read_all(acme, "/orders/unconfirmed", page_size="1000")
    assert ids == five_thousand["open"]  # blocked are unconfirmed too, but hidden
    assert pagings[0] == {"total": 4000, "pages": 4, "size": 1000, "page": 1}
    basic, _ = read_all(acme, "/orders/unconfirmed", filter="basic", page_size="500")
    assert [o["id"] for o in basic] == five_thousand["open"]
    assert all(set(o) == BASIC_ORDER_FIELDS and o["confirmed"] is False for o in basic)
    blocked, _ = read_all(acme, "/orders/unconfirmed", status="eq:blocked", page_size="1000")
    assert blocked == five_thousand["blocked"]  # shown when the filter names them
    shipping = five_thousand["shipping"][0]
    sandbox.act(str(shipping), "edit")  # a MALL change puts a confirmed order back into the queue
    after, _ = read_all(acme, "/orders/unconfirmed", status="shipping")
    assert after == [shipping]


def test_bulk_is_all_or_nothing(sandbox: Sandbox) -> None:
    existing = sandbox.create(id="20000000001")
    clash = sandbox.admin(
        "POST",
        "/orders/bulk",
        json={"orders": [{"partner": "acme", "id": "20000000002"}, {"partner": "acme", "id": existing["id"]}]},
    )
    assert clash.status_code == 409
    assert existing["id"] in clash.json()["error"]
    repeat = sandbox.admin("POST", "/orders/bulk", json={"orders": [{"partner": "acme", "id": "3" * 11}] * 2})
    assert repeat.status_code == 409
    unknown = sandbox.admin("POST", "/orders/bulk", json={"orders": [{"partner": "acme"}, {"partner": "nobody"}]})
    assert unknown.status_code == 404
    assert "nobody" in unknown.json()["error"]
    invalid = sandbox.admin(
        "POST", "/orders/bulk", json={"orders": [{"partner": "acme"}, {"partner": "acme", "status": "x"}]}
    )
    assert invalid.status_code == 400
    assert invalid.json()["details"][0]["loc"][:2] == ["orders", 1]
    empties: tuple[Any, ...] = ({"orders": []}, {}, [{"partner": "acme"}])
    for empty in empties:
        assert sandbox.admin("POST", "/orders/bulk", json=empty).status_code == 400
    assert [o["id"] for o in sandbox.admin("GET", "/orders").json()["orders"]] == [existing["id"]]


def test_bulk_takes_every_field_of_a_single_create_and_mixes_given_and_generated_ids(sandbox: Sandbox) -> None:
    ids = bulk(
        sandbox,
        [
            {"partner": "acme", "id": 10085339303},
            {"partner": "acme"},  # generated ids skip the taken one
            {
                "partner": "globex",
                "status": "shipped",
                "mdp": True,
                "confirmed": True,
                "test": True,
                "external_id": "E",
            },
        ],
    )
    assert ids[:2] == [10085339303, 10085339302]
    mdp = sandbox.admin("GET", f"/orders/{ids[2]}").json()["order"]
    assert (mdp["partner"], mdp["status"], mdp["mdp"], mdp["test"], mdp["external_id"]) == (
        "globex", "shipped", True, True, "E",
    )  # fmt: skip
    assert mdp["tracking_number"] == f"MDP{ids[2]}"
