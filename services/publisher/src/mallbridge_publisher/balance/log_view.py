"""The log as `mallbridge balance` compares it: per tenant, every order's projected state, folded from its
lane history (the default lane first), each lane's order-, sync- and operator-events, from offset 0 up to
the end offsets taken at the start (no group, no commits), and the last set of MALL orders unknown to
FastCentrik that a run recorded (`UnknownMallOrdersObserved`, the latest by recorded_at). Records of other
tenants are skipped by key before anything is decoded; undecodable records are counted and skipped (the
publisher dead-letters them).
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mallbridge_core.domain.projection import OrderState, apply
from mallbridge_core.eventlog import EventLog
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.balance.drift import TenantLog, UnknownSet
from mallbridge_publisher.order_history import lane_sources
from mallbridge_publisher.unknown_orders import UnknownOrdersBook
from mallbridge_schema.events import Event, MallStateObserved
from mallbridge_schema.serde import EventDecodeError
from mallbridge_schema.statuses import MallStatus

Key = tuple[str, str]


@dataclass
class _Fold:
    states: dict[Key, OrderState]
    balance_recorded: dict[Key, tuple[MallStatus, datetime]]  # the last claim of each order, and when
    unknown: UnknownOrdersBook  # per tenant the latest UnknownMallOrdersObserved (the publisher's own rule)
    status_moved: dict[Key, datetime] = field(default_factory=dict)  # when anything else last moved the status
    undecodable: int = 0

    def take(self, event: Event) -> None:
        key = (event.tenant_id, event.order_number)
        before = self.states.get(key)
        self.states[key] = after = apply(before, event)
        if type(event) is MallStateObserved and event.source == "balance":
            self.balance_recorded[key] = (event.status, event.recorded_at)
        elif before is not None and after.mall.status is not before.mall.status:
            # By time, not by fold order: the topics are folded one after the other.
            self.status_moved[key] = max(event.recorded_at, self.status_moved.get(key, event.recorded_at))

    def claim_stands(self, key: Key) -> MallStatus | None:
        """The last balance claim of the order, unless the log's MALL status moved after it (then MALL's
        status, even the same one again, is new drift)."""
        claim = self.balance_recorded.get(key)
        if claim is None:
            return None
        moved = self.status_moved.get(key)
        return claim[0] if moved is None or moved <= claim[1] else None


def _sources(topics: Topics) -> list[tuple[str, Callable[[bytes], Any]]]:
    return [(topic, decode) for lane in topics.history() for _, topic, decode in lane_sources(lane)]


async def read_tenant_logs(
    log: EventLog, tenants: Collection[Tenant], *, topic_prefix: str
) -> tuple[dict[str, TenantLog], int]:
    """Per tenant id, its `TenantLog`; and how many records could not be decoded.

    Each topic is read once, for every tenant whose lane history holds it (the default lane's topics hold
    the early history of tenants moved to a lane), in history order.
    """
    fold = _Fold({}, {}, UnknownOrdersBook([t.tenant_id for t in tenants]))
    wanted: dict[str, tuple[Callable[[bytes], Any], set[bytes]]] = {}
    for tenant in tenants:
        for topic, decode in _sources(Topics(prefix=topic_prefix, lane=tenant.lane)):
            wanted.setdefault(topic, (decode, set()))[1].add(f"{tenant.tenant_id}:".encode())
    for topic, (decode, prefixes) in wanted.items():  # insertion order: a default-lane topic comes first
        await _fold_topic(log, topic, decode, prefixes, fold)
    return _per_tenant(fold, [t.tenant_id for t in tenants]), fold.undecodable


async def _fold_topic(
    log: EventLog, topic: str, decode: Callable[[bytes], Any], prefixes: set[bytes], fold: _Fold
) -> None:
    ends = await log.end_offsets(topic)
    if not any(ends.values()):
        return
    async for batch in log.replay(topic, stop=ends):
        for record in batch:
            key = record.key or b""
            if key[: key.find(b":") + 1] not in prefixes:
                continue
            try:
                event: Event = decode(record.value)
            except EventDecodeError:
                fold.undecodable += 1
                continue
            if event.order_number:
                fold.take(event)
            else:
                fold.unknown.fold(event, record.partition)  # it takes only an UnknownMallOrdersObserved


def _per_tenant(fold: _Fold, tenant_ids: list[str]) -> dict[str, TenantLog]:
    by_mall_id: dict[str, dict[str, OrderState]] = {t: {} for t in tenant_ids}
    recorded: dict[str, dict[str, MallStatus]] = {t: {} for t in tenant_ids}
    naming: dict[str, dict[str, list[str]]] = {t: {} for t in tenant_ids}  # MALL id -> every order naming it
    for (tenant_id, order_number), state in fold.states.items():
        if state.fc.status is not None and state.mall_order_id and tenant_id in by_mall_id:
            by_mall_id[tenant_id].setdefault(state.mall_order_id, state)
            naming[tenant_id].setdefault(state.mall_order_id, []).append(order_number)
    for key in fold.balance_recorded:
        tenant_id, order_number = key
        if tenant_id in recorded and (status := fold.claim_stands(key)) is not None:
            recorded[tenant_id][order_number] = status
    unknown = {t: UnknownSet.of(seen) if (seen := fold.unknown.latest(t)) else None for t in tenant_ids}
    return {t: TenantLog(by_mall_id[t], recorded[t], _shared(naming[t]), unknown[t]) for t in tenant_ids}


def _shared(naming: dict[str, list[str]]) -> dict[str, tuple[str, ...]]:
    return {mall_id: tuple(sorted(orders)) for mall_id, orders in naming.items() if len(orders) > 1}
