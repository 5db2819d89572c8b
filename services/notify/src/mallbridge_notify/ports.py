"""What the notifier needs from the outside: one `Sender` per channel.

A sender either delivers (returns) or raises `DeliveryError`, whose message must be safe to log: it
never carries the webhook URL, an address's password or the body.
"""

from __future__ import annotations

from typing import Protocol

from mallbridge_core.tenants import Tenant
from mallbridge_notify.domain.alerts import Channel
from mallbridge_notify.domain.messages import AlertMessage


class DeliveryError(RuntimeError):
    """The receiver did not accept the alert (retried with backoff). The message is safe to log.

    `retry_after_s`: the receiver asked to wait this long first (HTTP 429/503 Retry-After), if it said.
    """

    def __init__(self, message: str, *, retry_after_s: float | None = None) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class Sender(Protocol):
    channel: Channel

    def configured_for(self, tenant: Tenant) -> bool:
        """Whether `tenant` has somewhere to send to on this channel."""
        ...

    async def send(self, tenant: Tenant, message: AlertMessage) -> None: ...

    async def close(self) -> None: ...
