"""The request log: what partners sent and got, with the client_id value masked everywhere."""

from __future__ import annotations

from tests.integration.sandbox.support import ACME_KEY, GLOBEX_KEY, TRACKING, PartnerClient, Sandbox


def test_entries_record_request_and_answer_with_client_id_masked(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    acme.put(f"/orders/{order['id']}", {"status": "shipping"})
    acme.get("/orders", status="in:open,shipping", page_size="10")
    response = sandbox.admin("GET", "/requests")
    assert ACME_KEY not in response.text
    put, listing = response.json()["requests"]
    assert put["method"] == "PUT"
    assert put["path"] == f"/v1/orders/{order['id']}"
    assert put["query"] == "client_id=***"
    assert put["partner"] == "acme"
    assert put["order_id"] == order["id"]
    assert put["body"] == {"status": "shipping"}
    assert put["status"] == 200
    assert put["time"].startswith("2026-11-20T09:00:00")
    assert put["seq"] < listing["seq"]
    assert listing["query"] == "client_id=***&status=in%3Aopen%2Cshipping&page_size=10"
    assert listing["body"] is None


def test_unknown_and_repeated_client_ids_are_masked_too(sandbox: Sandbox) -> None:
    url = f"{sandbox.server.base_url}/orders?client_id=wrong-secret-1&client%5Fid=wrong-secret-2&page=1"
    assert sandbox.http.get(url).status_code == 401
    text = sandbox.admin("GET", "/requests").text
    assert "wrong-secret" not in text
    (entry,) = sandbox.requests()
    assert entry["query"] == "client_id=***&client%5Fid=***&page=1"
    assert (entry["partner"], entry["status"]) == (None, 401)


def test_invalid_body_is_logged_as_text(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    acme.request("PUT", f"/orders/{order['id']}", content=b"{not json")
    assert sandbox.requests()[0]["body"] == "{not json"


def test_filters_by_partner_order_method_and_since(sandbox: Sandbox, acme: PartnerClient) -> None:
    first, second = sandbox.create(confirmed=True), sandbox.create()
    globex = sandbox.partner(GLOBEX_KEY)
    acme.get(f"/orders/{first['id']}")
    acme.put(f"/orders/{first['id']}", {"status": "shipping"})
    acme.get(f"/orders/{second['id']}")
    globex.get("/orders")
    assert [e["partner"] for e in sandbox.requests(partner="globex")] == ["globex"]
    assert [e["method"] for e in sandbox.requests(order_id=first["id"])] == ["GET", "PUT"]
    assert [e["order_id"] for e in sandbox.requests(partner="acme", method="put")] == [first["id"]]
    last_seq = sandbox.requests()[-1]["seq"]
    acme.get("/orders")
    assert [e["path"] for e in sandbox.requests(since=last_seq)] == ["/v1/orders"]
    assert sandbox.admin("GET", "/requests", params={"since": "x"}).status_code == 400


def test_admin_calls_are_not_logged_and_the_log_can_be_cleared(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.create()
    sandbox.admin("GET", "/partners")
    assert sandbox.requests() == []
    acme.get("/orders")
    assert len(sandbox.requests()) == 1
    assert sandbox.admin("DELETE", "/requests").status_code == 200
    assert sandbox.requests() == []


def test_a_returned_put_is_visible_in_the_log_and_the_order_shows_mall_state(
    sandbox: Sandbox, acme: PartnerClient
) -> None:
    """What an operator's "return" (issue 15) must be seen doing: the PUT arrives, MALL's state follows."""
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    sandbox.clock.advance(120)
    response = acme.put(f"/orders/{order['id']}", {"status": "returned"})
    assert response.status_code == 200, response.text
    (put,) = sandbox.requests(order_id=order["id"], method="PUT")
    assert (put["body"], put["status"], put["partner"]) == ({"status": "returned"}, 200, "acme")
    mall = sandbox.admin("GET", f"/orders/{order['id']}").json()["order"]
    assert (mall["status"], mall["confirmed"], mall["mdp"]) == ("returned", True, False)
    assert (mall["shipped"], mall["returned"]) == ("2026-11-20 10:00:00", "2026-11-20 10:02:00")
    assert mall["tracking_number"] == TRACKING["tracking_number"]
