"""Reading a long log with several worker processes, each over its own partitions.

Why: decoding and folding a million events is CPU work in one Python thread; the port alone already costs
more per record than aiokafka does. The topics are keyed `tenant:order` with the same partitioner, so
with equal partition counts an order's events of every topic sit in partition p of each. Worker w of W
reads partitions p with p % W == w of every topic (the port's `replay` with `start` = end for the
others), folds them into its own ReportBuilder and sends back only its share of the report (counts,
per-tenant tallies, the listed orders): a few kilobytes, not the per-order state.

`--verify` runs in the workers too: the verifier walks each order's history on its own, and an order's
events of every topic are in one worker's partitions. Each worker verifies its orders with the same end
moment and grace, and the results are merged (`verify.merge_results`).

Safety: a worker that sees an order with sync events but no order event reports it. That is either a
real orphan or an order split across workers (topics not co-partitioned); either way the caller reads
the log again in one process, which is always right.

Workers are started with `spawn` (no fork of a process that already has threads and open sockets). A
worker ends without the interpreter's teardown (`_end_at_once`), keeping its state to the last.
"""

from __future__ import annotations

import asyncio
import atexit
import gc
import multiprocessing as mp
import os
import sys
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mallbridge_audit.assembly import Partial
from mallbridge_audit.reader import Plan, read_log
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify import Verifier
from mallbridge_core.eventlog import open_event_log

_progress: Any = None  # a shared counter in each worker (set by the pool's initializer)
_kept: list[object] = []  # a worker's fold state, not freed when its share returns (see _end_at_once)


def co_partitioned(plan: Plan) -> bool:
    """True when every lane's topics that exist have the same partitions (and there is more than one)."""
    widest = 0
    for lane in plan.by_lane:
        partitions = [frozenset(ends) for _, ends in lane if ends]
        if len(set(partitions)) > 1:
            return False
        widest = max(widest, *(len(p) for p in partitions), 0)
    return widest > 1


@dataclass(frozen=True, slots=True)
class VerifyAt:
    """`--verify`'s end check, the same in every worker: the moment "now" and the grace for young work."""

    as_of: datetime
    grace_s: float


def _init(counter: Any) -> None:
    """A worker's start: the shared progress counter, no cyclic collection for the worker's life, and an
    exit without teardown.

    A worker lives for one share of one replay, whose objects reference counting frees (`gc_tuning.
    no_cyclic_gc`). Process-wide, not only around the replay (`read_log`'s block): a collector back on at
    the block's end would scan every order's state just before the worker returns its share and exits."""
    global _progress
    _progress = counter
    gc.disable()
    if mp.parent_process() is not None:  # a worker process (never the audit's own, whose exit code counts)
        atexit.register(_end_at_once)


def _end_at_once() -> None:
    """The worker's last act, as its process exits (handlers registered before it, at import, do not run:
    a worker logs nothing, and its standard streams are flushed here).

    The kernel takes the worker's memory back in one go. Without this the fold's state, millions of small
    objects, would be freed one by one after the share was sent back, and the interpreter's teardown would
    run a collection over the rest, while the audit waits for the pool to close: 0.19-0.21 s from the
    workers' shares built to the pool closed, 0.02-0.03 s with this (the bench's 1,014,055 events, 2
    workers, a run of 9-10 s). Nothing is lost: the share was sent (the pool's result queue writes
    synchronously), the log closed, and a worker writes no files."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _count(n: int) -> None:
    with _progress.get_lock():
        _progress.value += n


def _share(plan: Plan, worker: int, workers: int) -> dict[str, dict[int, int]]:
    """Per topic, start offsets that leave this worker its partitions (0) and the others nothing (their end)."""
    return {topic: {p: (0 if p % workers == worker else end) for p, end in ends.items()} for topic, ends in plan.topics}


@dataclass(frozen=True, slots=True)
class Share:
    """What one worker reads and builds (picklable: it is sent to the worker process)."""

    url: str
    partitions: int
    plan: Plan
    worker: int
    workers: int
    scope: Scope
    orders: str
    verify: VerifyAt | None


def work(share: Share) -> Partial:
    """One worker's share (runs in a child process)."""
    return asyncio.run(_work(share))


async def _work(share: Share) -> Partial:
    log = open_event_log(share.url, partitions=share.partitions)
    await log.start()
    try:
        builder = ReportBuilder(share.scope)
        verifier = Verifier(share.scope) if share.verify is not None else None
        progress = _count if _progress is not None else None
        starts = _share(share.plan, share.worker, share.workers)
        await read_log(log, share.plan, builder, verifier=verifier, progress=progress, starts=starts)
        partial = builder.partial(orders=share.orders)
        if verifier is not None and share.verify is not None:
            partial.verify = verifier.finish(as_of=share.verify.as_of, grace_s=share.verify.grace_s)
        _kept.extend((builder, verifier))  # freed with the process, by the kernel (see _end_at_once)
        return partial
    finally:
        await log.close()


async def read_parallel(
    url: str,
    partitions: int,
    plan: Plan,
    scope: Scope,
    *,
    workers: int,
    orders: str,
    verify: VerifyAt | None = None,
    progress: Callable[[int], None] | None = None,
) -> list[Partial] | None:
    """Each worker's share (with its `--verify` result when `verify` is given), or None when an order showed
    up without its order events (read again in one process)."""
    context = mp.get_context("spawn")
    counter = context.Value("q", 0)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(workers, mp_context=context, initializer=_init, initargs=(counter,)) as pool:
        shares = [Share(url, partitions, plan, w, workers, scope, orders, verify) for w in range(workers)]
        futures = [loop.run_in_executor(pool, work, share) for share in shares]
        gathered = asyncio.gather(*futures)
        seen = 0
        while not gathered.done():
            await asyncio.wait([gathered], timeout=0.2)
            if progress is not None and counter.value > seen:
                progress(counter.value - seen)
                seen = counter.value
        parts = gathered.result()
    if any(p.sync_only_orders for p in parts):
        return None
    return parts


def default_workers(plan: Plan, *, cpus: int | None, minimum_records: int = 200_000) -> int:
    """Auto: one worker per CPU (at most 4) for a long, co-partitioned log; else one process."""
    if plan.total < minimum_records or not co_partitioned(plan):
        return 1
    return max(1, min(cpus or 1, 4))
