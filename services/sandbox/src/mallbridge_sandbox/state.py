"""All sandbox state, in memory, behind locks held only for short synchronous sections (no await inside),
so it is safe from the event loop and from other threads (tests, the demo) alike."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any

from mallbridge_sandbox.clock import Clock, mall_datetime_text
from mallbridge_sandbox.errors import not_found
from mallbridge_sandbox.faults import Faults
from mallbridge_sandbox.mall_events import MallEventLog
from mallbridge_sandbox.orders import MDP_TRACKED, Order
from mallbridge_sandbox.partners import Partner, PartnersError, check_unique
from mallbridge_sandbox.quota import Quotas
from mallbridge_sandbox.requestlog import RequestLog
from mallbridge_sandbox.webhook_delivery import WebhookDispatcher
from mallbridge_sandbox.webhooks import DEFAULT_INTERVAL_S, Webhooks, WebhookSettings
from mallbridge_schema.statuses import MallStatus

__all__ = ["MDP_TRACKED", "Account", "NewOrder", "OrderExistsError", "SandboxState"]

FIRST_GENERATED_ID = 10085339302  # the example order id of MALL's API docs; generated ids count up from here


class OrderExistsError(ValueError):
    pass


@dataclass
class Account:
    partner: Partner = field(repr=False)
    enabled: bool = True
    latency_ms: int | None = None  # None: the sandbox's global latency


@dataclass(frozen=True)
class NewOrder:
    """One order to create; `fields` are further Order fields (test, external_id, tracking ...)."""

    partner: str
    order_id: str | None = None
    status: MallStatus = MallStatus.OPEN
    confirmed: bool = False
    mdp: bool = False
    fields: Mapping[str, Any] = field(default_factory=dict)
    opened_at: str | None = None  # MALL's `open` moment, when earlier than the creation (MALL format)


def webhook_settings(partner: Partner) -> WebhookSettings | None:
    if partner.webhook_url is None:
        return None
    return WebhookSettings(partner.webhook_url, interval_s=partner.webhook_interval_s)


class SandboxState:
    def __init__(
        self,
        partners: Iterable[Partner],
        *,
        seed: int,
        clock: Clock,
        latency_ms: int = 0,
        webhook_interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self._initial = check_unique(partners, source="partners")
        self._initial_latency_ms = latency_ms
        self.latency_ms = latency_ms
        self.quotas = Quotas(clock)
        self.faults = Faults(seed)
        self.log = RequestLog()
        self.mall_events = MallEventLog()
        self.webhooks = Webhooks(clock=clock, default_interval_s=webhook_interval_s)
        self.webhook_delivery = WebhookDispatcher(self.webhooks)
        self.webhooks.on_change = self.webhook_delivery.wake
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self._sorted: dict[str, tuple[list[int], list[Order]]] = {}  # per partner: ids and orders, by id
        self._next_id = FIRST_GENERATED_ID
        self.reset()

    def close(self) -> None:
        """Stop the webhook delivery thread (it starts again when a delivery is next due)."""
        self.webhook_delivery.stop()

    # partners -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the state at start: initial partners, quotas, latency and webhooks; no orders, faults or logs."""
        with self.lock:
            self.accounts = {}
            self.orders = {}
            self._sorted = {}
            self._next_id = FIRST_GENERATED_ID
            self.latency_ms = self._initial_latency_ms
            self.faults.clear()
            self.log.clear(restart_seq=True)
            self.mall_events.clear()
            hooks = {p.name: s for p in self._initial if (s := webhook_settings(p)) is not None}
            self.webhooks.reset(hooks)
            for partner in self._initial:
                self._add_account(partner)
            self.quotas.reset_usage()

    def add_partner(self, partner: Partner) -> None:
        with self.lock:
            self._add_account(partner)
            settings = webhook_settings(partner)
            if settings is not None:
                self.webhooks.configure(partner.name, settings)

    def _add_account(self, partner: Partner) -> None:
        if partner.name in self.accounts:
            raise PartnersError(f"partner {partner.name} exists")
        if any(a.partner.client_id == partner.client_id for a in self.accounts.values()):
            raise PartnersError(f"partner {partner.name}: another partner has that client_id")
        self.accounts[partner.name] = Account(partner, latency_ms=partner.latency_ms)
        self.quotas.configure(partner.name, limit=partner.quota, window_seconds=partner.window_seconds)

    def account_for_client_id(self, client_id: str) -> Account | None:
        with self.lock:
            for account in self.accounts.values():
                if account.partner.client_id == client_id:
                    return account
            return None

    def account(self, name: str) -> Account | None:
        with self.lock:
            return self.accounts.get(name)

    def latency_for(self, account: Account | None) -> int:
        """The latency (ms) added to a /v1 answer: the partner's own if set, else the global one."""
        if account is not None and account.latency_ms is not None:
            return account.latency_ms
        return self.latency_ms

    # orders ---------------------------------------------------------------------------------------
    def now_text(self) -> str:
        """Now in MALL's format, Europe/Prague local time."""
        return mall_datetime_text(self.clock())

    def order_of(self, partner: str, order_id: str) -> Order:
        """The partner's order; another partner's order is as unknown as a missing one (404)."""
        order = self.orders.get(order_id)
        if order is None or order.partner != partner:
            raise not_found(order_id)
        return order

    def create_order(
        self, *, partner: str, order_id: str | None, status: MallStatus, confirmed: bool, mdp: bool, **fields: Any
    ) -> Order:
        (order,) = self.create_orders([NewOrder(partner, order_id, status, confirmed, mdp, fields)])
        return order

    def create_orders(self, new: Sequence[NewOrder]) -> list[Order]:
        """Create all of them or none (OrderExistsError names every id that exists or repeats).

        A new order is a change MALL made: it is in the MALL event log and queued for the webhook.
        """
        with self.lock:
            given = Counter(n.order_id for n in new if n.order_id is not None)
            clashes = sorted((i for i, times in given.items() if times > 1 or i in self.orders), key=int)
            if clashes:
                shown = ", ".join(clashes[:20]) + (" ..." if len(clashes) > 20 else "")
                raise OrderExistsError(f"order ids exist already or repeat: {shown}")
            taken = set(given)
            at = self.now_text()
            created = [
                self._new_order(n, self._next_free_id(taken) if n.order_id is None else n.order_id, at) for n in new
            ]
            logged_at = self.event_time()
            for order in created:
                self.record_mall_change(order, "create", None, at=logged_at)
            return created

    def _next_free_id(self, taken: set[str]) -> str:
        while str(self._next_id) in self.orders or str(self._next_id) in taken:
            self._next_id += 1
        order_id = str(self._next_id)
        self._next_id += 1
        return order_id

    def _new_order(self, new: NewOrder, order_id: str, at: str) -> Order:
        order = Order(
            id=order_id, partner=new.partner, status=new.status, confirmed=new.confirmed, mdp=new.mdp, **new.fields
        )
        order.enter(new.status, at)
        if new.opened_at is not None:
            order.status_times[MallStatus.OPEN] = new.opened_at
        order.fill_mdp_tracking_if_due()
        self.orders[order_id] = order
        keys, orders = self._sorted.setdefault(order.partner, ([], []))
        key = int(order_id)
        if keys and key < keys[-1]:  # ids usually come in ascending order: append is the common case
            at_index = bisect.bisect(keys, key)
            keys.insert(at_index, key)
            orders.insert(at_index, order)
        else:
            keys.append(key)
            orders.append(order)
        return order

    def record_mall_change(
        self, order: Order, action: str, status_before: MallStatus | None, *, at: str | None = None
    ) -> None:
        """MALL changed `order`: into the MALL event log, and its id queued for the partner's webhook."""
        self.mall_events.record(
            time=at or self.event_time(),
            action=action,
            partner=order.partner,
            order_id=order.id,
            status_before=None if status_before is None else status_before.value,
            status=order.status.value,
        )
        self.webhooks.changed(order.partner, order.id)

    def event_time(self) -> str:
        """Now as the logs write it: ISO 8601 UTC with milliseconds."""
        return self.clock().astimezone(UTC).isoformat(timespec="milliseconds")

    def select(self, partner: str, keep: Callable[[Order], bool]) -> list[Order]:
        """The partner's orders that `keep` accepts, by id ascending."""
        with self.lock:
            _, orders = self._sorted.get(partner, ((), ()))
            return [o for o in orders if keep(o)]
