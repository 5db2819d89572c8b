"""A parallel import: `job.shards` worker processes, each owning a share of the orders.

Each worker is a process of its own (the import is CPU-bound; one interpreter uses one core). Each reads
the whole file but keeps only the lines of its orders (order_shard; a JSON Lines line is told apart from
its text, without parsing it, where that is certain: jsonl_line_shard), rebuilds only their state, and
writes with its own producer; so every order has exactly one writer, as the per-order seq requires.
Workers are spawned, not forked: the parent may hold threads and an event loop.
Messages from the workers: ("ready", shard, None), ("progress", shard, line), ("done", shard, summary),
("failed", shard, reason).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import queue
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Event as EventType
from typing import Any

from mallbridge_core.gc_tuning import no_cyclic_gc
from mallbridge_core.logging_setup import configure_logging
from mallbridge_ingest.imports.summary import ImportSummary, merge_summaries
from mallbridge_ingest.imports.worker import ImportJob, import_shard

EXIT_PARENT_GONE = 3


class _WorkerHooks:
    def __init__(self, shard: int, messages: Queue[tuple[str, int, Any]], go: EventType) -> None:
        self._shard, self._messages, self._go = shard, messages, go

    def ready(self) -> None:
        self._messages.put(("ready", self._shard, None))

    async def wait_for_go(self) -> None:
        await asyncio.to_thread(self._go.wait)

    def progress(self, line: int) -> None:
        self._messages.put(("progress", self._shard, line))


def _exit_with_the_parent() -> None:
    """A worker outlives no killed parent (SIGKILL, out of memory): it would go on writing unsupervised.
    What it wrote is durable either way; a re-run completes the import."""
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(EXIT_PARENT_GONE)

    threading.Thread(target=watch, name="watch-parent", daemon=True).start()


def _worker_main(job: ImportJob, shard: int, messages: Queue[tuple[str, int, Any]], go: EventType) -> None:
    _exit_with_the_parent()
    configure_logging("WARNING")
    try:
        with no_cyclic_gc():  # a worker lives for one shard, whose state reference counting frees
            summary = asyncio.run(import_shard(job, shard, _WorkerHooks(shard, messages, go)))
    except BaseException as exc:  # reported to the parent, which aborts the import and says why
        messages.put(("failed", shard, f"{type(exc).__name__}: {exc}"))
        raise SystemExit(1) from None
    messages.put(("done", shard, summary))


@dataclass
class _Supervision:
    """What the parent knows of its workers, from their messages and their exit codes."""

    shards: int
    total_lines: int
    position: list[int] = field(default_factory=list)
    ready: set[int] = field(default_factory=set)
    parts: dict[int, ImportSummary] = field(default_factory=dict)
    failures: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.position = [0] * self.shards

    @property
    def finished(self) -> bool:
        return len(self.parts) + len(self.failures) >= self.shards

    @property
    def all_past_rebuild(self) -> bool:
        return len(self.ready | self.parts.keys() | self.failures.keys()) == self.shards

    def take(self, kind: str, shard: int, value: Any) -> None:
        if kind == "ready":
            self.ready.add(shard)
        elif kind == "progress":
            self.position[shard] = value
        elif kind == "done":
            self.parts[shard] = value
            self.position[shard] = self.position[shard] if value.aborted else self.total_lines
        else:
            self.failures[shard] = value

    def summary(self) -> ImportSummary:
        summary = merge_summaries(self.parts.values())
        if self.failures:
            reasons = "; ".join(f"worker {shard}: {reason}" for shard, reason in sorted(self.failures.items()))
            summary.aborted = f"{reasons}; what the other workers wrote is durable, re-run the import to complete it"
        return summary


def run_workers(
    job: ImportJob,
    *,
    total_lines: int,
    on_ready: Callable[[int], None],
    on_start: Callable[[], None],
    on_position: Callable[[int], None],
) -> ImportSummary:
    """Run the workers to the end and merge their summaries. `on_ready(n)`: n workers have rebuilt;
    `on_start()`: all start importing; `on_position(line)`: every worker is past that line."""
    context = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads or loops
    messages: Queue[tuple[str, int, Any]] = context.Queue()
    go = context.Event()
    workers = [
        context.Process(target=_worker_main, args=(job, shard, messages, go), name=f"import-worker-{shard}")
        for shard in range(job.shards)
    ]
    for worker in workers:
        worker.start()
    state = _Supervision(job.shards, total_lines)
    finished = False
    try:
        while not state.finished:
            try:
                kind, shard, value = messages.get(timeout=0.5)
            except queue.Empty:
                _note_silent_exits(workers, state.parts, state.failures)
            else:
                state.take(kind, shard, value)
                if kind == "ready":
                    on_ready(len(state.ready))
                on_position(min(state.position))
            if not go.is_set() and state.all_past_rebuild:
                # All start together (the import's time is measured from here). A worker that failed
                # does not hold the others back: each chunk they write is durable either way.
                on_start()
                go.set()
        finished = True
    finally:
        go.set()  # no worker may wait for a go that never comes
        for worker in workers:
            if not finished:
                worker.terminate()  # interrupted: stop the workers; what they wrote is durable
            worker.join()
    return state.summary()


def _note_silent_exits(
    workers: Sequence[BaseProcess], parts: dict[int, ImportSummary], failures: dict[int, str]
) -> None:
    """A worker that died without a word (killed, out of memory) fails the import instead of hanging it."""
    for shard, worker in enumerate(workers):
        if shard not in parts and shard not in failures and worker.exitcode not in (None, 0):
            failures[shard] = f"exited with code {worker.exitcode}"
