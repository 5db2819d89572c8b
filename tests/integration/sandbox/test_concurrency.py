"""The in-memory state is safe under concurrent requests: check-and-apply of a PUT is atomic."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.integration.sandbox.support import PartnerClient, Sandbox


def test_concurrent_identical_puts_apply_exactly_once(sandbox: Sandbox, acme: PartnerClient) -> None:
    order = sandbox.create()
    path = f"/orders/{order['id']}"
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(lambda _: acme.put(path, {"status": "shipping", "confirmed": True}), range(32)))
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [400] * 31
    assert {r.json()["errorCodes"][0]["errorCode"] for r in responses if r.status_code == 400} == {"STATUS_UNCHANGED"}
    assert acme.status_of(order["id"]) == "shipping"
    assert len(sandbox.requests(method="PUT")) == 32


def test_concurrent_creates_get_distinct_ids(sandbox: Sandbox) -> None:
    with ThreadPoolExecutor(max_workers=8) as pool:
        ids = list(pool.map(lambda _: sandbox.create()["id"], range(40)))
    assert len(set(ids)) == 40
