"""The sandbox-only admin API: orders, changes MALL makes, partners, reset, health."""

from __future__ import annotations

import pytest

from tests.integration.sandbox.support import (
    ACME_KEY,
    GLOBEX_KEY,
    PartnerClient,
    Sandbox,
    assert_mall_error,
    assert_ok,
)


def test_create_order_defaults_and_generated_ids(sandbox: Sandbox) -> None:
    first, second = sandbox.create(), sandbox.create(mdp=True, external_id="FC-7")
    assert (first["status"], first["confirmed"], first["mdp"], first["test"]) == ("open", False, False, False)
    assert first["partner"] == "acme"
    assert int(first["id"]) > 2**32
    assert int(second["id"]) == int(first["id"]) + 1
    assert (second["mdp"], second["external_id"]) == (True, "FC-7")


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"partner": "nobody"}, 404),
        ({"partner": "acme", "id": "12a"}, 400),
        ({"partner": "acme", "id": "0123"}, 400),
        ({"partner": "acme", "status": "canceled"}, 400),
        ({"partner": "acme", "colour": "red"}, 400),
        ({"partner": "acme", "opened_at": "2026-03-02T08:00:00"}, 400),
        ({"partner": "acme", "status": "blocked", "opened_at": "2026-03-02 08:00:00"}, 400),
        ({}, 400),
    ],
)
def test_create_order_validation(sandbox: Sandbox, body: dict[str, object], status: int) -> None:
    response = sandbox.admin("POST", "/orders", json=body)
    assert response.status_code == status, response.text
    assert "error" in response.json()


def test_an_order_created_as_opened_earlier_says_so_in_its_detail(sandbox: Sandbox, acme: PartnerClient) -> None:
    """For an order that has waited at MALL (what `mallbridge balance` calls unknown after an hour)."""
    waited = sandbox.create(opened_at="2026-03-02 08:00:00")
    fresh = sandbox.create()
    assert acme.get(f"/orders/{waited['id']}").json()["data"]["open"] == "2026-03-02 08:00:00"
    assert acme.get(f"/orders/{fresh['id']}").json()["data"]["open"] not in (None, "2026-03-02 08:00:00")
    assert "opened_at" not in waited


def test_create_order_with_an_existing_id_is_409(sandbox: Sandbox) -> None:
    sandbox.create(id=10085339302)
    assert sandbox.admin("POST", "/orders", json={"partner": "globex", "id": "10085339302"}).status_code == 409


def test_mall_cancels_an_order_it_becomes_unconfirmed(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipping", confirmed=True)
    response = sandbox.admin("POST", f"/orders/{order['id']}/mall-update", json={"status": "cancelled"})
    assert response.status_code == 200
    assert (response.json()["order"]["status"], response.json()["order"]["confirmed"]) == ("cancelled", False)
    assert acme.get("/orders/unconfirmed").json()["data"] == [int(order["id"])]
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipped"}), 400, "ORDER_STATUS_FINAL")
    assert_ok(acme.put(f"/orders/{order['id']}", {"confirmed": True}))  # acknowledging MALL's change
    assert acme.get("/orders/unconfirmed").json()["data"] == []


def test_blocked_to_open_by_mall_resets_confirmed(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="blocked", confirmed=True)
    changed = sandbox.admin("POST", f"/orders/{order['id']}/mall-update", json={"status": "open"}).json()["order"]
    assert (changed["status"], changed["confirmed"]) == ("open", False)
    assert changed["open"] == "2026-11-20 10:00:00"
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipping"}), 400, "ORDER_NOT_CONFIRMED")
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "shipping", "confirmed": True}))


def test_mall_update_may_keep_confirmed_and_ignores_the_partner_graph(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(mdp=True, status="shipped", confirmed=True)
    body = {"status": "delivered", "delivered_at": "2026-11-20 09:00:00", "confirmed": True}
    changed = sandbox.admin("POST", f"/orders/{order['id']}/mall-update", json=body).json()["order"]
    assert (changed["status"], changed["confirmed"], changed["delivered_at"]) == (
        "delivered",
        True,
        "2026-11-20 09:00:00",
    )
    assert changed["tracking_number"]  # MALL had filled it in for the MDP order
    lost = sandbox.create(mdp=True, status="shipped", confirmed=True)
    sandbox.admin("POST", f"/orders/{lost['id']}/mall-update", json={"status": "lost"})
    assert acme.status_of(lost["id"]) == "lost"


def test_mall_update_of_unknown_order_is_404(sandbox: Sandbox) -> None:
    assert sandbox.admin("POST", "/orders/55555555555/mall-update", json={"status": "open"}).status_code == 404


def test_get_and_list_orders(sandbox: Sandbox) -> None:
    mine, theirs = sandbox.create(), sandbox.create(partner="globex")
    assert sandbox.admin("GET", f"/orders/{mine['id']}").json()["order"]["partner"] == "acme"
    assert [o["id"] for o in sandbox.admin("GET", "/orders").json()["orders"]] == [mine["id"], theirs["id"]]
    assert [o["id"] for o in sandbox.admin("GET", "/orders", params={"partner": "globex"}).json()["orders"]] == [
        theirs["id"]
    ]
    assert sandbox.admin("GET", "/orders/1").status_code == 404


def test_partners_listing_never_shows_client_ids(sandbox: Sandbox) -> None:
    response = sandbox.admin("GET", "/partners")
    assert [p["name"] for p in response.json()["partners"]] == ["acme", "globex", "tiny"]
    assert ACME_KEY not in response.text
    assert GLOBEX_KEY not in response.text


def test_partners_can_be_added_at_runtime(sandbox: Sandbox) -> None:
    created = sandbox.admin("POST", "/partners", json={"name": "initech", "client_id": "initech-key", "quota": 5})
    assert created.status_code == 201
    assert "initech-key" not in created.text
    assert sandbox.partner("initech-key").get("/orders").headers["X-RateLimit-Remaining"] == "4"
    assert sandbox.admin("POST", "/partners", json={"name": "initech", "client_id": "other"}).status_code == 409
    assert sandbox.admin("POST", "/partners", json={"name": "dup", "client_id": ACME_KEY}).status_code == 409
    assert sandbox.admin("POST", "/partners", json={"name": "bad name!", "client_id": "x"}).status_code == 400


def test_reset_restores_the_start_state(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.create()
    sandbox.faults(error_rate=1.0)
    sandbox.admin("POST", "/partners", json={"name": "initech", "client_id": "initech-key"})
    assert sandbox.admin("POST", "/reset").status_code == 200
    assert sandbox.admin("GET", "/orders").json()["orders"] == []
    assert acme.get("/orders").status_code == 200
    assert sandbox.requests()[0]["seq"] == 1
    assert sandbox.partner("initech-key").get("/orders").status_code == 401


def test_health(sandbox: Sandbox) -> None:
    assert sandbox.http.get(f"{sandbox.server.url}/healthz").json() == {"status": "ok"}
    assert sandbox.admin("GET", "/healthz").json() == {"status": "ok"}


def test_admin_bad_json_and_unknown_paths(sandbox: Sandbox) -> None:
    response = sandbox.admin("POST", "/orders", content=b"{oops", headers={"content-type": "application/json"})
    assert response.status_code == 400
    deep = b"[" * 100_000 + b"]" * 100_000  # too deep for Python's parser: still a 400, not a 500
    assert sandbox.admin("POST", "/orders", content=deep).status_code == 400
    assert sandbox.admin("GET", "/nothing-here").status_code == 404
