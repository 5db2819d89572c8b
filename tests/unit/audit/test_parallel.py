"""How the parallel audit shares the log out, and what a worker process sets up for itself."""

from __future__ import annotations

import atexit
import gc
import multiprocessing as mp
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from mallbridge_audit import parallel
from mallbridge_audit.reader import Plan


def _plan(*lanes: dict[str, dict[int, int]]) -> Plan:
    """One lane per argument, topics of the three kinds named order/operator/sync."""
    kinds = tuple(
        tuple((f"l{i}.{kind}", lane.get(kind, {})) for i, lane in enumerate(lanes))
        for kind in ("order", "operator", "sync")
    )
    return Plan(kinds)


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before, enabled = gc.get_threshold(), gc.isenabled()
    try:
        yield
    finally:
        gc.set_threshold(*before)
        if enabled:
            gc.enable()
        parallel._progress = None


def test_a_worker_runs_without_the_cyclic_collector_for_its_whole_life(restored_gc: None) -> None:
    assert gc.isenabled()
    counter = mp.get_context("spawn").Value("q", 0)
    parallel._init(counter)
    assert not gc.isenabled()  # its share's objects are freed by reference counting; nothing scans them
    parallel._count(3)
    assert counter.value == 3


def test_the_exit_without_teardown_is_set_up_in_a_worker_process_only(restored_gc: None) -> None:
    handlers = atexit._ncallbacks()
    parallel._init(mp.get_context("spawn").Value("q", 0))
    assert atexit._ncallbacks() == handlers  # the audit's own process keeps its exit and its exit code


def _write(path: str) -> None:
    with open(path, "w") as f:
        f.write("the interpreter's teardown ran")


def _init_after_an_exit_handler(marker: str, counter: object) -> None:
    atexit.register(_write, marker)  # registered before the worker's own: runs only with a normal teardown
    parallel._init(counter)


def _kept_after_return() -> tuple[int, bool]:
    parallel._kept.append(["state", "the kernel frees"])
    return len(parallel._kept), gc.isenabled()


def test_a_worker_hands_its_share_back_and_ends_at_once_with_exit_code_0(tmp_path: Path) -> None:
    context, marker = mp.get_context("spawn"), tmp_path / "teardown"
    pool = ProcessPoolExecutor(
        1, mp_context=context, initializer=_init_after_an_exit_handler, initargs=(str(marker), context.Value("q", 0))
    )
    with pool:
        assert pool.submit(_kept_after_return).result(timeout=60) == (1, False)
        workers = list(pool._processes.values())
    assert [w.exitcode for w in workers] == [0]
    assert not marker.exists()  # os._exit: no teardown freed the kept state object by object


def test_each_worker_reads_its_own_partitions_and_skips_the_rest_at_their_end() -> None:
    plan = _plan({"order": {0: 5, 1: 7, 2: 9}, "sync": {0: 2, 1: 3, 2: 4}})
    first, second = parallel._share(plan, 0, 2), parallel._share(plan, 1, 2)
    assert first["l0.order"] == {0: 0, 1: 7, 2: 0}
    assert second["l0.order"] == {0: 5, 1: 0, 2: 9}
    assert second["l0.sync"] == {0: 2, 1: 0, 2: 4}
    for topic in ("l0.order", "l0.sync"):  # every partition is read by exactly one worker
        assert sorted(p for share in (first, second) for p, start in share[topic].items() if start == 0) == [0, 1, 2]


def test_topics_are_co_partitioned_only_with_the_same_partitions_and_more_than_one() -> None:
    assert parallel.co_partitioned(_plan({"order": {0: 1, 1: 1}, "sync": {0: 1, 1: 1}}))
    assert parallel.co_partitioned(_plan({"order": {0: 1, 1: 1}}))  # a missing topic has no partitions
    assert not parallel.co_partitioned(_plan({"order": {0: 1, 1: 1}, "sync": {0: 1, 1: 1, 2: 1}}))
    assert not parallel.co_partitioned(_plan({"order": {0: 1}, "sync": {0: 1}}))


def test_workers_are_one_per_cpu_up_to_four_for_a_long_co_partitioned_log_only() -> None:
    long_log = _plan({"order": {0: 150_000, 1: 150_000}})
    assert parallel.default_workers(long_log, cpus=2) == 2
    assert parallel.default_workers(long_log, cpus=16) == 4
    assert parallel.default_workers(long_log, cpus=None) == 1
    assert parallel.default_workers(_plan({"order": {0: 1_000, 1: 1_000}}), cpus=8) == 1
    assert parallel.default_workers(_plan({"order": {0: 300_000}}), cpus=8) == 1
