"""Changes MALL makes, by name (`POST /sandbox/orders/{id}/actions/{action}`): each resets confirmed, stamps
the status, is in MALL's event log, and is refused with 409 where it makes no sense."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sandbox.support import TRACKING, PartnerClient, Sandbox, assert_mall_error, assert_ok

NOW_PRAGUE = "2026-11-20 10:00:00"  # the sandbox's ManualClock, in MALL's format

# (action, the order it starts from, the status it ends in)
MOVES = [
    ("customer-cancel", {"status": "open"}, "cancelled"),
    ("customer-cancel", {"status": "shipping"}, "cancelled"),
    ("customer-cancel", {"status": "blocked"}, "cancelled"),
    ("open", {"status": "blocked"}, "open"),
    ("mdp-delivered", {"status": "shipped", "mdp": True}, "delivered"),
    ("mdp-returned", {"status": "shipped", "mdp": True}, "returned"),
    ("mdp-lost", {"status": "shipped", "mdp": True}, "lost"),
    ("portal-return", {"status": "shipped", **TRACKING}, "returned"),
    ("portal-return", {"status": "shipped", "mdp": True}, "returned"),
    ("edit", {"status": "shipping"}, "shipping"),
    ("edit", {"status": "blocked"}, "blocked"),
]


def detail(acme: PartnerClient, order_id: str) -> dict[str, Any]:
    data: dict[str, Any] = acme.get(f"/orders/{order_id}").json()["data"]
    return data


@pytest.mark.parametrize(("action", "start", "after"), MOVES, ids=lambda v: str(v))
def test_each_action_changes_the_order_as_mall_does(
    sandbox: Sandbox, acme: PartnerClient, action: str, start: dict[str, Any], after: str
) -> None:
    order = sandbox.create(confirmed=True, **start)
    sandbox.clock.advance(3600)
    response = sandbox.act(order["id"], action)
    assert response.status_code == 200, response.text
    assert response.json()["action"] == action
    data = detail(acme, order["id"])
    assert (data["status"], data["confirmed"]) == (after, False)
    if after != start["status"]:
        assert data[after] == "2026-11-20 11:00:00"  # stamped when MALL made the change
    assert data[start["status"]] == NOW_PRAGUE  # the earlier timestamp stays
    assert int(order["id"]) in acme.get("/orders/unconfirmed", status="in:" + after).json()["data"]
    (event,) = sandbox.mall_events(order_id=order["id"], action=action)
    assert (event["status_before"], event["status"], event["partner"]) == (start["status"], after, "acme")


def test_mdp_delivered_takes_delivered_at_or_is_delivered_now(sandbox: Sandbox, acme: PartnerClient) -> None:
    given = sandbox.create(status="shipped", mdp=True, confirmed=True)
    body = {"delivered_at": "2026-11-20 08:15:00", "first_delivery_attempt": "2026-11-19 17:00:00"}
    assert sandbox.act(given["id"], "mdp-delivered", **body).status_code == 200
    data = detail(acme, given["id"])
    assert (data["delivered_at"], data["first_delivery_attempt"]) == (
        body["delivered_at"],
        body["first_delivery_attempt"],
    )
    assert data["tracking_number"] == f"MDP{given['id']}"  # MALL filled it in for its own delivery
    now = sandbox.create(status="shipped", mdp=True, confirmed=True)
    sandbox.act(now["id"], "mdp-delivered")
    assert detail(acme, now["id"])["delivered_at"] == NOW_PRAGUE


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"delivered_at": "2026-11-20T08:15:00"}, "YYYY-MM-DD HH:MM:SS"),
        ({"delivered_at": "2026-11-20 12:00:00"}, "in the future"),
        ({"first_delivery_attempt": "yesterday"}, "YYYY-MM-DD HH:MM:SS"),
        ({"external_id": "FC-1"}, "does not take 'external_id'"),
        ({"colour": "red"}, "invalid body"),
    ],
)
def test_bad_action_fields_are_refused_with_400(sandbox: Sandbox, body: dict[str, Any], message: str) -> None:
    order = sandbox.create(status="shipped", mdp=True, confirmed=True)
    response = sandbox.act(order["id"], "mdp-delivered", **body)
    assert response.status_code == 400, response.text
    assert message in response.text
    assert sandbox.admin("GET", f"/orders/{order['id']}").json()["order"]["status"] == "shipped"


@pytest.mark.parametrize(
    ("action", "start", "message"),
    [
        ("customer-cancel", {"status": "shipped", **TRACKING}, "needs an order that is blocked, open or shipping"),
        ("customer-cancel", {"status": "cancelled"}, "order"),
        ("open", {"status": "open"}, "needs an order that is blocked; order"),
        ("mdp-delivered", {"status": "shipped", **TRACKING}, "for MALL Delivery (mdp) orders only"),
        ("mdp-lost", {"status": "shipping", "mdp": True}, "needs an order that is shipped"),
        ("mdp-returned", {"status": "delivered", "mdp": True}, "needs an order that is shipped"),
        ("portal-return", {"status": "shipping"}, "needs an order that is shipped"),
        ("edit", {"status": "delivered"}, "is delivered"),
    ],
)
def test_an_action_that_makes_no_sense_is_409_and_changes_nothing(
    sandbox: Sandbox, action: str, start: dict[str, Any], message: str
) -> None:
    order = sandbox.create(confirmed=True, **start)
    response = sandbox.act(order["id"], action)
    assert response.status_code == 409, response.text
    assert message in response.json()["error"]
    after = sandbox.admin("GET", f"/orders/{order['id']}").json()["order"]
    assert (after["status"], after["confirmed"]) == (start["status"], True)
    assert sandbox.mall_events(action=action) == []


def test_unknown_action_and_unknown_order_are_404(sandbox: Sandbox) -> None:
    order = sandbox.create()
    response = sandbox.act(order["id"], "teleport")
    assert response.status_code == 404
    assert "customer-cancel" in response.json()["error"]  # the message lists the actions
    assert sandbox.act("55555555555", "edit").status_code == 404


def test_the_actions_are_listed(sandbox: Sandbox) -> None:
    actions = {a["name"]: a for a in sandbox.admin("GET", "/actions").json()["actions"]}
    assert set(actions) == {
        "customer-cancel", "open", "mdp-delivered", "mdp-returned", "mdp-lost", "portal-return", "edit",
    }  # fmt: skip
    assert actions["mdp-lost"] == {
        "name": "mdp-lost",
        "meaning": "MALL Delivery lost the parcel",
        "from": ["shipped"],
        "to": "lost",
        "mdp_only": True,
        "fields": [],
    }


def test_edit_keeps_the_status_resets_confirmed_and_may_set_external_id(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipping", confirmed=True)
    assert sandbox.act(order["id"], "edit", external_id="FC-77").status_code == 200
    data = detail(acme, order["id"])
    assert (data["status"], data["confirmed"], data["external_id"]) == ("shipping", False, "FC-77")
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipped", **TRACKING}), 400, "ORDER_NOT_CONFIRMED")
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "shipped", "confirmed": True, **TRACKING}))


def test_a_customer_cancel_makes_the_partners_shipping_put_fail(sandbox: Sandbox, acme: PartnerClient) -> None:
    """The story of issue 13: MALL cancelled, FastCentrik then moved on; MALL refuses the PUT."""
    order = sandbox.create(confirmed=True)
    sandbox.act(order["id"], "customer-cancel")
    assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"status": "shipping", "confirmed": True}), 400, "ORDER_STATUS_FINAL"
    )


def test_the_event_log_has_creates_actions_and_mall_updates_in_order(sandbox: Sandbox) -> None:
    order = sandbox.create(status="blocked")
    sandbox.act(order["id"], "open")
    sandbox.admin("POST", f"/orders/{order['id']}/mall-update", json={"status": "shipping"})
    other = sandbox.create(partner="globex")
    events = sandbox.mall_events()
    assert [(e["action"], e["order_id"], e["status_before"], e["status"]) for e in events] == [
        ("create", order["id"], None, "blocked"),
        ("open", order["id"], "blocked", "open"),
        ("mall-update", order["id"], "open", "shipping"),
        ("create", other["id"], None, "open"),
    ]
    assert [e["seq"] for e in events] == [1, 2, 3, 4]
    assert events[0]["time"] == "2026-11-20T09:00:00.000+00:00"
    assert [e["order_id"] for e in sandbox.mall_events(partner="globex")] == [other["id"]]
    assert [e["action"] for e in sandbox.mall_events(since=2)] == ["mall-update", "create"]
    assert sandbox.admin("GET", "/mall-events", params={"since": "x"}).status_code == 400
    sandbox.admin("POST", "/reset")
    assert sandbox.mall_events() == []
