"""What an outcome asks of the shell: the sync events to record, the tenant-gate change, the order's next move.

Values only, built by the pure rules (`outcomes.py` for an order's requests, `tenant_effects.py` for what
a request tells of the tenant) and applied by the shell (`mall_calls.py`, `order_pass.py`): gate change
first, then the events, in order. The moment and the event ids come in with a `Stamp`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from typing import Any
from uuid import UUID

from mallbridge_core.domain.projection import OrderState
from mallbridge_core.domain.reconciler import PutStep
from mallbridge_schema.events import SyncEventBase


class GateAction(Enum):
    PAUSE = "pause"  # 401/403: hold all of the tenant's requests; probe again after a while
    RESUME = "resume"  # MALL answered while the tenant was paused
    RATE_LIMIT = "rate_limit"  # 429: none of the tenant's requests before `retry_after_s`


@dataclass(frozen=True, slots=True)
class GateChange:
    action: GateAction
    retry_after_s: float = 0.0


class Next(Enum):
    RETRY = "retry"  # the same request again, as soon as the tenant gate lets it through
    REPLAN = "replan"  # plan the order again from the state the recorded events leave
    BACKOFF = "backoff"  # wait (the order's backoff grows), then plan again


@dataclass(frozen=True, slots=True)
class Effects:
    events: tuple[SyncEventBase, ...] = ()
    gate: GateChange | None = None
    next: Next = Next.REPLAN
    retry_reason: str | None = None  # counted in mallbridge_publisher_retries{reason}
    accepted: bool = False  # MALL accepted a PUT: the order's backoff starts over
    read_again: bool = False  # a read on a notice (webhook, poll) failed for now: it is still owed
    unanswered: bool = False  # a PUT got no answer in time: MALL may still be working on it


@dataclass(frozen=True, slots=True)
class Stamp:
    """When the events are recorded, and where their ids come from (the shell passes uuid4)."""

    now: datetime
    new_id: Callable[[], UUID]

    def envelope(self, state: OrderState, *, based_on_seq: int | None = None) -> dict[str, Any]:
        """The common fields of a sync event about `state`'s order; `based_on_seq` defaults to the order
        event seq the state is at (give the seq a decision was made on when that was earlier)."""
        seq = state.fc.seq if based_on_seq is None else based_on_seq
        return self._fields(state.tenant_id, state.order_number, state.mall_order_id, seq)

    def tenant_envelope(self, tenant_id: str, *, based_on_seq: int = 0) -> dict[str, Any]:
        """The envelope of a tenant-scope event (no order); `based_on_seq` is the seq of the order it was
        decided while working on, if any."""
        return self._fields(tenant_id, "", "", based_on_seq)

    def _fields(self, tenant_id: str, order_number: str, mall_order_id: str, based_on_seq: int) -> dict[str, Any]:
        return {
            "event_id": self.new_id(),
            "tenant_id": tenant_id,
            "order_number": order_number,
            "mall_order_id": mall_order_id,
            "occurred_at": self.now,
            "recorded_at": self.now,
            "based_on_seq": based_on_seq,
        }


@dataclass(frozen=True, slots=True)
class PutAttempt:
    """One PUT of a step: the state it was planned from, its request number and how often it was sent."""

    state: OrderState
    step: PutStep
    request_no: int
    attempts: int = 1
