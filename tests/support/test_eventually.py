"""The waiting helper itself: it returns what passed, and a timeout says what was last seen."""

from __future__ import annotations

import re
import threading

import pytest

from tests.support.eventually import eventually, eventually_sync


class Counter:
    def __init__(self, passes_at: int) -> None:
        self.calls = 0
        self.passes_at = passes_at

    def predicate(self) -> bool:
        self.calls += 1
        return self.calls >= self.passes_at

    def assertion(self) -> None:
        self.calls += 1
        assert self.calls >= self.passes_at, f"only {self.calls} calls"

    async def rows(self) -> list[int]:
        self.calls += 1
        return list(range(self.calls)) if self.calls >= self.passes_at else []


async def test_a_predicate_is_polled_until_true() -> None:
    counter = Counter(passes_at=3)
    assert await eventually(counter.predicate, interval=0.001) is True
    assert counter.calls == 3


async def test_an_assertion_function_passes_once_it_stops_raising() -> None:
    counter = Counter(passes_at=4)
    assert await eventually(counter.assertion, interval=0.001) is None
    assert counter.calls == 4


async def test_an_async_check_is_awaited_and_its_result_returned() -> None:
    counter = Counter(passes_at=2)
    assert await eventually(counter.rows, interval=0.001) == [0, 1]
    assert await eventually(lambda: counter.rows(), interval=0.001) == [0, 1, 2]


async def test_a_timeout_names_what_and_carries_the_last_assertion_message() -> None:
    counter = Counter(passes_at=10**9)
    with pytest.raises(AssertionError) as failure:
        await eventually(counter.assertion, timeout=0.05, interval=0.001, what="the PUTs at MALL")
    message = str(failure.value)
    assert message.startswith("the PUTs at MALL: not true within 0.05 s")
    assert re.search(r"; last: only \d+ calls", message), message
    assert isinstance(failure.value.__cause__, AssertionError)


async def test_a_falsy_result_is_shown_when_it_times_out() -> None:
    with pytest.raises(AssertionError, match=r"last: the check returned \[\]"):
        await eventually(list, timeout=0.02, interval=0.001)


async def test_unexpected_exceptions_fail_at_once_and_retry_on_ones_are_waited_out() -> None:
    calls: list[int] = []

    def broken() -> bool:
        calls.append(1)
        raise ConnectionError("refused")

    with pytest.raises(ConnectionError):
        await eventually(broken, timeout=5)
    assert len(calls) == 1
    with pytest.raises(AssertionError, match="last: ConnectionError: refused"):
        await eventually(broken, timeout=0.02, interval=0.001, retry_on=(ConnectionError,))
    assert len(calls) > 2


async def test_a_plain_check_runs_in_a_worker_thread_unless_asked_to_run_on_the_loop() -> None:
    threads: list[threading.Thread] = []

    def where() -> bool:
        threads.append(threading.current_thread())
        return True

    await eventually(where)
    await eventually(where, on_loop=True)
    assert threads[0] is not threading.main_thread()
    assert threads[1] is threading.main_thread()


def test_the_blocking_form_behaves_the_same() -> None:
    counter = Counter(passes_at=3)
    assert eventually_sync(counter.predicate, interval=0.001) is True
    with pytest.raises(AssertionError, match=r"Counter\.assertion: not true within .* last: only \d+ calls"):
        eventually_sync(Counter(passes_at=10**9).assertion, timeout=0.02, interval=0.001)
