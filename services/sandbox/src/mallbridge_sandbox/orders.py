"""One MALL order as the sandbox keeps it, and its two JSON views (detail and basic).

Field names follow the official PHP client's entities (`Order`, `BasicOrder`); ids are kept as digit
strings internally and written as JSON numbers, as MALL does (they exceed 32 bits, never 64).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mallbridge_schema.statuses import MallStatus

ORDER_ID_PATTERN = re.compile(r"^[1-9][0-9]{0,18}$")
MAX_ORDER_ID = 2**63 - 1
# MALL fills in tracking for MDP orders from shipped on (MALL Delivery).
MDP_TRACKED = frozenset({MallStatus.SHIPPED, MallStatus.DELIVERED, MallStatus.RETURNED, MallStatus.LOST})


def is_order_id(text: str) -> bool:
    return bool(ORDER_ID_PATTERN.match(text)) and int(text) <= MAX_ORDER_ID


@dataclass
class Order:
    id: str
    partner: str
    status: MallStatus
    confirmed: bool
    mdp: bool
    test: bool = False
    external_id: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    delivered_at: str | None = None
    first_delivery_attempt: str | None = None
    # per-status timestamps, MALL format (`YYYY-MM-DD HH:MM:SS`, Prague time)
    status_times: dict[MallStatus, str] = field(default_factory=dict)

    def enter(self, status: MallStatus, at: str) -> None:
        self.status = status
        self.status_times[status] = at

    def fill_mdp_tracking(self) -> None:
        """MALL fills in tracking for MALL Delivery orders once shipped; the sandbox makes one up."""
        if self.tracking_number is None:
            self.tracking_number = f"MDP{self.id}"
            self.tracking_url = f"https://sandbox.invalid/mall-delivery/track/MDP{self.id}"

    def fill_mdp_tracking_if_due(self) -> None:
        if self.mdp and self.status in MDP_TRACKED:
            self.fill_mdp_tracking()

    def detail(self) -> dict[str, Any]:
        """`GET /orders/{id}` data (the official PHP client's `Order` entity); money and address fields carry
        neutral sandbox values."""
        return {
            "id": int(self.id),
            "external_id": self.external_id,
            "purchase_id": int(self.id),
            "currency": "CZK",
            "delivery_price": 0.0,
            "cod_price": 0.0,
            "cod": 0.0,
            "discount": 0.0,
            "payment_type": "B",
            "delivery_method": "MALL_DELIVERY" if self.mdp else "SANDBOX_CARRIER",
            "delivery_method_id": "1" if self.mdp else "2",
            "branch_id": None,
            "branches": {"branch_id": None, "secondary_branch_id": None, "last_change": None},
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "ship_date": None,
            "delivery_date": None,
            "delivered_at": self.delivered_at,
            "first_delivery_attempt": self.first_delivery_attempt,
            "address": {"name": "Sandbox Customer", "city": "Praha", "zip": "11000", "country": "CZ"},
            "confirmed": self.confirmed,
            "status": self.status.value,
            "items": [],
            "test": self.test,
            "mdp": self.mdp,
            "mdp_classic": self.mdp,
            "mdp_spectrum": False,
            "ready_to_return": False,
            **{status.value: self.status_times.get(status) for status in MallStatus},
            "ulozenka_status_history": [],
            "consignment_status_history": [],
        }

    def basic(self) -> dict[str, Any]:
        """`GET /orders?filter=basic` items: exactly the official PHP client's `BasicOrder` fields."""
        return {
            "id": int(self.id),
            "purchase_id": int(self.id),
            "customer_id": 1,
            "customer": "Sandbox Customer",
            "cod": 0.0,
            "payment_type": "B",
            "ship_date": None,
            "tracking_number": self.tracking_number,
            "tracking_url": self.tracking_url,
            "delivered_at": self.delivered_at,
            "status": self.status.value,
            "confirmed": self.confirmed,
            "test": self.test,
            "mdp": self.mdp,
        }

    def admin_view(self) -> dict[str, Any]:
        """The detail plus what only the sandbox knows (the owning partner)."""
        return {**self.detail(), "id": self.id, "partner": self.partner}
