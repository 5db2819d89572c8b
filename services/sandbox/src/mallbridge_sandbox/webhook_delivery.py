"""Webhook delivery: a thread of its own with an asyncio loop and one httpx client, POSTing what is due.

A thread, not the server's loop, because the in-process server runs without a lifespan and the state is
changed from other threads too (tests, the demo); and so a slow or dead receiver never holds up the API.
Each partner has at most one POST in flight; partners do not wait for each other. No retry: the outcome,
an HTTP status or the error, is recorded and the ids are gone (webhooks.py). The thread starts when the
first delivery may be due and stops with `stop()` (SandboxServer.stop does it).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time

import httpx

from mallbridge_sandbox.webhooks import Delivery, Webhooks

logger = logging.getLogger("mallbridge.sandbox.webhook")
USER_AGENT = "mallbridge-sandbox-webhook"


def describe_error(exc: BaseException, url: str) -> str:
    """The error as the results show it, without the URL (its path carries the receiver's token)."""
    text = f"{type(exc).__name__}: {exc}".rstrip(": ")
    path = httpx.URL(url).path
    text = text.replace(url, "***")
    return text.replace(path, "/***") if len(path) > 1 else text


class _Runner:
    """One run of the delivery thread: its loop, its wake-up event and its own stop flag."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.wake = asyncio.Event()  # bound to `loop` on first wait (Python >= 3.10)
        self.stopping = False

    def poke(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop closed in between: nothing left to wake
            self.loop.call_soon_threadsafe(self.wake.set)


class WebhookDispatcher:
    def __init__(self, hooks: Webhooks) -> None:
        self._hooks = hooks
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._runner: _Runner | None = None

    def wake(self) -> None:
        """Something changed: look again at what is due (starts the thread on first use). Thread-safe."""
        with self._lock:
            if self._runner is None:
                self._runner = _Runner()
                self._thread = threading.Thread(
                    target=self._main, args=(self._runner,), name="mallbridge-sandbox-webhook", daemon=True
                )
                self._thread.start()
            runner = self._runner
        runner.poke()

    def _main(self, runner: _Runner) -> None:
        try:
            runner.loop.run_until_complete(self._run(runner))
        finally:
            runner.loop.close()

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (a delivery in flight is cut and recorded as cancelled). It restarts on the next wake."""
        with self._lock:
            thread, runner = self._thread, self._runner
            self._thread = self._runner = None
        if thread is None or runner is None:
            return
        runner.stopping = True
        runner.poke()
        thread.join(timeout)

    async def _run(self, runner: _Runner) -> None:
        tasks: set[asyncio.Task[None]] = set()
        async with httpx.AsyncClient(headers={"user-agent": USER_AGENT}) as client:
            while not runner.stopping:
                runner.wake.clear()  # before take_due: a wake during it is seen on the next turn
                due, wait = self._hooks.take_due()
                for delivery in due:
                    task = asyncio.create_task(self._deliver(client, delivery))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(runner.wake.wait(), wait)
            for task in list(tasks):
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _deliver(self, client: httpx.AsyncClient, delivery: Delivery) -> None:
        body = json.dumps([int(i) for i in delivery.ids]).encode()  # JSON numbers, as MALL sends them
        started = time.perf_counter()
        status: int | None = None
        error: str | None = None
        try:
            async with asyncio.timeout(delivery.timeout_s):  # the whole exchange, not each phase apart
                response = await client.post(
                    delivery.url,
                    content=body,
                    headers={"content-type": "application/json"},
                    timeout=delivery.timeout_s,
                )
            status = response.status_code
        except TimeoutError:
            error = f"Timeout: no answer within {delivery.timeout_s:g} s"
        except asyncio.CancelledError:
            # stop(): the POST was cut; record it so the partner's webhook is not left "in flight" for good
            self._hooks.record(delivery, status=None, error="cancelled: the sandbox stopped", duration_ms=0.0)
            raise
        except Exception as exc:  # any failure is an outcome to record, never a crash of the loop
            error = describe_error(exc, delivery.url)
        duration_ms = (time.perf_counter() - started) * 1000
        self._hooks.record(delivery, status=status, error=error, duration_ms=duration_ms)
        logger.debug(
            "webhook delivery",
            extra={"partner": delivery.partner, "ids": len(delivery.ids), "status": status, "error": error},
        )
