"""Topic names of one lane (ARCHITECTURE.md §3, contract), and the lane rules every service shares.

A tenant's events live in its lane's topics: the default lane uses `{prefix}order-events.v1` etc., lane
`x` uses `{prefix}lane-x.order-events.v1`. A tenant moved to a lane keeps its earlier history in the
default lane's topics, so every reader of a lane reads the default lane first (`Topics.history()`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mallbridge_schema.serde import (
    DEAD_LETTER_TOPIC,
    DEFAULT_TOPIC_PREFIX,
    OPERATOR_EVENTS_TOPIC,
    ORDER_EVENTS_TOPIC,
    SYNC_EVENTS_TOPIC,
    topic_name,
)

DEFAULT_LANE = "default"
LANE_PATTERN = r"[a-z0-9_-]{1,32}"
"""What a lane name may be (it becomes part of topic names)."""


def is_lane_name(name: str) -> bool:
    return re.fullmatch(LANE_PATTERN, name) is not None


def lane_list(text: str) -> tuple[str, ...]:
    """Lanes given as a comma list ("default, acme"), as options and variables give them: blanks dropped."""
    return tuple(lane.strip() for lane in text.split(",") if lane.strip())


def checked_lanes(lanes: tuple[str, ...]) -> tuple[str, ...]:
    """`lanes` without repeats; ValueError (for a setting's validator) when none is named or a name is no
    lane name."""
    if not lanes:
        raise ValueError(f"name at least one lane (e.g. {DEFAULT_LANE!r})")
    wrong = [lane for lane in lanes if not is_lane_name(lane)]
    if wrong:
        raise ValueError(f"{', '.join(map(repr, wrong))}: a lane name must match {LANE_PATTERN}")
    return tuple(dict.fromkeys(lanes))


@dataclass(frozen=True)
class Topics:
    """The topic names of one lane, under one prefix."""

    prefix: str = DEFAULT_TOPIC_PREFIX
    lane: str = DEFAULT_LANE

    def _lane_prefix(self) -> str:
        return self.prefix if self.lane == DEFAULT_LANE else f"{self.prefix}lane-{self.lane}."

    @property
    def order_events(self) -> str:
        return topic_name(self._lane_prefix(), ORDER_EVENTS_TOPIC)

    @property
    def sync_events(self) -> str:
        return topic_name(self._lane_prefix(), SYNC_EVENTS_TOPIC)

    @property
    def dead_letter(self) -> str:
        return topic_name(self._lane_prefix(), DEAD_LETTER_TOPIC)

    @property
    def operator_events(self) -> str:
        return topic_name(self._lane_prefix(), OPERATOR_EVENTS_TOPIC)

    @property
    def is_default_lane(self) -> bool:
        return self.lane == DEFAULT_LANE

    def for_lane(self, lane: str) -> Topics:
        return Topics(prefix=self.prefix, lane=lane)

    def history(self) -> tuple[Topics, ...]:
        """The lanes to read, in order, to see all of this lane's tenants' history: the default lane
        first (where a tenant moved to this lane wrote before), then this lane itself."""
        if self.is_default_lane:
            return (self,)
        return (self.for_lane(DEFAULT_LANE), self)
