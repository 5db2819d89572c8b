"""What people asked for about one order, as `--verify` replays it: operator-events folded by time.

operator-events.v1 has no log order relative to sync-events.v1, so `--verify` folds a person's action (or a
`mallbridge balance` observation) into the order's state before the first sync event recorded at or after
it (`recorded_at`): the publisher decides on what it has read. It follows operator-events about once a
second, so a PUT recorded shortly after an action may have been decided before the publisher read it: a
PUT is also accepted when it is what the reconciler plans without the actions recorded in the
`FOLLOW_S` seconds before it (`alternatives`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime

from mallbridge_core.domain.operator_side import OperatorSide, apply_operator
from mallbridge_core.domain.projection import MallSide, OrderState, apply
from mallbridge_schema.events import Event, MallStateObserved, OrderResyncRequested, OrderReturnRequested

FOLLOW_S = 60.0
"""How long after an action was recorded a PUT may still have been decided without it."""


@dataclass(slots=True)
class People:
    """One order's operator events: those not yet folded (waiting for their moment), and those folded."""

    waiting: list[Event] = field(default_factory=list)
    folded: list[Event] = field(default_factory=list)

    def add(self, event: Event) -> None:
        if all(e.event_id != event.event_id for e in (*self.waiting, *self.folded)):
            self.waiting.append(event)

    def fold_until(self, state: OrderState, moment: datetime | None) -> tuple[MallSide, OperatorSide]:
        """MALL's and the operator side after the events recorded at or before `moment` (None: all)."""
        mall, ops = state.mall, state.ops
        keep: list[Event] = []
        for event in self.waiting:
            if moment is None or event.recorded_at <= moment:
                after = apply(
                    OrderState(state.tenant_id, state.order_number, state.mall_order_id, state.fc, mall, ops), event
                )
                mall, ops = after.mall, after.ops
                self.folded.append(event)
            else:
                keep.append(event)
        self.waiting = keep
        return mall, ops

    def alternatives(self, moment: datetime) -> Iterator[OperatorSide]:
        """The operator side without the last action(s) recorded within FOLLOW_S before `moment`, fewest
        left out first."""
        for cut in range(len(self.folded) - 1, -1, -1):
            if (moment - self.folded[cut].recorded_at).total_seconds() > FOLLOW_S:
                return
            ops = OperatorSide()
            for event in self.folded[:cut]:
                ops = apply_operator(event, ops)
            yield ops

    def asked_by(self) -> str:
        """Who asked for the last read of MALL (a resync, or `mallbridge balance`)."""
        for event in reversed(self.folded):
            if isinstance(event, OrderResyncRequested):
                return f"{event.by} at {event.recorded_at.isoformat(timespec='seconds')}"
            if isinstance(event, MallStateObserved) and event.source == "balance":
                return f"mallbridge balance at {event.recorded_at.isoformat(timespec='seconds')}"
        return "?"

    def last_recorded(self) -> datetime | None:
        return max((e.recorded_at for e in self.folded), default=None)

    def returns(self) -> bool:
        return any(isinstance(e, OrderReturnRequested) for e in self.folded)
