"""The three operator actions (ARCHITECTURE.md §7): decide on what the log says, then record one operator event.

One code path for `mallbridge order return|resync|ack` and the console's forms: `OperatorActions.perform`
reads the order's history from the log (`order_history`), asks the pure rules below whether the action is
allowed, and appends one event to the lane's operator-events topic, returning only once the log has it
durably. A refused action writes nothing. The running publisher acts on the event (it follows
operator-events): a return is one `PUT {"status": "returned"}`, a resync one read of MALL and a new plan,
an acknowledgement takes the attention item off the open list until a new one is raised.
"""

from __future__ import annotations

import unicodedata
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from mallbridge_core.domain.projection import OrderState, attention_item
from mallbridge_core.domain.reconciler import return_refusal
from mallbridge_core.eventlog import EventLog, OutgoingRecord, open_event_log
from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_publisher.order_history import OrderHistory, read_order_history
from mallbridge_schema.events import (
    AttentionAcknowledged,
    OperatorEventBase,
    OrderResyncRequested,
    OrderReturnRequested,
)
from mallbridge_schema.serde import encode_event, event_key

ActionKind = Literal["return", "resync", "ack"]
ACTIONS: tuple[ActionKind, ...] = ("return", "resync", "ack")
MAX_BY = 100
MAX_REASON = 1000


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What a person asks for; build it with `action_request` (it checks the fields)."""

    kind: ActionKind
    tenant_id: str
    order_number: str
    by: str
    reason: str = ""


class ActionInputError(ValueError):
    """A field of an action request is not allowed; the message names the field and what is allowed."""


def _clean(value: str, field: str, *, limit: int, required: bool) -> str:
    text = " ".join(value.split())  # newlines and runs of spaces become one space
    if any(unicodedata.category(ch) == "Cc" for ch in text):
        raise ActionInputError(f"{field}: control characters are not allowed")
    if required and not text:
        raise ActionInputError(f"{field}: must not be empty")
    if len(text) > limit:
        raise ActionInputError(f"{field}: at most {limit} characters (got {len(text)})")
    return text


def person_name(by: str) -> str:
    """Who acts, as recorded with every action (raises ActionInputError naming `by`): for the console's
    login, so a name the actions would refuse is refused there already."""
    return _clean(by, "by", limit=MAX_BY, required=True)


def action_request(kind: str, *, tenant_id: str, order_number: str, by: str, reason: str = "") -> ActionRequest:
    """A checked request (raises ActionInputError naming the field)."""
    if kind not in ACTIONS:
        raise ActionInputError(f"action: one of {', '.join(ACTIONS)} (got {kind!r})")
    return ActionRequest(
        kind,  # type: ignore[arg-type]  # checked just above
        _clean(tenant_id, "tenant", limit=64, required=True),
        _clean(order_number, "order", limit=100, required=True),
        person_name(by),
        _clean(reason, "reason", limit=MAX_REASON, required=False),
    )


# ---- the pure rules ---------------------------------------------------------------------------------------


def _unknown_order(request: ActionRequest) -> str:
    return (
        f"unknown order {request.order_number} of tenant {request.tenant_id}: no FastCentrik snapshot has "
        "named it, so mallbridge does not know it"
    )


def action_refusal(request: ActionRequest, state: OrderState | None) -> str | None:
    """Why the action must be refused (None: allowed). Pure: from the log's state of the order."""
    if state is None or state.fc.status is None:
        return _unknown_order(request)
    if request.kind == "return":
        return return_refusal(state)
    if request.kind == "ack":
        item = attention_item(state)
        if item is None:
            return f"order {request.order_number} has no attention item to acknowledge"
        if not item.open:
            return f"the attention item [{item.code}] of order {request.order_number} is already acknowledged"
    return None


def operator_event(
    request: ActionRequest, state: OrderState, *, now: datetime, event_id: uuid.UUID
) -> OperatorEventBase:
    """The event that records an allowed action (pure: the moment and the id come in)."""
    common = {
        "event_id": event_id,
        "tenant_id": request.tenant_id,
        "order_number": request.order_number,
        "mall_order_id": state.mall_order_id,
        "occurred_at": now,
        "recorded_at": now,
        "by": request.by,
        "reason": request.reason,
    }
    if request.kind == "return":
        return OrderReturnRequested.model_validate(common)
    if request.kind == "resync":
        return OrderResyncRequested.model_validate(common)
    item = attention_item(state)
    assert item is not None  # action_refusal refuses an ack without an open item
    return AttentionAcknowledged.model_validate({**common, "code": item.code})


def what_happens_next(event: OperatorEventBase) -> str:
    if isinstance(event, OrderReturnRequested):
        return 'The publisher sends PUT {"status": "returned"} to MALL once.'
    if isinstance(event, OrderResyncRequested):
        return "The publisher reads MALL's state of the order and plans again."
    code = event.code if isinstance(event, AttentionAcknowledged) else "?"
    return f"The attention item [{code}] leaves the open list (gauge, audit, console) until a new one is raised."


# ---- recording ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    event: OperatorEventBase
    topic: str

    @property
    def next(self) -> str:
        return what_happens_next(self.event)


@dataclass(frozen=True, slots=True)
class Refused:
    reason: str


class OperatorActions:
    """Performs actions against one event log (started by the caller) for the tenants of a tenants file."""

    def __init__(
        self,
        *,
        log: EventLog,
        tenants: Mapping[str, Tenant],
        topic_prefix: str,
        clock: Callable[[], datetime],
        new_id: Callable[[], uuid.UUID] = uuid.uuid4,
    ) -> None:
        self._log = log
        self._tenants = tenants
        self._prefix = topic_prefix
        self._clock = clock
        self._new_id = new_id

    def topics_of(self, tenant_id: str) -> Topics | None:
        tenant = self._tenants.get(tenant_id)
        return None if tenant is None else Topics(prefix=self._prefix, lane=tenant.lane)

    async def history(self, tenant_id: str, order_number: str) -> OrderHistory | None:
        """The order's history (None: the tenant is not in the tenants file)."""
        topics = self.topics_of(tenant_id)
        if topics is None:
            return None
        return await read_order_history(self._log, topics, tenant_id, order_number)

    async def perform(self, request: ActionRequest) -> Recorded | Refused:
        """Decide on the log's state of the order, then record the action durably (or refuse: nothing written)."""
        topics = self.topics_of(request.tenant_id)
        if topics is None:
            known = ", ".join(sorted(self._tenants)) or "none"
            return Refused(f"unknown tenant {request.tenant_id!r}: not in the tenants file (known: {known})")
        state = (await read_order_history(self._log, topics, request.tenant_id, request.order_number)).state
        refusal = action_refusal(request, state)
        if refusal is not None:
            return Refused(refusal)
        assert state is not None  # action_refusal refuses an unknown order
        event = operator_event(request, state, now=self._clock(), event_id=self._new_id())
        await self._ensure_topic(topics)
        record = OutgoingRecord(event_key(event.tenant_id, event.order_number), encode_event(event))
        await self._log.append(topics.operator_events, [record])
        return Recorded(event, topics.operator_events)

    async def _ensure_topic(self, topics: Topics) -> None:
        """Create the lane's operator-events topic if it is missing, with as many partitions as the lane's
        order-events topic: the publisher folds partition p of each, so one order must land in the same
        partition number on both."""
        if await self._log.end_offsets(topics.operator_events):
            return
        partitions = len(await self._log.end_offsets(topics.order_events)) or 1
        creator = open_event_log(self._log.url, partitions=partitions)
        await creator.start()
        try:
            await creator.ensure_topics([topics.operator_events])
        finally:
            await creator.close()
