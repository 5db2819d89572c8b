"""The replay cache keeps only pushes in flight in memory, completed answers in its temporary database."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import sqlite3
from typing import Any

import httpx
import pytest

from mallbridge_ingest.adapters import replay
from mallbridge_ingest.adapters.replay import Answer, ReplayCache
from mallbridge_ingest.bootstrap import build_app
from mallbridge_ingest.config import IngestSettings
from tests.unit.ingest.fakes import FakeEventLog
from tests.unit.ingest.test_http_app import NOW, ORDER, TENANTS, body_of, headers

WINDOW = 300


def signature(n: int) -> str:
    return "sha256=" + hashlib.sha256(str(n).encode()).hexdigest()


class Counting:
    """A `first()` that answers with how many times it was called."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self) -> Answer:
        self.calls += 1
        return {"accepted": 1, "events": self.calls, "unchanged": 0, "stale": 0, "mdp": False}


class Failing:
    """A connection that raises `OperationalError` for the statements starting with `verb` (SQLite's own
    connection cannot be patched: its methods are read-only)."""

    def __init__(self, db: sqlite3.Connection, verb: str) -> None:
        self.db = db
        self.verb = verb

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        if sql.startswith(self.verb):
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, params)

    def close(self) -> None:
        self.db.close()


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> list[sqlite3.Connection]:
    """The databases the caches open, in order."""
    databases: list[sqlite3.Connection] = []
    real = replay._open_database

    def recording() -> sqlite3.Connection:
        databases.append(real())
        return databases[-1]

    monkeypatch.setattr(replay, "_open_database", recording)
    return databases


def failing_on(monkeypatch: pytest.MonkeyPatch, verb: str) -> None:
    real = replay._open_database
    monkeypatch.setattr(replay, "_open_database", lambda: Failing(real(), verb))


async def test_a_replay_waits_for_the_first_attempt_in_flight_then_gets_its_answer() -> None:
    cache = ReplayCache(per_tenant=10, window_s=WINDOW)
    release = asyncio.Event()
    calls = 0

    async def slow() -> Answer:
        nonlocal calls
        calls += 1
        await release.wait()
        return {"accepted": 2, "events": 2, "unchanged": 0, "stale": 0}

    key = ("1000", signature(1))
    first = asyncio.create_task(cache.answer("t", key, 1000, 1000, slow))
    again = asyncio.create_task(cache.answer("t", key, 1000, 1001, slow))
    for _ in range(3):
        await asyncio.sleep(0)  # let both reach their await: the first in `slow`, the replay on its future
    assert cache.in_memory == 1
    assert not again.done()  # it cannot finish before the first: the event is not set yet
    release.set()
    answer = {"accepted": 2, "events": 2, "unchanged": 0, "stale": 0}
    assert await first == (answer, False)
    assert await again == (answer, True)
    assert calls == 1
    assert cache.in_memory == 0
    assert await cache.answer("t", key, 1000, 1002, slow) == (answer, True)  # now from the database


async def test_a_failed_attempt_in_flight_makes_its_waiting_replay_the_first() -> None:
    cache = ReplayCache(per_tenant=10, window_s=WINDOW)
    release = asyncio.Event()

    async def failing() -> Answer:
        await release.wait()
        raise RuntimeError("log down")

    key = ("1000", signature(1))
    first = asyncio.create_task(cache.answer("t", key, 1000, 1000, failing))
    await asyncio.sleep(0)
    again = asyncio.create_task(cache.answer("t", key, 1000, 1001, Counting()))
    await asyncio.sleep(0)
    release.set()
    with pytest.raises(RuntimeError):
        await first
    assert await again == ({"accepted": 1, "events": 1, "unchanged": 0, "stale": 0, "mdp": False}, False)
    assert (len(cache), cache.in_memory) == (1, 0)


async def test_answers_are_kept_in_the_database_not_in_memory(opened: list[sqlite3.Connection]) -> None:
    cache = ReplayCache(per_tenant=10_000, window_s=WINDOW)
    first = Counting()
    for n in range(2_000):
        ts = 1000 + n // 100
        assert (await cache.answer("t", (str(ts), signature(n)), ts, ts, first))[1] is False
    assert (len(cache), cache.in_memory) == (2_000, 0)
    assert opened[0].execute("SELECT count(*) FROM answers").fetchone() == (2_000,)
    # The first push's answer, read back from the database as it was given (an int and a bool inside).
    replayed = await cache.answer("t", ("1000", signature(0)), 1000, 1019, first)
    assert replayed == ({"accepted": 1, "events": 1, "unchanged": 0, "stale": 0, "mdp": False}, True)
    assert first.calls == 2_000
    cache.close()


async def test_a_well_formed_signature_is_stored_as_its_32_bytes(opened: list[sqlite3.Connection]) -> None:
    cache = ReplayCache(per_tenant=10, window_s=WINDOW)
    first = Counting()
    digest = hashlib.sha256(b"x").hexdigest()
    spaced = [f"sha256={digest[:60]} {digest[60:62]} ", f"sha256={digest[:62]}  "]  # hex with spaces: both 31 bytes
    keys = [f"sha256={digest}", f"sha256={digest.upper()}", digest, "sha256=not hex", *spaced]
    for sig in keys:  # different texts: different pushes, whatever they decode to
        assert (await cache.answer("t", ("1000", sig), 1000, 1000, first))[1] is False
    for sig in keys:
        assert (await cache.answer("t", ("1000", sig), 1000, 1001, first))[1] is True
    stored = [row[0] for row in opened[0].execute("SELECT sig FROM answers")]
    assert bytes.fromhex(digest) in stored
    assert sorted(s for s in stored if isinstance(s, str)) == sorted(keys[1:])


async def test_expired_answers_are_not_given_and_are_purged() -> None:
    cache = ReplayCache(per_tenant=100, window_s=WINDOW)
    first = Counting()
    for n in range(5):
        await cache.answer("t", ("1000", signature(n)), 1000, 1000, first)
    await cache.answer("u", ("1000", signature(0)), 1000, 1000, first)
    assert (await cache.answer("t", ("1000", signature(0)), 1000, 1300, first))[1] is True  # its last second
    assert (await cache.answer("t", ("1000", signature(0)), 1000, 1301, first))[1] is False  # the window is over
    assert first.calls == 7
    assert len(cache) == 0  # every tenant's expired answers went in that purge
    await cache.answer("t", ("1301", signature(9)), 1301, 1301.5, first)
    assert len(cache) == 1


async def test_the_cap_evicts_the_oldest_answers_of_that_tenant_only() -> None:
    cache = ReplayCache(per_tenant=3, window_s=WINDOW)
    first = Counting()
    u_keys = [("900", signature(0)), ("1000", signature(1000))]  # older than all of t's; the same key as t's oldest
    for key in u_keys:
        await cache.answer("u", key, float(key[0]), 1000, first)
    for ts in (1000, 1001, 1002, 1003):
        await cache.answer("t", (str(ts), signature(ts)), ts, ts, first)
    assert len(cache) == 5  # t's newest three, u's two
    for key in u_keys:
        assert (await cache.answer("u", key, float(key[0]), 1003, first))[1] is True
    for ts in (1003, 1002, 1001):
        assert (await cache.answer("t", (str(ts), signature(ts)), ts, 1003, first))[1] is True
    assert (await cache.answer("t", ("1000", signature(1000)), 1000, 1003, first))[1] is False


async def test_a_large_cap_evicts_in_batches_and_keeps_the_newest() -> None:
    cache = ReplayCache(per_tenant=128, window_s=WINDOW)
    first = Counting()
    for n in range(200):
        await cache.answer("t", (str(1000 + n), signature(n)), 1000 + n, 1000 + n, first)
        assert len(cache) <= 128
    kept = len(cache)
    assert kept >= 128 - 128 // 64
    for n in range(199, 199 - kept, -1):  # newest first: a hit writes nothing, so nothing more is evicted
        assert (await cache.answer("t", (str(1000 + n), signature(n)), 1000 + n, 1199, first))[1] is True
    assert (await cache.answer("t", ("1000", signature(0)), 1000, 1199, first))[1] is False


async def test_a_cap_of_zero_keeps_nothing(opened: list[sqlite3.Connection]) -> None:
    cache = ReplayCache(per_tenant=0, window_s=WINDOW)
    first = Counting()
    for _ in range(2):
        assert (await cache.answer("t", ("1000", signature(1)), 1000, 1000, first))[1] is False
    assert (first.calls, len(cache), opened) == (2, 0, [])


async def test_a_failing_write_still_answers_the_push_and_logs_a_warning_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing_on(monkeypatch, "INSERT")
    cache = ReplayCache(per_tenant=10, window_s=WINDOW)
    first = Counting()
    key = ("1000", signature(1))
    with caplog.at_level(logging.DEBUG, logger=replay.__name__):
        assert (await cache.answer("t", key, 1000, 1000, first)) == (await Counting()(), False)
        # Not remembered: the same push again is a new attempt (change detection then writes nothing).
        assert (await cache.answer("t", key, 1000, 1001, first))[1] is False
    assert (first.calls, len(cache), cache.in_memory) == (2, 0, 0)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1  # once per failing spell, not once per push
    assert "disk is full" in warnings[0].__dict__["error"]
    assert warnings[0].__dict__["tenant"] == "t"
    for record in caplog.records:
        assert key[1][7:] not in str(record.__dict__)  # never the signature


async def test_a_failing_lookup_is_taken_for_not_found(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    failing_on(monkeypatch, "SELECT")
    cache = ReplayCache(per_tenant=10, window_s=WINDOW)
    first = Counting()
    key = ("1000", signature(1))
    with caplog.at_level(logging.WARNING, logger=replay.__name__):
        await cache.answer("t", key, 1000, 1000, first)
        assert (await cache.answer("t", key, 1000, 1001, first))[1] is False
    assert first.calls == 2
    assert [r.levelno for r in caplog.records] == [logging.WARNING]


async def test_close_removes_the_database_and_what_it_held(opened: list[sqlite3.Connection]) -> None:
    cache = ReplayCache(per_tenant=10, window_s=WINDOW)
    first = Counting()
    key = ("1000", signature(1))
    await cache.answer("t", key, 1000, 1000, first)
    cache.close()
    with pytest.raises(sqlite3.ProgrammingError):  # closed: SQLite has removed the temporary database
        opened[0].execute("SELECT 1")
    assert len(cache) == 0
    assert (await cache.answer("t", key, 1000, 1001, first))[1] is False
    cache.close()
    cache.close()  # twice: no error


async def test_the_app_answers_replays_and_closes_the_cache_at_shutdown(monkeypatch: pytest.MonkeyPatch) -> None:
    closed: list[ReplayCache] = []
    real_close = ReplayCache.close

    def close(self: ReplayCache) -> None:
        closed.append(self)
        real_close(self)

    monkeypatch.setattr(ReplayCache, "close", close)
    app = build_app(settings=IngestSettings(topic_prefix="t."), log=FakeEventLog(), tenants=TENANTS, clock=lambda: NOW)
    body = body_of(ORDER)
    async with app.router.lifespan_context(app):
        await app.state.service.prepare()
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://ingest") as client:
            first = await client.post("/v1/tenants/acme/orders", content=body, headers=headers(body))
            again = await client.post("/v1/tenants/acme/orders", content=body, headers=headers(body))
        assert closed == []
    assert again.json() == {**first.json(), "replayed": True}
    assert len(closed) == 1
