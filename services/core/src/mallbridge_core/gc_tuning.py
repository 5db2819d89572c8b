"""Collector settings for the processes that fold many events into many long-lived objects.

Every event decoded and folded allocates a handful of short-lived objects (dicts, models, tuples),
while the fold keeps a growing set of per-order objects alive. CPython's default young-generation
threshold (700 allocations) runs a collection every few events, and every tenth one also rescans the
middle generation, full of order state that will never be garbage. A threshold of 50,000 objects
(a few MB) collects far less often; the older generations keep their default rhythm relative to it.
Measured: about a third less CPU per snapshot in ingest's server (docs/DECISIONS.md, "Collector
settings"). A run that ends (an audit's replay, an import) does better still without the cyclic
collector at all (`no_cyclic_gc`).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

THROUGHPUT_THRESHOLDS = (50_000, 20, 20)


def tune_gc(*, freeze: bool) -> None:
    """For the whole process (ingest's server). `freeze=True` after a state rebuild moves
    the long-lived state out of the collector's way, so older-generation collections stop rescanning it."""
    gc.set_threshold(*THROUGHPUT_THRESHOLDS)
    if freeze:
        gc.freeze()


@contextmanager
def no_cyclic_gc() -> Iterator[None]:
    """The cyclic collector off for the length of a block, then as it was.

    For a replay or an import that folds into objects reference counting alone frees: the collector's
    passes over the growing state find next to nothing (542 unreachable objects after a 516,743-event
    `--verify` replay, aiokafka's among them; 356 after a 40,000-snapshot import) yet cost about 5 % of
    it. End the block after what it built is dropped: the first collection after it scans every object
    allocated inside that is still alive.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
