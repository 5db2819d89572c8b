"""Helpers for the sandbox suite: a partner client, an admin client, and MALL's error-shape assertion.

The sandbox's clock is a ManualClock fixed at NOW (moved only by the tests that need it), so timestamps,
quota windows and the "delivered_at in the future" rule are deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from mallbridge_sandbox import ManualClock, Partner, SandboxServer

NOW = datetime(2026, 11, 20, 9, 0, 0, tzinfo=UTC)  # 10:00:00 in Prague
ACME_KEY = "acme-sandbox-key"
GLOBEX_KEY = "globex-sandbox-key"
TINY_KEY = "tiny-sandbox-key"
PARTNERS = [
    Partner("acme", ACME_KEY, quota=10_000),
    Partner("globex", GLOBEX_KEY, quota=10_000),
    Partner("tiny", TINY_KEY, quota=3, window_seconds=60),
]
BIG_ID = "10085339302"  # over 32 bits
TRACKING = {"tracking_number": "DR1234567890CZ", "tracking_url": "https://tracking.example.com/DR1234567890CZ"}


@dataclass
class Sandbox:
    server: SandboxServer
    clock: ManualClock
    http: httpx.Client

    @property
    def state(self) -> Any:
        return self.server.state

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, f"{self.server.url}/sandbox{path}", **kwargs)

    def create(self, partner: str = "acme", **fields: Any) -> dict[str, Any]:
        response = self.admin("POST", "/orders", json={"partner": partner, **fields})
        assert response.status_code == 201, response.text
        order: dict[str, Any] = response.json()["order"]
        return order

    def faults(self, partner: str = "acme", **config: Any) -> None:
        response = self.admin("PUT", f"/partners/{partner}/faults", json=config)
        assert response.status_code == 200, response.text

    def act(self, order_id: str, action: str, **body: Any) -> httpx.Response:
        """A change MALL makes: `POST /sandbox/orders/{id}/actions/{action}`."""
        return self.admin("POST", f"/orders/{order_id}/actions/{action}", json=body)

    def webhook(self, partner: str = "acme", **settings: Any) -> dict[str, Any]:
        response = self.admin("PUT", f"/partners/{partner}/webhook", json=settings)
        assert response.status_code == 200, response.text
        view: dict[str, Any] = response.json()["webhook"]
        return view

    def webhook_view(self, partner: str = "acme") -> dict[str, Any]:
        view: dict[str, Any] = self.admin("GET", f"/partners/{partner}/webhook").json()["webhook"]
        return view

    def mall_events(self, **params: Any) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.admin("GET", "/mall-events", params=params).json()["events"]
        return events

    def requests(self, **params: Any) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = self.admin("GET", "/requests", params=params).json()["requests"]
        return entries

    def partner(self, client_id: str = ACME_KEY) -> PartnerClient:
        return PartnerClient(self, client_id)


@dataclass
class PartnerClient:
    """A MALL client as a partner uses it: base URL /v1, client_id in the query string."""

    sandbox: Sandbox
    client_id: str

    def request(self, method: str, path: str, *, params: dict[str, Any] | None = None, **kwargs: Any) -> httpx.Response:
        url = f"{self.sandbox.server.base_url}{path}"
        return self.sandbox.http.request(method, url, params={"client_id": self.client_id, **(params or {})}, **kwargs)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def put(self, path: str, body: Any) -> httpx.Response:
        return self.request("PUT", path, json=body)

    def status_of(self, order_id: str) -> str:
        response = self.get(f"/orders/{order_id}")
        assert response.status_code == 200, response.text
        status: str = response.json()["data"]["status"]
        return status


def assert_mall_error(response: httpx.Response, status: int, error_code: str) -> dict[str, Any]:
    """MALL's error shape, exactly: result{code,status,message} and errorCodes[{errorCode,message,errorAttributes}]."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"result", "errorCodes"}
    assert body["result"]["code"] == status
    assert body["result"]["status"] == ("LIMITED" if status == 429 else "ERROR")
    assert isinstance(body["result"]["message"], str)
    assert body["result"]["message"]
    assert body["errorCodes"], body
    for item in body["errorCodes"]:
        assert set(item) == {"errorCode", "message", "errorAttributes"}
        assert isinstance(item["errorAttributes"], dict)
    assert body["errorCodes"][0]["errorCode"] == error_code, body
    return body


def assert_ok(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {"result": {"code": 200, "status": "OK"}}
