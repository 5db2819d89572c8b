"""The per-order scheduler: one task per order, a re-run for what came in meanwhile, backoff, wake-ups, stop."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from functools import partial

from mallbridge_core.backoff import Backoff
from mallbridge_publisher.scheduler import Key, OrderScheduler
from tests.support.eventually import eventually

A: Key = ("acme", "A-1")
B: Key = ("acme", "B-1")
C: Key = ("acme", "C-1")


class Work:
    """A fake pass over an order: counts runs and overlaps, waits on a gate per key, fails on cue."""

    def __init__(self) -> None:
        self.runs: dict[Key, int] = defaultdict(int)
        self.running: set[Key] = set()
        self.overlapped = False
        self.gates: dict[Key, asyncio.Event] = defaultdict(asyncio.Event)
        self.failures: dict[Key, int] = defaultdict(int)
        self.done: list[Key] = []

    async def __call__(self, key: Key) -> None:
        self.overlapped |= key in self.running
        self.running.add(key)
        try:
            self.runs[key] += 1
            await self.gates[key].wait()
            if self.failures[key] > 0:
                self.failures[key] -= 1
                raise RuntimeError("reconciliation blew up")
        finally:
            self.running.discard(key)

    def open(self, *keys: Key) -> None:
        for key in keys:
            self.gates[key].set()


def tiny_backoff() -> Backoff:
    return Backoff(base_s=0.001, cap_s=0.004, _random=random.Random(1))


def scheduler(work: Work, *, grace_s: float = 1.0) -> OrderScheduler:
    return OrderScheduler(work, on_done=work.done.append, backoff=tiny_backoff, grace_s=grace_s)


# The checks read the fake's dicts, which the scheduler's tasks change on this loop: run them on it, often.
until = partial(eventually, on_loop=True, interval=0.001)


async def test_a_request_while_the_order_runs_reruns_it_once_and_never_concurrently() -> None:
    work = Work()
    s = scheduler(work)
    s.schedule(A)
    await until(lambda: work.runs[A] == 1)
    s.schedule(A)
    s.schedule(A)  # coalesced with the one before
    work.open(A)
    await until(lambda: work.done == [A])
    assert work.runs[A] == 2
    assert not work.overlapped


async def test_orders_run_side_by_side_and_one_that_waits_holds_only_itself() -> None:
    work = Work()
    s = scheduler(work)
    s.schedule(A)
    s.schedule(B)
    work.open(B)
    await until(lambda: work.done == [B])
    assert A in work.running
    work.open(A)
    await until(lambda: work.done == [B, A])


async def test_a_failing_pass_backs_off_and_runs_again_and_is_done_only_when_it_succeeds() -> None:
    work = Work()
    work.failures[A] = 3
    work.open(A)
    s = scheduler(work)
    s.schedule(A)
    await until(lambda: work.done == [A])
    assert work.runs[A] == 4


async def test_the_backoff_of_an_order_grows_and_a_reset_starts_it_over() -> None:
    waits: list[tuple[int, float]] = []

    class RecordingBackoff(Backoff):
        async def sleep(self) -> None:
            waits.append((id(self), self.ceiling()))
            self.next_delay()

    s = OrderScheduler(Work(), on_done=lambda key: None, backoff=lambda: RecordingBackoff(0.1, 0.4), grace_s=1.0)
    for _ in range(4):
        await s.back_off(A)
    await s.back_off(B)
    s.reset_backoff(A)
    await s.back_off(A)
    assert [ceiling for _, ceiling in waits] == [0.1, 0.2, 0.4, 0.4, 0.1, 0.1]
    assert len({who for who, _ in waits[:4]}) == 1  # one policy per order, kept between waits
    assert waits[4][0] != waits[0][0]


async def test_wake_after_runs_the_order_later_and_a_new_wake_up_replaces_the_old() -> None:
    """Timers fire in the order of their deadlines: A's replaced wake-up (5 ms) would come before C's (20 ms),
    its new one (50 ms) comes after; B (100 ms) is the marker after both. Each is set after the one it must
    follow, so a slow machine cannot swap them."""
    work = Work()
    work.open(A, B, C)
    s = scheduler(work)
    s.wake_after(C, 0.02)
    s.wake_after(A, 0.005)
    s.wake_after(A, 0.05)
    s.wake_after(B, 0.1)
    await until(lambda: B in work.done)
    assert work.done == [C, A, B]
    assert work.runs[A] == 1


async def test_stop_lets_a_running_pass_finish_within_the_grace_and_refuses_new_ones() -> None:
    work = Work()
    s = scheduler(work, grace_s=5.0)
    s.schedule(A)
    await until(lambda: work.runs[A] == 1)
    stopping = asyncio.create_task(s.stop([A]))
    await until(lambda: s.stopping(A))
    s.schedule(A)  # ignored: the order is stopping (else it would run again before the stop ends)
    work.open(A)
    await stopping
    assert work.done == [A]
    assert work.runs[A] == 1
    assert not s.stopping(A)


async def test_stop_cancels_what_outlives_the_grace_and_cancels_wake_ups() -> None:
    work = Work()
    s = scheduler(work, grace_s=0.02)
    s.schedule(A)
    s.wake_after(B, 0.05)
    await until(lambda: work.runs[A] == 1)
    await s.stop_all()
    assert A not in work.running  # cancelled
    # The marker: a wake-up set after the stop, due later than B's was. Once it ran, B's would have too.
    work.open(C)
    s.wake_after(C, 0.1)
    await until(lambda: work.done == [C])
    assert work.runs[B] == 0  # its wake-up never fired
