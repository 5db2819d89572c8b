"""All sandbox state, in memory, behind locks held only for short synchronous sections (no await inside),
so it is safe from the event loop and from other threads (tests, the demo) alike."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from mallbridge_sandbox.clock import Clock, mall_datetime_text
from mallbridge_sandbox.errors import not_found
from mallbridge_sandbox.faults import Faults
from mallbridge_sandbox.orders import Order
from mallbridge_sandbox.partners import Partner, PartnersError, check_unique
from mallbridge_sandbox.quota import Quotas
from mallbridge_sandbox.requestlog import RequestLog
from mallbridge_schema.statuses import MallStatus

FIRST_GENERATED_ID = 10085339302  # the example id of the MALL docs [S5]; generated ids count up from here


# MALL fills in tracking for MDP orders from shipped on [S7].
MDP_TRACKED = frozenset({MallStatus.SHIPPED, MallStatus.DELIVERED, MallStatus.RETURNED, MallStatus.LOST})


class OrderExistsError(ValueError):
    pass


@dataclass
class Account:
    partner: Partner = field(repr=False)
    enabled: bool = True


class SandboxState:
    def __init__(self, partners: Iterable[Partner], *, seed: int, clock: Clock) -> None:
        self.clock = clock
        self.seed = seed
        self.lock = threading.RLock()
        self._initial = check_unique(partners, source="partners")
        self.quotas = Quotas(clock)
        self.faults = Faults(seed)
        self.log = RequestLog()
        self.accounts: dict[str, Account] = {}
        self.orders: dict[str, Order] = {}
        self._next_id = FIRST_GENERATED_ID
        self.reset()

    # partners -------------------------------------------------------------------------------------
    def reset(self) -> None:
        """Back to the state at start: initial partners and quotas, no orders, faults or log entries."""
        with self.lock:
            self.accounts = {}
            self.orders = {}
            self._next_id = FIRST_GENERATED_ID
            self.faults.clear()
            self.log.clear(restart_seq=True)
            for partner in self._initial:
                self.add_partner(partner)
            self.quotas.reset_usage()

    def add_partner(self, partner: Partner) -> None:
        with self.lock:
            if partner.name in self.accounts:
                raise PartnersError(f"partner {partner.name} exists")
            if any(a.partner.client_id == partner.client_id for a in self.accounts.values()):
                raise PartnersError(f"partner {partner.name}: another partner has that client_id")
            self.accounts[partner.name] = Account(partner)
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
        with self.lock:
            if order_id is None:
                while str(self._next_id) in self.orders:
                    self._next_id += 1
                order_id = str(self._next_id)
                self._next_id += 1
            if order_id in self.orders:
                raise OrderExistsError(f"order {order_id} exists")
            order = Order(id=order_id, partner=partner, status=status, confirmed=confirmed, mdp=mdp, **fields)
            order.enter(status, self.now_text())
            if mdp and status in MDP_TRACKED:
                order.fill_mdp_tracking()
            self.orders[order_id] = order
            return order

    def select(self, partner: str, keep: Callable[[Order], bool]) -> list[Order]:
        """The partner's orders that `keep` accepts, by id ascending."""
        with self.lock:
            chosen = [o for o in self.orders.values() if o.partner == partner and keep(o)]
        return sorted(chosen, key=lambda o: int(o.id))
