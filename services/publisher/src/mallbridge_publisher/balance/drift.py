"""What counts as drift, and the observation that records it. Pure: no I/O, no clock (`now` comes in).

- **status**: MALL has the order in another status than the log says MALL has (`OrderState.mall.status`:
  what the publisher's PUTs, reads and earlier balance claims folded to). *Recorded drift is no longer
  drift*: when the log's last `mallbridge balance` observation of the order already says this very status,
  the difference is known and handed to the publisher (it reads the order and records what MALL says); it
  is not listed again. A status the log cannot take (MALL's order went backwards, which only MALL
  Operations can do) is therefore listed once, not on every run.
- **unknown_to_fastcentrik**: a MALL order no FastCentrik snapshot has named (no order in the log carries
  its id with a FastCentrik status), open for over an hour: an order that never reached the shop, a cancel
  waiting to happen. MALL's basic objects carry no per-status timestamps, so the order's detail is read
  (its `open` timestamp) for each unknown order that is not blocked; one with no `open` timestamp counts
  too (it is past `blocked`, so MALL opened it, at a moment it does not say). Such an order has no order
  number, so it is listed on every run until a snapshot names it (or it leaves MALL's non-final
  statuses), and what the publisher acts on for it is nothing. What is recorded is the tenant's whole set
  of them, as one tenant-level `UnknownMallOrdersObserved`, whenever that set differs from the last one
  recorded (an empty one once they are all gone): the console and the audit show it, because each is a
  decision a person must make (bring the order into FastCentrik, or cancel it at MALL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from uuid import UUID

from mallbridge_core.domain.projection import OrderState
from mallbridge_publisher.ports import MallBasicOrder
from mallbridge_publisher.unknown_orders import UnknownOrders
from mallbridge_schema.events import MAX_UNKNOWN_LISTED, MallStateObserved, UnknownMallOrder, UnknownMallOrdersObserved
from mallbridge_schema.mall_format import PRAGUE
from mallbridge_schema.statuses import MallStatus

DriftKind = Literal["status", "unknown_to_fastcentrik"]
UNKNOWN_AFTER = timedelta(hours=1)
NON_FINAL = (MallStatus.BLOCKED, MallStatus.OPEN, MallStatus.SHIPPING, MallStatus.SHIPPED)


@dataclass(frozen=True, slots=True)
class Drift:
    tenant_id: str
    kind: DriftKind
    mall_order_id: str
    mall_status: MallStatus
    order_number: str = ""  # "" for an order FastCentrik has not named
    log_status: MallStatus | None = None  # what the log says MALL has (None: the log does not know the order)
    opened_at: str | None = None  # MALL's `open` timestamp of an unknown order, as MALL wrote it

    @property
    def recordable(self) -> bool:
        return self.kind == "status"


@dataclass(frozen=True, slots=True)
class UnknownSet:
    """Which MALL orders an `UnknownMallOrdersObserved` named: the ids listed, and how many there were."""

    ids: frozenset[str]
    total: int

    @classmethod
    def of(cls, seen: UnknownOrders) -> UnknownSet:
        return cls(frozenset(o.mall_order_id for o in seen.orders), seen.total)


@dataclass(frozen=True, slots=True)
class TenantLog:
    """The log of one tenant as the balance needs it: the orders FastCentrik named, by MALL id (the first
    one folded, when several name it), per order the status the log's last balance observation recorded,
    and the MALL ids more than one order names (with those orders' numbers)."""

    by_mall_id: Mapping[str, OrderState]
    balance_recorded: Mapping[str, MallStatus]  # order number -> status
    shared: Mapping[str, tuple[str, ...]] = field(default_factory=dict)  # MALL id -> order numbers (2 or more)
    unknown_recorded: UnknownSet | None = None  # the last UnknownMallOrdersObserved's set (None: never one)


@dataclass(frozen=True, slots=True)
class SharedMallId:
    """A MALL order in a non-final status that more than one FastCentrik order names: both orders' statuses
    go to it. Not drift (MALL and the log may agree on every order); told, so that a person looks."""

    tenant_id: str
    mall_order_id: str
    order_numbers: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Comparison:
    drifts: tuple[Drift, ...]
    unknown: tuple[MallBasicOrder, ...]  # not named by FastCentrik and not blocked: their detail decides
    shared: tuple[SharedMallId, ...] = ()


def compare(tenant_id: str, listed: list[MallBasicOrder], log: TenantLog) -> Comparison:
    """Status drifts of the listed orders, the orders FastCentrik has not named (to read), and the listed
    orders more than one FastCentrik order names."""
    drifts: list[Drift] = []
    unknown: list[MallBasicOrder] = []
    shared = [SharedMallId(tenant_id, o.id, log.shared[o.id]) for o in listed if o.id in log.shared]
    for order in listed:
        if order.status is None:
            continue  # not one of MALL's statuses: nothing to compare (the publisher's reads refuse it too)
        state = log.by_mall_id.get(order.id)
        if state is None:
            if order.status is not MallStatus.BLOCKED:
                unknown.append(order)
            continue
        if order.status is state.mall.status or log.balance_recorded.get(state.order_number) is order.status:
            continue
        drifts.append(
            Drift(tenant_id, "status", order.id, order.status, state.order_number, log_status=state.mall.status)
        )
    return Comparison(tuple(drifts), tuple(unknown), tuple(shared))


def parse_mall_moment(text: str) -> datetime | None:
    """MALL's `YYYY-MM-DD HH:MM:SS` (Prague time) as an aware moment; None when it is not that."""
    try:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S").replace(tzinfo=PRAGUE)
    except ValueError:
        return None


def unknown_drift(tenant_id: str, order: MallBasicOrder, opened_at: str | None, *, now: datetime) -> Drift | None:
    """The `unknown_to_fastcentrik` drift of an order FastCentrik has not named, when it is open for over an
    hour (None: younger, or its `open` timestamp is not MALL's format)."""
    assert order.status is not None
    if opened_at is not None:
        moment = parse_mall_moment(opened_at)
        if moment is None or now - moment <= UNKNOWN_AFTER:
            return None
    return Drift(tenant_id, "unknown_to_fastcentrik", order.id, order.status, opened_at=opened_at)


def observation(
    drift: Drift, state: OrderState, order: MallBasicOrder, *, now: datetime, new_id: Callable[[], UUID]
) -> MallStateObserved:
    """The `MallStateObserved(source="balance")` that records a status drift (operator-events.v1)."""
    return MallStateObserved(
        event_id=new_id(),
        tenant_id=state.tenant_id,
        order_number=state.order_number,
        mall_order_id=state.mall_order_id,
        occurred_at=now,
        recorded_at=now,
        based_on_seq=state.fc.seq,
        source="balance",
        changed=("status",),
        status=drift.mall_status,
        confirmed=order.confirmed,
        mdp=order.mdp,
    )


def _oldest_first(drift: Drift) -> tuple[bool, str, str]:
    """MALL's `open` timestamps sort as text (one fixed format); an order without one goes last."""
    return (drift.opened_at is None, drift.opened_at or "", drift.mall_order_id)


def unknown_observation(
    tenant_id: str,
    drifts: tuple[Drift, ...],
    recorded: UnknownSet | None,
    *,
    now: datetime,
    new_id: Callable[[], UUID],
) -> UnknownMallOrdersObserved | None:
    """The tenant's `unknown_to_fastcentrik` drifts as one observation to record, oldest first; None when
    the log's last one already says the same set (or there are none, and never were)."""
    unknown = sorted((d for d in drifts if d.kind == "unknown_to_fastcentrik"), key=_oldest_first)
    listed = unknown[:MAX_UNKNOWN_LISTED]
    current = UnknownSet(frozenset(d.mall_order_id for d in listed), len(unknown))
    if current == (recorded or UnknownSet(frozenset(), 0)):
        return None
    return UnknownMallOrdersObserved(
        event_id=new_id(),
        tenant_id=tenant_id,
        occurred_at=now,
        recorded_at=now,
        orders=tuple(
            UnknownMallOrder(mall_order_id=d.mall_order_id, status=d.mall_status, opened_at=d.opened_at) for d in listed
        ),
        total=len(unknown),
    )
