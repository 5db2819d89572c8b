"""What an audit covers: tenants, orders, and the window of orders that reached `open`.

`--since` / `--until` select orders by the `occurred_at` of their first event (OrderFirstSeen: the
moment the order reached `open` at MALL and arrived in FastCentrik), so every SLA figure is a ratio
over the same cohort of orders, the way MALL counts "orders that reached open" per period. Each
selected order is always folded whole (all its events, whenever they happened), so its statuses are
right. `since` is inclusive, `until` exclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from mallbridge_schema.mall_format import PRAGUE


@dataclass(frozen=True, slots=True)
class Scope:
    tenants: frozenset[str] = frozenset()
    orders: frozenset[str] = frozenset()
    since: datetime | None = None
    until: datetime | None = None

    @property
    def filters_keys(self) -> bool:
        return bool(self.tenants or self.orders)

    def wants(self, tenant_id: str, order_number: str) -> bool:
        """True for an order of a selected tenant and with a selected number (empty selection: all). A
        tenant-level event (no order number: a MALL webhook receipt) is in when its tenant is."""
        if self.tenants and tenant_id not in self.tenants:
            return False
        return not self.orders or not order_number or order_number in self.orders

    def wants_key(self, key: bytes | None) -> bool | None:
        """The same decision from a Kafka key `tenant:order` without decoding the value (None: can't tell)."""
        if not self.filters_keys:
            return True
        if key is None:
            return None
        tenant, sep, order = key.decode("utf-8", "replace").partition(":")
        if not sep:
            return None
        return self.wants(tenant, order)

    def in_window(self, first_seen: float) -> bool:
        """`first_seen` is a POSIX timestamp (the order's earliest occurred_at)."""
        if self.since is not None and first_seen < self.since.timestamp():
            return False
        return self.until is None or first_seen < self.until.timestamp()


def parse_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """An ISO date or date-time as an aware datetime. Naive values are Europe/Prague local time.

    A date alone means its start (00:00 Prague), or with `end_of_day` the start of the next day, so
    `--until 2026-10-31` includes all of 31 October.
    """
    raw = text.strip()
    try:
        if len(raw) == 10:
            day = date.fromisoformat(raw)
            if end_of_day:
                day += timedelta(days=1)
            return datetime.combine(day, time(0, 0), tzinfo=PRAGUE)
        moment = datetime.fromisoformat(raw.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"invalid date or time {text!r}; allowed: YYYY-MM-DD or an ISO 8601 date-time "
            "(e.g. 2026-10-01T08:00:00+02:00; without an offset it is Prague time)"
        ) from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=PRAGUE)
