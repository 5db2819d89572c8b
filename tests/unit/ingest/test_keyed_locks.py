"""Per-order locks: same key serialized, different keys concurrent, nothing left behind."""

from __future__ import annotations

import asyncio

import pytest

from mallbridge_ingest.keyed_locks import KeyedLocks


async def test_same_key_waits_and_other_keys_do_not() -> None:
    locks = KeyedLocks()
    order: list[str] = []

    async def job(name: str, keys: list[tuple[str, str]], pause: float) -> None:
        async with locks.hold(keys):
            order.append(f"{name}+")
            await asyncio.sleep(pause)
            order.append(f"{name}-")

    await asyncio.gather(
        job("a", [("t", "1"), ("t", "2")], 0.05), job("b", [("t", "2")], 0.0), job("c", [("t", "3")], 0.0)
    )
    assert order.index("a-") < order.index("b+")  # b shares order 2 with a
    assert order.index("c-") < order.index("a-")  # c shares nothing: it did not wait
    assert len(locks) == 0


async def test_opposite_key_orders_do_not_deadlock() -> None:
    locks = KeyedLocks()

    async def job(keys: list[tuple[str, str]]) -> None:
        async with locks.hold(keys):
            await asyncio.sleep(0.01)

    await asyncio.wait_for(
        asyncio.gather(*(job([("t", "x"), ("t", "y")][:: 1 if i % 2 else -1]) for i in range(10))), 2
    )
    assert len(locks) == 0


async def test_cancelled_waiter_leaves_the_holder_alone() -> None:
    locks = KeyedLocks()
    entered = asyncio.Event()
    release = asyncio.Event()

    async def holder() -> None:
        async with locks.hold([("t", "1")]):
            entered.set()
            await release.wait()

    async def waiter() -> None:
        async with locks.hold([("t", "0"), ("t", "1")]):
            pytest.fail("must not get the lock")

    h = asyncio.create_task(holder())
    await entered.wait()
    w = asyncio.create_task(waiter())
    await asyncio.sleep(0.01)
    w.cancel()
    with pytest.raises(asyncio.CancelledError):
        await w
    assert len(locks) == 1  # only the holder's lock remains, still held
    release.set()
    await h
    assert len(locks) == 0


async def test_mutual_exclusion_under_load_with_cancellations() -> None:
    import random

    locks = KeyedLocks()
    holders: dict[tuple[str, str], int] = {}
    rng = random.Random(7)

    async def job(wanted: list[tuple[str, str]]) -> None:
        keys = set(wanted)
        async with locks.hold(wanted):
            for k in keys:
                holders[k] = holders.get(k, 0) + 1
                assert holders[k] == 1, f"{k} held twice"
            try:
                await asyncio.sleep(rng.random() / 200)
            finally:
                for k in keys:
                    holders[k] -= 1

    tasks = [
        asyncio.create_task(job([("t", str(rng.randrange(8))) for _ in range(rng.randrange(1, 4))])) for _ in range(200)
    ]
    await asyncio.sleep(0.005)
    for t in tasks[::7]:
        t.cancel()
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert [r for r in results if not (r is None or isinstance(r, asyncio.CancelledError))] == []
    assert sum(r is None for r in results) > 100
    assert len(locks) == 0
