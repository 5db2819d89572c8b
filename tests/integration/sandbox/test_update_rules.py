"""`PUT /v1/orders/{id}`: MALL's rules, one test per rule (MALL Partner API: order update, order statuses and
their transitions; ARCHITECTURE.md §1).

Each illegal request must get the exact HTTP status, MALL's error shape and a meaningful errorCode, and must
leave the order as it was.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.sandbox.support import (
    BIG_ID,
    TRACKING,
    PartnerClient,
    Sandbox,
    assert_mall_error,
    assert_ok,
)

STATUSES = ["blocked", "open", "shipping", "shipped", "delivered", "returned", "cancelled", "lost"]
FINAL = {"delivered", "returned", "cancelled", "lost"}
# The partner's transitions as MALL documents them (MALL order statuses: "Transitions the partner may make"),
# written out here independently of the code.
ALLOWED = {
    ("open", "shipping"),
    ("open", "shipped"),
    ("open", "cancelled"),
    ("shipping", "shipped"),
    ("shipping", "cancelled"),
    ("shipped", "delivered"),
    ("shipped", "returned"),
}
DELIVERED_AT = "2026-11-20 09:30:00"  # the sandbox clock says 10:00:00 Prague time


def body_for(target: str, **extra: Any) -> dict[str, Any]:
    """A complete body for a move to `target` (confirmation and the fields the target needs)."""
    body: dict[str, Any] = {"status": target, "confirmed": True}
    if target == "shipped":
        body |= TRACKING
    if target == "delivered":
        body["delivered_at"] = DELIVERED_AT
    return body | extra


def detail(acme: PartnerClient, order_id: str) -> dict[str, Any]:
    response = acme.get(f"/orders/{order_id}")
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def assert_unchanged(acme: PartnerClient, order_id: str, status: str, confirmed: bool) -> None:
    data = detail(acme, order_id)
    assert (data["status"], data["confirmed"]) == (status, confirmed)


# --- the happy paths -------------------------------------------------------------------------------


def test_happy_path_open_shipping_shipped_delivered(sandbox: Sandbox, acme: PartnerClient) -> None:
    sandbox.create(id=BIG_ID)
    assert_ok(acme.put(f"/orders/{BIG_ID}", {"status": "shipping", "confirmed": True}))
    sandbox.clock.advance(60)
    assert_ok(acme.put(f"/orders/{BIG_ID}", {"status": "shipped", **TRACKING}))
    sandbox.clock.advance(3600)
    assert_ok(
        acme.put(
            f"/orders/{BIG_ID}",
            {
                "status": "delivered",
                "delivered_at": "2026-11-20 10:45:00",
                "first_delivery_attempt": "2026-11-20 10:30:00",
            },
        )
    )
    data = detail(acme, BIG_ID)
    assert data["id"] == 10085339302
    assert data["status"] == "delivered"
    assert data["confirmed"] is True
    assert data["tracking_number"] == TRACKING["tracking_number"]
    assert data["tracking_url"] == TRACKING["tracking_url"]
    assert data["delivered_at"] == "2026-11-20 10:45:00"
    assert data["first_delivery_attempt"] == "2026-11-20 10:30:00"
    assert (data["open"], data["shipping"], data["shipped"], data["delivered"]) == (
        "2026-11-20 10:00:00",
        "2026-11-20 10:00:00",
        "2026-11-20 10:01:00",
        "2026-11-20 11:01:00",
    )


def test_open_to_shipped_directly_with_tracking(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    assert_ok(acme.put(f"/orders/{order['id']}", body_for("shipped")))
    assert detail(acme, order["id"])["status"] == "shipped"


def test_shipped_to_returned(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "returned"}))
    assert detail(acme, order["id"])["status"] == "returned"


def test_cancel_from_open_and_from_shipping(sandbox: Sandbox, acme: PartnerClient) -> None:
    first, second = sandbox.create(), sandbox.create(status="shipping", confirmed=True)
    assert_ok(acme.put(f"/orders/{first['id']}", {"status": "cancelled", "confirmed": True}))
    assert_ok(acme.put(f"/orders/{second['id']}", {"status": "cancelled"}))
    assert detail(acme, first["id"])["status"] == detail(acme, second["id"])["status"] == "cancelled"


# --- the transition graph --------------------------------------------------------------------------


def expected_refusal(current: str, target: str) -> str | None:
    if current == "blocked":
        return "ORDER_BLOCKED"
    if current == target:
        return "STATUS_UNCHANGED"
    if current in FINAL:
        return "ORDER_STATUS_FINAL"
    return None if (current, target) in ALLOWED else "STATUS_TRANSITION_FORBIDDEN"


@pytest.mark.parametrize("current", STATUSES)
def test_transition_graph_every_pair(sandbox: Sandbox, acme: PartnerClient, current: str) -> None:
    """All 64 (current, target) pairs for a non-MDP order: exactly the documented moves are accepted."""
    for target in STATUSES:
        order = sandbox.create(status=current, confirmed=current != "blocked")
        response = acme.put(f"/orders/{order['id']}", body_for(target))
        refusal = expected_refusal(current, target)
        if refusal is None:
            assert_ok(response)
            assert detail(acme, order["id"])["status"] == target
        else:
            assert_mall_error(response, 400, refusal)
            assert_unchanged(acme, order["id"], current, current != "blocked")


def test_going_backwards_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    for current, target in [("shipping", "open"), ("shipped", "shipping"), ("shipped", "open")]:
        order = sandbox.create(status=current, confirmed=True)
        body = assert_mall_error(
            acme.put(f"/orders/{order['id']}", {"status": target}), 400, "STATUS_TRANSITION_FORBIDDEN"
        )
        attributes = body["errorCodes"][0]["errorAttributes"]
        assert (attributes["status"], attributes["requested"]) == (current, target)
        assert_unchanged(acme, order["id"], current, True)


def test_nothing_out_of_a_final_status(sandbox: Sandbox, acme: PartnerClient) -> None:
    for final in sorted(FINAL):
        order = sandbox.create(status=final, confirmed=True)
        for target in ("open", "shipping", "shipped", "cancelled" if final != "cancelled" else "delivered"):
            assert_mall_error(acme.put(f"/orders/{order['id']}", body_for(target)), 400, "ORDER_STATUS_FINAL")
        assert_unchanged(acme, order["id"], final, True)


def test_blocked_order_cannot_be_touched(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="blocked")
    for body in (
        {"status": "open", "confirmed": True},
        {"status": "cancelled", "confirmed": True},
        {"confirmed": True},
    ):
        assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "ORDER_BLOCKED")
    assert_unchanged(acme, order["id"], "blocked", False)


def test_resending_the_current_status_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipping", confirmed=True)
    body = assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipping"}), 400, "STATUS_UNCHANGED")
    assert "already shipping" in body["result"]["message"]
    shipped = sandbox.create()
    assert_ok(acme.put(f"/orders/{shipped['id']}", body_for("shipped")))
    assert_mall_error(acme.put(f"/orders/{shipped['id']}", body_for("shipped")), 400, "STATUS_UNCHANGED")


# --- confirmation ------------------------------------------------------------------------------------


def test_unconfirmed_order_cannot_change_status(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    for body in ({"status": "shipping"}, {"status": "cancelled"}, {"status": "shipped", **TRACKING}):
        assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "ORDER_NOT_CONFIRMED")
    assert_unchanged(acme, order["id"], "open", False)


def test_confirm_first_then_change_status(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    assert_ok(acme.put(f"/orders/{order['id']}", {"confirmed": True}))
    assert_unchanged(acme, order["id"], "open", True)
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "shipping"}))
    assert_unchanged(acme, order["id"], "shipping", True)


def test_confirmed_true_with_a_status_change_on_a_confirmed_order_is_accepted(
    sandbox: Sandbox, acme: PartnerClient
) -> None:
    order = sandbox.create(confirmed=True)
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "shipping", "confirmed": True}))


def test_confirming_twice_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"confirmed": True}), 400, "ORDER_ALREADY_CONFIRMED")


def test_confirmed_false_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    body = assert_mall_error(acme.put(f"/orders/{order['id']}", {"confirmed": False}), 400, "INVALID_VALUE")
    assert body["errorCodes"][0]["errorAttributes"]["field"] == "confirmed"
    assert_unchanged(acme, order["id"], "open", True)


# --- shipped needs tracking (non-MDP) ----------------------------------------------------------------


def test_shipped_requires_tracking_number(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    body = {"status": "shipped", "tracking_url": TRACKING["tracking_url"]}
    assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "TRACKING_NUMBER_MISSING")
    assert_unchanged(acme, order["id"], "open", True)


def test_shipped_requires_tracking_url(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipping", confirmed=True)
    body = {"status": "shipped", "tracking_number": TRACKING["tracking_number"]}
    assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "TRACKING_URL_MISSING")
    assert_unchanged(acme, order["id"], "shipping", True)


@pytest.mark.parametrize("number", ["DR 123", "DR/123", "DR.123", "DRČ123", "DR+123", "", "123#"])
def test_tracking_number_character_set(sandbox: Sandbox, acme: PartnerClient, number: str) -> None:
    order = sandbox.create(confirmed=True)
    body = assert_mall_error(
        acme.put(f"/orders/{order['id']}", body_for("shipped", tracking_number=number)), 400, "TRACKING_NUMBER_INVALID"
    )
    assert body["errorCodes"][0]["errorAttributes"]["allowed"] == "0-9 a-z A-Z - _"
    assert_unchanged(acme, order["id"], "open", True)


def test_tracking_number_with_every_allowed_character_is_accepted(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    number = "azAZ09-_Qx"
    assert_ok(acme.put(f"/orders/{order['id']}", body_for("shipped", tracking_number=number)))
    assert detail(acme, order["id"])["tracking_number"] == number


@pytest.mark.parametrize("url", ["tracking.example.com/1", "ftp://example.com/1", "https://", "https://ex ample.com"])
def test_tracking_url_must_be_an_http_url(sandbox: Sandbox, acme: PartnerClient, url: str) -> None:
    order = sandbox.create(confirmed=True)
    assert_mall_error(
        acme.put(f"/orders/{order['id']}", body_for("shipped", tracking_url=url)), 400, "TRACKING_URL_INVALID"
    )


def test_tracking_only_with_status_shipped(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(confirmed=True)
    body = assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"status": "shipping", **TRACKING}), 400, "FIELD_NOT_ALLOWED"
    )
    assert body["errorCodes"][0]["errorAttributes"]["field"] == "tracking_number"
    assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"tracking_url": TRACKING["tracking_url"]}), 400, "FIELD_NOT_ALLOWED"
    )
    assert_unchanged(acme, order["id"], "open", True)


# --- delivered needs delivered_at --------------------------------------------------------------------


def test_delivered_requires_delivered_at(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "delivered"}), 400, "DELIVERED_AT_MISSING")
    assert_unchanged(acme, order["id"], "shipped", True)


@pytest.mark.parametrize(
    "value",
    [
        "2026-11-20T09:30:00",
        "2026-11-20",
        "20.11.2026 09:30:00",
        "2026-11-20 09:30",
        "2026-11-20 9:30:00",
        "2026-11-20 09:30:00.000",
        "2026-11-20 09:30:00+01:00",
        "2026-13-01 09:30:00",
        "2026-11-31 09:30:00",
        "2026-11-20 24:00:00",
        "2026-11-20 07:30:00 PM",
        " 2026-11-20 09:30:00",
        "2026-11-20 09:30:00\n",
        "２０２６-11-20 09:30:00",  # full-width digits: MALL's format has ASCII digits only
        "2026-11-2٠ 09:30:00",  # an Arabic-Indic digit
    ],
)
def test_delivered_at_format_is_exactly_yyyy_mm_dd_hh_mm_ss(sandbox: Sandbox, acme: PartnerClient, value: str) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    body = assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"status": "delivered", "delivered_at": value}), 400, "DATETIME_INVALID"
    )
    assert body["errorCodes"][0]["errorAttributes"] == {
        "field": "delivered_at",
        "value": value,
        "format": "YYYY-MM-DD HH:MM:SS",
    }
    assert_unchanged(acme, order["id"], "shipped", True)


def test_delivered_at_must_be_a_prague_wall_time_that_exists(sandbox: Sandbox, acme: PartnerClient) -> None:
    """02:00-02:59 on the last Sunday of March never happens in Prague (the clocks go from 02:00 to 03:00);
    the repeated hour of the last Sunday of October does happen (twice)."""
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    skipped = {"status": "delivered", "delivered_at": "2026-03-29 02:30:00"}
    body = assert_mall_error(acme.put(f"/orders/{order['id']}", skipped), 400, "DATETIME_INVALID")
    assert body["errorCodes"][0]["errorAttributes"]["value"] == "2026-03-29 02:30:00"
    assert_unchanged(acme, order["id"], "shipped", True)
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "delivered", "delivered_at": "2026-10-25 02:30:00"}))


def test_delivered_at_in_the_future_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    future = {"status": "delivered", "delivered_at": "2026-11-20 10:00:01"}  # clock: 10:00:00 Prague
    assert_mall_error(acme.put(f"/orders/{order['id']}", future), 400, "DELIVERED_AT_IN_FUTURE")
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "delivered", "delivered_at": "2026-11-20 10:00:00"}))


def test_delivered_at_only_with_status_delivered(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    body = {"status": "returned", "delivered_at": DELIVERED_AT}
    assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "FIELD_NOT_ALLOWED")
    assert_unchanged(acme, order["id"], "shipped", True)


def test_first_delivery_attempt_format_and_placement(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(status="shipped", confirmed=True, **TRACKING)
    bad = {"status": "returned", "first_delivery_attempt": "2026-11-20"}
    assert_mall_error(acme.put(f"/orders/{order['id']}", bad), 400, "DATETIME_INVALID")
    open_order = sandbox.create(confirmed=True)
    misplaced = {"status": "shipping", "first_delivery_attempt": DELIVERED_AT}
    assert_mall_error(acme.put(f"/orders/{open_order['id']}", misplaced), 400, "FIELD_NOT_ALLOWED")
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "returned", "first_delivery_attempt": DELIVERED_AT}))


# --- MALL Delivery (MDP) -----------------------------------------------------------------------------


def test_mdp_must_pass_through_shipping(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(mdp=True, confirmed=True)
    assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": "shipped"}), 400, "MDP_SHIPPING_REQUIRED")
    assert_unchanged(acme, order["id"], "open", True)
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "shipping"}))
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "shipped"}))
    data = detail(acme, order["id"])
    assert data["status"] == "shipped"
    assert data["mdp"] is True
    assert data["tracking_number"]  # MALL fills tracking in for MDP orders


@pytest.mark.parametrize("target", ["delivered", "returned"])
def test_mdp_partner_may_not_set_delivered_or_returned(sandbox: Sandbox, acme: PartnerClient, target: str) -> None:
    order = sandbox.create(mdp=True, status="shipped", confirmed=True)
    body = {"status": target, **({"delivered_at": DELIVERED_AT} if target == "delivered" else {})}
    assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "MDP_STATUS_FORBIDDEN")
    assert_unchanged(acme, order["id"], "shipped", True)


def test_mdp_shipped_refuses_partner_tracking(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(mdp=True, status="shipping", confirmed=True)
    assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"status": "shipped", **TRACKING}), 400, "MDP_TRACKING_FORBIDDEN"
    )
    assert_unchanged(acme, order["id"], "shipping", True)


def test_mdp_can_be_cancelled_while_shipping(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create(mdp=True, status="shipping", confirmed=True)
    assert_ok(acme.put(f"/orders/{order['id']}", {"status": "cancelled"}))


# --- unknown orders, malformed requests ---------------------------------------------------------------


def test_unknown_order_is_404_resource_not_found(sandbox: Sandbox, acme: PartnerClient) -> None:
    for response in (
        acme.get("/orders/99999999999"),
        acme.put("/orders/99999999999", {"confirmed": True}),
        acme.get("/orders/not-a-number"),
        acme.put("/orders/0123", {"confirmed": True}),
    ):
        assert_mall_error(response, 404, "RESOURCE_NOT_FOUND")


def test_invalid_json_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    for raw in (b'{"status": "shipping",', b"status=shipping", b"\xff\xfe"):
        response = acme.request(
            "PUT", f"/orders/{order['id']}", content=raw, headers={"content-type": "application/json"}
        )
        assert_mall_error(response, 400, "INVALID_JSON")
    assert_unchanged(acme, order["id"], "open", False)


def test_json_nested_too_deep_to_parse_is_invalid_json_and_logged(sandbox: Sandbox, acme: PartnerClient) -> None:
    """Python's parser gives up (RecursionError) on deep nesting: the answer is still MALL's 400, not a
    plain-text 500, and the request is in the request log."""
    order = sandbox.create()
    deep = b'{"status": "shipping", "confirmed": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    response = acme.request("PUT", f"/orders/{order['id']}", content=deep, headers={"content-type": "application/json"})
    assert_mall_error(response, 400, "INVALID_JSON")
    assert_unchanged(acme, order["id"], "open", False)
    (logged,) = sandbox.requests(method="PUT")
    assert (logged["status"], logged["body"][:30]) == (400, deep[:30].decode())


@pytest.mark.parametrize("raw", [b"", b"[]", b'"shipping"', b"null", b"42"])
def test_body_must_be_a_json_object(sandbox: Sandbox, acme: PartnerClient, raw: bytes) -> None:
    order = sandbox.create()
    response = acme.request("PUT", f"/orders/{order['id']}", content=raw, headers={"content-type": "application/json"})
    assert_mall_error(response, 400, "INVALID_BODY")


def test_empty_update_is_refused(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    assert_mall_error(acme.put(f"/orders/{order['id']}", {}), 400, "EMPTY_UPDATE")


@pytest.mark.parametrize("field", ["carrier", "state", "Status", "trackingNumber", "delivery_date", "client_id"])
def test_unknown_fields_are_refused(sandbox: Sandbox, acme: PartnerClient, field: str) -> None:
    order = sandbox.create(confirmed=True)
    body = assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"status": "shipping", field: "x"}), 400, "UNKNOWN_FIELD"
    )
    assert body["errorCodes"][0]["errorAttributes"]["field"] == field
    assert_unchanged(acme, order["id"], "open", True)


@pytest.mark.parametrize(
    "body",
    [
        {"status": 3},
        {"status": None},
        {"status": ["shipping"]},
        {"confirmed": "true"},
        {"confirmed": 1},
        {"confirmed": None},
        {"status": "shipped", "tracking_number": 123456, "tracking_url": "https://t.example/1"},
        {"status": "delivered", "delivered_at": 1763629800},
    ],
)
def test_wrong_field_types_are_refused(sandbox: Sandbox, acme: PartnerClient, body: dict[str, Any]) -> None:
    order = sandbox.create(confirmed=True, status="shipped", **TRACKING)
    response = assert_mall_error(acme.put(f"/orders/{order['id']}", body), 400, "INVALID_FIELD_TYPE")
    assert set(response["errorCodes"][0]["errorAttributes"]) == {"field", "expected", "got"}
    assert_unchanged(acme, order["id"], "shipped", True)


def test_all_field_problems_are_reported_together(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    body = assert_mall_error(
        acme.put(f"/orders/{order['id']}", {"carrier": "x", "confirmed": "yes"}), 400, "UNKNOWN_FIELD"
    )
    assert [e["errorCode"] for e in body["errorCodes"]] == ["UNKNOWN_FIELD", "INVALID_FIELD_TYPE"]


@pytest.mark.parametrize("status", ["canceled", "Shipped", "SHIPPING", "delivered ", "storno", ""])
def test_unknown_status_strings_are_refused(sandbox: Sandbox, acme: PartnerClient, status: str) -> None:
    order = sandbox.create(confirmed=True)
    body = assert_mall_error(acme.put(f"/orders/{order['id']}", {"status": status}), 400, "INVALID_STATUS")
    assert body["errorCodes"][0]["errorAttributes"]["allowed"] == STATUSES
    assert_unchanged(acme, order["id"], "open", True)


def test_order_ids_beyond_32_and_up_to_63_bits(sandbox: Sandbox, acme: PartnerClient) -> None:
    for order_id in ("4294967296", "9223372036854775807"):
        sandbox.create(id=order_id, confirmed=True)
        assert detail(acme, order_id)["id"] == int(order_id)
        assert_ok(acme.put(f"/orders/{order_id}", {"status": "shipping"}))
    assert_mall_error(acme.get("/orders/9223372036854775808"), 404, "RESOURCE_NOT_FOUND")
