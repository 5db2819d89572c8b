"""MALL's side as `mallbridge balance` reads it: every page of the tenant's non-final orders
(`GET /orders?filter=basic&status=in:blocked,open,shipping,shipped`), and the detail of the orders
FastCentrik has not named. Every request is counted (pages and details apart): the command prints them.

A 429 is waited out (MALL's `X-RateLimit-Reset`, at most `MAX_RATE_LIMIT_WAIT_S` each time, a few times);
any other failure ends the run (`BalanceCannotRun`): 401/403, MALL unreachable, an answer that is not
MALL's. Nothing is recorded for a tenant whose listing did not complete.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TypeVar

from mallbridge_core.tenants import Tenant
from mallbridge_publisher.balance.drift import NON_FINAL
from mallbridge_publisher.ports import (
    MallBasicOrder,
    MallClient,
    MallError,
    MallOrder,
    MallOrderPage,
    MallOutcomeUnknown,
    MallRateLimited,
    MallUnauthorized,
)

MAX_RATE_LIMIT_WAIT_S = 60.0
RATE_LIMIT_TRIES = 5
T = TypeVar("T")
Progress = Callable[[int, int], None]  # (pages read, pages in all) of the tenant being listed


class BalanceCannotRun(RuntimeError):
    """MALL could not be read (exit 2): the message names the tenant and why, never the client_id."""


@dataclass
class Spent:
    """MALL requests one run spent."""

    pages: int = 0
    details: int = 0
    rate_limited: int = 0  # answered 429 (counted in the totals too: MALL counts them)

    @property
    def total(self) -> int:
        return self.pages + self.details


@dataclass
class MallReader:
    client: MallClient
    page_size: int = 1000
    spent: Spent = field(default_factory=Spent)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep

    async def non_final_orders(self, tenant: Tenant, progress: Progress | None = None) -> list[MallBasicOrder]:
        """Every page of the tenant's orders in a non-final status, in MALL's order."""
        orders: list[MallBasicOrder] = []
        page, pages = 1, 1
        while page <= pages:  # page 1 says how many there are

            async def one_page(number: int = page) -> MallOrderPage:
                return await self.client.list_orders(tenant, statuses=NON_FINAL, page=number, page_size=self.page_size)

            answer = await self._call(tenant, one_page, count="pages")
            orders.extend(answer.orders)
            pages = answer.pages
            if progress is not None:
                progress(page, max(pages, 1))
            page += 1
        return orders

    async def detail(self, tenant: Tenant, mall_order_id: str) -> MallOrder:
        async def read() -> MallOrder:
            return await self.client.get_order(tenant, mall_order_id)

        return await self._call(tenant, read, count="details")

    async def _call(self, tenant: Tenant, call: Callable[[], Awaitable[T]], *, count: str) -> T:
        for _ in range(RATE_LIMIT_TRIES):
            setattr(self.spent, count, getattr(self.spent, count) + 1)
            try:
                return await call()
            except MallRateLimited as exc:
                self.spent.rate_limited += 1
                await self.sleep(min(exc.retry_after_s, MAX_RATE_LIMIT_WAIT_S))
            except MallError as exc:
                raise BalanceCannotRun(_why(tenant, exc)) from None
        raise BalanceCannotRun(f"tenant {tenant.tenant_id}: MALL kept answering 429 (rate limited); try again later")


def _why(tenant: Tenant, error: MallError) -> str:
    if isinstance(error, MallUnauthorized):
        return (
            f"tenant {tenant.tenant_id}: MALL refused the client_id (HTTP {error.http_status}); "
            "check mall_client_id in the tenants file"
        )
    if isinstance(error, MallOutcomeUnknown):
        return f"tenant {tenant.tenant_id}: MALL is unreachable ({error})"
    return f"tenant {tenant.tenant_id}: MALL's answer could not be used ({error})"
