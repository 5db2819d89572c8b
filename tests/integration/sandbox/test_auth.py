"""`client_id` query authentication per partner (MALL Partner API: authentication), unknown paths and methods."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.sandbox.support import ACME_KEY, GLOBEX_KEY, PartnerClient, Sandbox, assert_mall_error


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/orders"),
        ("GET", "/orders/10085339302"),
        ("PUT", "/orders/10085339302"),
        ("GET", "/orders/unconfirmed"),
    ],
)
def test_missing_client_id_is_401(sandbox: Sandbox, method: str, path: str) -> None:
    sandbox.create(id="10085339302")
    response = sandbox.http.request(method, f"{sandbox.server.base_url}{path}", json={"confirmed": True})
    assert_mall_error(response, 401, "CLIENT_ID_MISSING")
    empty = sandbox.http.request(method, f"{sandbox.server.base_url}{path}", params={"client_id": ""})
    assert_mall_error(empty, 401, "CLIENT_ID_MISSING")


def test_unknown_client_id_is_401_and_not_echoed(sandbox: Sandbox) -> None:
    secret = "not-a-real-key-5f2c"
    response = sandbox.partner(secret).get("/orders")
    assert_mall_error(response, 401, "CLIENT_ID_INVALID")
    assert secret not in response.text


def test_client_id_in_a_header_is_not_authentication(sandbox: Sandbox) -> None:
    response = sandbox.http.get(
        f"{sandbox.server.base_url}/orders", headers={"client_id": ACME_KEY, "Authorization": f"Bearer {ACME_KEY}"}
    )
    assert_mall_error(response, 401, "CLIENT_ID_MISSING")


def test_another_partners_order_is_404(sandbox: Sandbox, acme: PartnerClient) -> None:
    theirs = sandbox.create(partner="globex", confirmed=True)
    assert_mall_error(acme.get(f"/orders/{theirs['id']}"), 404, "RESOURCE_NOT_FOUND")
    assert_mall_error(acme.put(f"/orders/{theirs['id']}", {"status": "cancelled"}), 404, "RESOURCE_NOT_FOUND")
    assert sandbox.partner(GLOBEX_KEY).status_of(theirs["id"]) == "open"


def test_disabled_account_is_401_until_enabled_again(sandbox: Sandbox, acme: PartnerClient) -> None:
    assert sandbox.admin("PATCH", "/partners/acme", json={"enabled": False}).status_code == 200
    assert_mall_error(acme.get("/orders"), 401, "ACCOUNT_DISABLED")
    assert sandbox.partner(GLOBEX_KEY).get("/orders").status_code == 200
    assert sandbox.admin("PATCH", "/partners/acme", json={"enabled": True}).status_code == 200
    assert acme.get("/orders").status_code == 200


def test_unknown_path_is_404_in_mall_shape(sandbox: Sandbox, acme: PartnerClient) -> None:
    assert_mall_error(acme.get("/products"), 404, "RESOURCE_NOT_FOUND")
    assert_mall_error(acme.get("/orders/10085339302/items"), 404, "RESOURCE_NOT_FOUND")


def test_a_trailing_slash_is_an_unknown_path_not_a_redirect(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    assert_mall_error(acme.get("/orders/"), 404, "RESOURCE_NOT_FOUND")
    assert_mall_error(acme.get("/orders/unconfirmed/"), 404, "RESOURCE_NOT_FOUND")
    assert_mall_error(
        acme.put(f"/orders/{order['id']}/", {"status": "shipping", "confirmed": True}), 404, "RESOURCE_NOT_FOUND"
    )
    assert acme.status_of(order["id"]) == "open"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/orders/10085339302"),
        ("DELETE", "/orders/10085339302"),
        ("POST", "/orders"),
        ("GET", "/orders/10085339302/tracking"),
    ],
)
def test_wrong_method_is_405_in_mall_shape(sandbox: Sandbox, acme: PartnerClient, method: str, path: str) -> None:
    sandbox.create(id="10085339302")
    response: httpx.Response = acme.request(method, path)
    assert_mall_error(response, 405, "METHOD_NOT_ALLOWED")
