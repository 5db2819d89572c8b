"""Alerts to a Slack-compatible incoming webhook (httpx): `POST {"text": ..., "blocks": [...]}`.

The URL is the tenant's `notify_webhook_url`, a secret (a Slack webhook URL is its own credential): it
is read only here and never logged; errors name the HTTP status or the kind of failure only.
"""

from __future__ import annotations

import logging

import httpx

from mallbridge_core.tenants import Tenant
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.domain.messages import AlertMessage, slack_payload
from mallbridge_notify.ports import DeliveryError

MAX_RETRY_AFTER_S = 300.0


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        seconds = float(value)
    except ValueError:
        return None  # absent, or an HTTP date (then the backoff decides)
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_S)


class WebhookSender:
    channel: Channel = "webhook"

    def __init__(self, *, timeout_s: float, transport: httpx.AsyncBaseTransport | None = None) -> None:
        # httpx logs every request with its full URL at INFO (httpcore at DEBUG): here that is the secret
        for chatty in ("httpx", "httpcore"):
            logger = logging.getLogger(chatty)
            logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout_s, connect=min(3.0, timeout_s)),
            headers={"User-Agent": "mallbridge-notify"},
            follow_redirects=False,
            transport=transport,
        )

    def configured_for(self, tenant: Tenant) -> bool:
        return tenant.notify_webhook_url is not None

    async def send(self, tenant: Tenant, message: AlertMessage) -> None:
        if tenant.notify_webhook_url is None:
            raise DeliveryError(f"tenant {tenant.tenant_id} has no notify_webhook_url")
        try:
            response = await self._client.post(
                tenant.notify_webhook_url.get_secret_value(), json=slack_payload(message)
            )
        except httpx.HTTPError as exc:
            # the class only: httpx's messages can carry the URL
            raise DeliveryError(f"webhook unreachable ({type(exc).__name__})") from None
        if not response.is_success:
            # Slack answers 429 with Retry-After when a webhook posts faster than about one message a second
            raise DeliveryError(f"webhook answered HTTP {response.status_code}", retry_after_s=_retry_after(response))

    async def close(self) -> None:
        await self._client.aclose()
