"""Retry delays: exponential, capped, with jitter (one policy for every "try again later" in mallbridge).

Jitter spreads the retries of many orders (or processes) that failed together, so they do not all come
back at the same moment.
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field

_JITTER = random.Random()
"""One generator for every backoff of the process: seeding one per Backoff (os.urandom and a Mersenne
Twister state) cost more than the append it guarded, and a Backoff is made for every sync-event write."""


@dataclass
class Backoff:
    """Delays `base * 2**n` capped at `cap`, each drawn uniformly from [(1 - jitter) * d, d].

    `next_delay()` returns the next delay and counts the failure; `reset()` after a success.
    """

    base_s: float = 0.2
    cap_s: float = 30.0
    jitter: float = 0.5
    failures: int = 0
    _random: random.Random = field(default=_JITTER, repr=False)

    def __post_init__(self) -> None:
        if self.base_s <= 0 or self.cap_s < self.base_s:
            raise ValueError("backoff needs 0 < base_s <= cap_s")
        if not 0 <= self.jitter <= 1:
            raise ValueError("backoff jitter must be between 0 and 1")

    def ceiling(self) -> float:
        """The delay before jitter for the failure about to be counted."""
        return min(self.cap_s, self.base_s * 2.0 ** min(self.failures, 30))

    def next_delay(self) -> float:
        ceiling = self.ceiling()
        self.failures += 1
        return self._random.uniform(ceiling * (1 - self.jitter), ceiling)

    async def sleep(self) -> None:
        await asyncio.sleep(self.next_delay())

    def reset(self) -> None:
        self.failures = 0
