"""Wait for something to become true, with a deadline, and fail saying what was last seen.

The one way tests wait (instead of ad-hoc `while ...: sleep` loops):

    await eventually(lambda: len(sent()) == 3, what="three PUTs at MALL")    # a predicate
    await eventually(check_statuses)                                         # an assertion function
    rows = await eventually(fetch_rows)                                      # returns the passing result
    eventually_sync(server_ready, timeout=10)                                # from synchronous code
    await eventually(lambda: fake.calls == 2, on_loop=True, interval=0.005)  # unit tests on in-memory fakes

A check passes when it returns without raising AssertionError and its result is not falsy; a check that
returns None passes (an assertion function), one that returns False, 0 or an empty collection is tried
again. A check may be a plain function or return an awaitable (an `async def`, or a lambda calling one).
A plain function runs in a worker thread (it may block), unless `on_loop=True`: then it runs on the event
loop, for checks that read in-memory fakes the code under test changes on that loop (not safe from a thread).
Exceptions named in `retry_on` (e.g. `httpx.TransportError` while a server starts) count as "not yet";
any other exception fails at once. On timeout the AssertionError names `what` and carries the last
assertion's message (or the last retried exception, or the last falsy result), chained from it.

A negative ("nothing was sent") is not a job for this helper: wait for a later marker to be processed
instead, then assert the absence.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DEFAULT_TIMEOUT_S = 30.0
DEFAULT_INTERVAL_S = 0.1


class _NotYet(Exception):
    """A check that has not passed yet, with what it showed."""

    def __init__(self, detail: str, cause: BaseException | None = None) -> None:
        super().__init__(detail)
        self.cause = cause


@dataclass
class _Attempts:
    """The deadline and the last failure of one wait (shared by the async and the blocking form)."""

    check: Callable[[], Any]
    timeout: float
    what: str | None
    retry_on: tuple[type[BaseException], ...]
    tries: int = 0
    last: _NotYet | None = None

    def __post_init__(self) -> None:
        self.deadline = time.monotonic() + self.timeout

    def judge(self, result: Any, error: BaseException | None) -> bool:
        """Whether one try passed; a failure is kept for the message. Unexpected exceptions propagate."""
        self.tries += 1
        if isinstance(error, AssertionError):
            self.last = _NotYet(str(error) or type(error).__name__, error)
            return False
        if error is not None and isinstance(error, self.retry_on):
            self.last = _NotYet(f"{type(error).__name__}: {error}", error)
            return False
        if error is not None:
            raise error
        if result is None or result:
            return True
        self.last = _NotYet(f"the check returned {result!r}")
        return False

    def expired(self) -> bool:
        return time.monotonic() >= self.deadline

    def failure(self) -> AssertionError:
        name = self.what or getattr(self.check, "__qualname__", repr(self.check))
        detail = self.last.args[0] if self.last else "never ran"
        error = AssertionError(f"{name}: not true within {self.timeout:g} s ({self.tries} tries); last: {detail}")
        error.__cause__ = self.last.cause if self.last else None
        return error


async def eventually(
    check: Callable[[], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = DEFAULT_INTERVAL_S,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
    on_loop: bool = False,
) -> Any:
    """Call `check` every `interval` seconds until it passes; return its result, or raise AssertionError.

    A plain function runs in a worker thread, so it may block (a synchronous HTTP call to a server that runs
    on this event loop would otherwise deadlock); with `on_loop=True` it is called on the loop instead (it
    must not block). What it returns, if awaitable, is awaited on the loop.
    """
    attempts = _Attempts(check, timeout, what, retry_on)
    in_thread = not on_loop and not inspect.iscoroutinefunction(check)
    while True:
        result, error = None, None
        try:
            result = await asyncio.to_thread(check) if in_thread else check()
            if inspect.isawaitable(result):
                result = await result
        except Exception as exc:  # judged like any other outcome: "not yet", or raised again
            error = exc
        if attempts.judge(result, error):
            return result
        if attempts.expired():
            raise attempts.failure()
        await asyncio.sleep(interval)


def eventually_sync(
    check: Callable[[], Any],
    *,
    timeout: float = DEFAULT_TIMEOUT_S,
    interval: float = DEFAULT_INTERVAL_S,
    what: str | None = None,
    retry_on: tuple[type[BaseException], ...] = (),
) -> Any:
    """`eventually` for synchronous code (no event loop): `check` must be a plain function."""
    attempts = _Attempts(check, timeout, what, retry_on)
    while True:
        result, error = None, None
        try:
            result = check()
        except Exception as exc:  # judged like any other outcome: "not yet", or raised again
            error = exc
        if attempts.judge(result, error):
            return result
        if attempts.expired():
            raise attempts.failure()
        time.sleep(interval)
