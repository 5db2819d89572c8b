"""How an alert reads: a Slack-compatible webhook body and an e-mail (pure).

The console link points at the publisher's console: `{console_base_url}/console/orders/{tenant}/{order}`
for an order (both path segments percent-encoded: order numbers may hold `/`),
`{console_base_url}/console/queue?tenant={tenant}` for a paused or resumed tenant, and the queue's
`#unknown-mall-orders` section for the MALL orders FastCentrik never got.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from mallbridge_notify.domain.alerts import TENANT_LEVEL_KINDS, Alert, ShownMallOrder

_HEADLINES = {
    "attention": "Attention needed",
    "resolved": "Resolved",
    "tenant_paused": "Tenant paused",
    "tenant_resumed": "Tenant resumed",
    "unknown_mall_orders": "MALL orders the shop never got",
    "unknown_mall_orders_cleared": "No MALL orders left that the shop never got",
}
UNKNOWN_ORDERS_SECTION = "unknown-mall-orders"  # the console queue's section of them (its HTML id)


@dataclass(frozen=True)
class AlertMessage:
    """One alert, rendered for every channel."""

    headline: str
    sentence: str
    link: str
    subject: str
    body: str

    @property
    def text(self) -> str:
        return f"{self.headline}: {self.sentence}"


def console_link(console_base_url: str, alert: Alert) -> str:
    base = console_base_url.rstrip("/")
    if alert.kind not in TENANT_LEVEL_KINDS:
        return f"{base}/console/orders/{quote(alert.tenant_id, safe='')}/{quote(alert.order_number, safe='')}"
    queue = f"{base}/console/queue?{urlencode({'tenant': alert.tenant_id})}"
    unknown_orders = alert.kind in ("unknown_mall_orders", "unknown_mall_orders_cleared")
    return f"{queue}#{UNKNOWN_ORDERS_SECTION}" if unknown_orders else queue


def _what(alert: Alert) -> str:
    if alert.kind == "unknown_mall_orders":
        return f"{_count(alert.total, 'MALL order')} of tenant {alert.tenant_id}"
    if alert.kind in TENANT_LEVEL_KINDS:
        return f"tenant {alert.tenant_id}"
    return f"order {alert.order_number} (MALL {alert.mall_order_id or 'unknown'}) of tenant {alert.tenant_id}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _shown(order: ShownMallOrder) -> str:
    opened = f", opened {order.opened_at}" if order.opened_at else ""
    return f"{order.mall_order_id} ({order.status}{opened})"


def _listed(alert: Alert) -> str:
    """The orders shown, then how many more there are: "1 (open), 2 (shipping) and 3 more"."""
    if not alert.orders:
        return "the console lists them"
    parts = [_shown(order) for order in alert.orders]
    more = alert.total - len(alert.orders)
    if more > 0:
        parts.append(f"{more} more")
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _sentence(alert: Alert) -> str:
    match alert.kind:
        case "attention":
            return f"{_what(alert)} needs a person: {alert.reason} [{alert.code}]"
        case "resolved":
            return f"{_what(alert)} no longer needs attention [{alert.code}]"
        case "tenant_paused":
            return f"all updates of {_what(alert)} are paused: {alert.reason} [{alert.code}]"
        case "tenant_resumed":
            return f"updates of {_what(alert)} go out again [{alert.code}]"
        case "unknown_mall_orders":
            return (
                f"{_what(alert)} never reached FastCentrik (open at MALL for over an hour): {_listed(alert)}. "
                "The customer paid and nothing ships until a person acts: bring each into FastCentrik or "
                f"cancel it at MALL [{alert.code}]"
            )
        case _:
            return (
                f"{_what(alert)} has none any more; each reached FastCentrik or is no longer open at MALL "
                f"[{alert.code}]"
            )


def _one_line(text: str) -> str:
    return " ".join(text.split())  # no line break can reach a mail header


def render(alert: Alert, *, console_base_url: str) -> AlertMessage:
    headline = _HEADLINES[alert.kind]
    sentence = _sentence(alert)
    link = console_link(console_base_url, alert)
    recorded = alert.recorded_at.isoformat(timespec="seconds")
    body = f"{headline}: {sentence}\n\nOpen in the console: {link}\n\nRecorded at {recorded}; event {alert.event_id}.\n"
    return AlertMessage(
        headline=headline,
        sentence=sentence,
        link=link,
        subject=_one_line(f"[mallbridge] {headline}: {_what(alert)} [{alert.code}]")[:200],
        body=body,
    )


def _mrkdwn(text: str) -> str:
    # Slack's escaping: &, < and > are control characters of its markup (a reason must not become a link)
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(message: AlertMessage) -> dict[str, Any]:
    """`{"text": ...}` (what any Slack-compatible receiver shows) plus blocks with the console link."""
    return {
        # Escaped as the blocks are: Slack formats this text too, and an order number or a shop's status
        # label reaching it raw could ping a channel (`<!channel>`) or forge a link.
        "text": f"{_mrkdwn(message.text)} {message.link}",
        "blocks": [
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": f"*{message.headline}*: {_mrkdwn(message.sentence)}"},
            },
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Open in the console"},
                        "url": message.link,
                    }
                ],
            },
        ],
    }
