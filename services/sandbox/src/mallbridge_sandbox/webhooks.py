"""MALL's webhook, per partner: where to POST, how often, the ids waiting, and the last 60 results.

MALL (partner portal: the webhook for order statuses): one URL per account; it POSTs a JSON array of
changed order ids (JSON numbers, new orders included), at most once a minute, and does not retry; the portal
shows the last 60 delivery results.
The sandbox does the same. While a partner has a URL, every change MALL makes queues the order's id (once,
in the order of first change). A delivery takes the waiting ids out of the queue, so whatever happens to
the POST they are gone, as at MALL. One delivery at a time per partner, and the next starts no sooner than
`interval_s` after the previous one ended (real time, not the sandbox's clock), so the receiver too never
sees two closer together than that.

This module is the thread-safe state; the HTTP part runs in webhook_delivery.py and calls back here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import urlsplit

from mallbridge_sandbox.clock import Clock

DEFAULT_INTERVAL_S = 60.0
DEFAULT_TIMEOUT_S = 10.0
# Our choice: MALL documents no cap; mallbridge's receiver takes up to 1000 ids, so more wait for the next one.
DEFAULT_MAX_IDS = 1000
RESULTS_KEPT = 60


def mask_url(url: str) -> str:
    """The URL as admin views show it: scheme, host and port only (the path carries the receiver's token)."""
    parts = urlsplit(url)
    port = f":{parts.port}" if parts.port else ""
    return f"{parts.scheme}://{parts.hostname}{port}/***"


def check_webhook_url(url: str) -> str:
    """An absolute http(s) URL, or ValueError (whose message never carries the URL, a secret)."""
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname) and (parts.port or 0) >= 0
    except ValueError:  # e.g. a port that is not a number
        valid = False
    if not valid or any(ch.isspace() for ch in url):
        raise ValueError("webhook url must be an absolute http(s) URL, e.g. https://host/path")
    return url


@dataclass(frozen=True)
class WebhookSettings:
    url: str = field(repr=False)
    interval_s: float | None = None  # None: the sandbox's default (--webhook-interval)
    timeout_s: float = DEFAULT_TIMEOUT_S
    max_ids: int = DEFAULT_MAX_IDS


@dataclass(frozen=True)
class Delivery:
    """One POST to make. Its ids have left the queue already."""

    partner: str
    url: str = field(repr=False)
    ids: tuple[str, ...]
    timeout_s: float
    generation: int


@dataclass(frozen=True)
class DeliveryResult:
    seq: int
    time: str
    ids: list[int]
    status: int | None  # the receiver's HTTP status; None when no answer came (error says why)
    error: str | None
    duration_ms: float

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "ok": self.ok}


@dataclass
class _Hook:
    settings: WebhookSettings
    paused: bool = False
    queued: dict[str, None] = field(default_factory=dict)
    last_end: float | None = None
    in_flight: bool = False
    forced: list[Future[DeliveryResult | None]] = field(default_factory=list)  # deliver-now, not yet started
    answering: list[Future[DeliveryResult | None]] = field(default_factory=list)  # ... waiting on the one in flight
    results: deque[DeliveryResult] = field(default_factory=lambda: deque(maxlen=RESULTS_KEPT))


class Webhooks:
    """Per-partner webhook state. `on_change` is called (outside the lock) when a delivery may have become due."""

    def __init__(
        self,
        *,
        clock: Clock,
        default_interval_s: float = DEFAULT_INTERVAL_S,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._hooks: dict[str, _Hook] = {}
        self._generation = 0
        self._seq = 0
        self.default_interval_s = default_interval_s
        self.on_change: Callable[[], None] = lambda: None

    def reset(self, initial: Mapping[str, WebhookSettings]) -> None:
        """Back to the start: the initial URLs, nothing queued, no results; deliveries in flight are forgotten."""
        with self._lock:
            self._generation += 1
            for hook in self._hooks.values():
                self._resolve(hook, None)
            self._hooks = {name: _Hook(settings) for name, settings in initial.items()}
        self.on_change()

    def configure(self, partner: str, settings: WebhookSettings) -> None:
        """Set or replace the partner's URL and timing; ids already waiting stay queued."""
        with self._lock:
            hook = self._hooks.get(partner)
            if hook is None:
                self._hooks[partner] = _Hook(settings)
            else:
                hook.settings = settings
        self.on_change()

    def remove(self, partner: str) -> bool:
        """No URL any more: nothing is queued or sent for the partner (as at MALL without a webhook)."""
        with self._lock:
            hook = self._hooks.pop(partner, None)
            if hook is not None:
                self._resolve(hook, None)
        return hook is not None

    def changed(self, partner: str, order_id: str) -> None:
        """MALL changed (or created) the order: queue its id, if the partner has a webhook."""
        with self._lock:
            hook = self._hooks.get(partner)
            if hook is None or order_id in hook.queued:
                return
            hook.queued[order_id] = None
            first = len(hook.queued) == 1
        if first:
            self.on_change()

    def set_paused(self, partner: str, paused: bool) -> bool:
        with self._lock:
            hook = self._hooks.get(partner)
            if hook is not None:
                hook.paused = paused
        self.on_change()
        return hook is not None

    def deliver_now(self, partner: str) -> Future[DeliveryResult | None] | None:
        """Send the waiting ids at once, paused or not, interval or not; the future gets the result.

        None when the partner has no webhook; the future holds None at once when no id is waiting.
        """
        future: Future[DeliveryResult | None] = Future()
        with self._lock:
            hook = self._hooks.get(partner)
            if hook is None:
                return None
            if not hook.queued:
                future.set_result(None)
                return future
            hook.forced.append(future)
        self.on_change()
        return future

    def take_due(self) -> tuple[list[Delivery], float | None]:
        """The deliveries to start now (their ids leave the queue), and the seconds until the next is due."""
        now = self._monotonic()
        due: list[Delivery] = []
        wait: float | None = None
        with self._lock:
            for partner, hook in self._hooks.items():
                if hook.in_flight or not hook.queued or (hook.paused and not hook.forced):
                    continue
                interval = self.interval_of(hook.settings)
                left = 0.0 if hook.forced or hook.last_end is None else hook.last_end + interval - now
                if left > 0:
                    wait = left if wait is None else min(wait, left)
                    continue
                due.append(self._start(partner, hook))
        return due, wait

    def _start(self, partner: str, hook: _Hook) -> Delivery:
        ids = tuple(list(hook.queued)[: hook.settings.max_ids])
        for order_id in ids:
            del hook.queued[order_id]
        hook.in_flight = True
        hook.answering, hook.forced = hook.forced, []
        return Delivery(partner, hook.settings.url, ids, hook.settings.timeout_s, self._generation)

    def record(self, delivery: Delivery, *, status: int | None, error: str | None, duration_ms: float) -> None:
        """The outcome of a delivery: kept among the partner's last 60, given to any deliver-now waiter."""
        with self._lock:
            hook = self._hooks.get(delivery.partner)
            if delivery.generation != self._generation or hook is None:
                return  # reset (or the webhook removed) while it was on its way
            self._seq += 1
            at = self._clock().astimezone(UTC).isoformat(timespec="milliseconds")
            ids = [int(i) for i in delivery.ids]
            result = DeliveryResult(self._seq, at, ids, status, error, round(duration_ms, 3))
            hook.results.append(result)
            hook.in_flight, hook.last_end = False, self._monotonic()
            self._answer(hook.answering, result)
            hook.answering = []
        self.on_change()

    @staticmethod
    def _answer(futures: list[Future[DeliveryResult | None]], result: DeliveryResult | None) -> None:
        for future in futures:
            if not future.done():
                future.set_result(result)

    def _resolve(self, hook: _Hook, result: DeliveryResult | None) -> None:
        """Answer every deliver-now waiter of a hook that goes away (reset, removed)."""
        self._answer([*hook.answering, *hook.forced], result)
        hook.answering, hook.forced = [], []

    def interval_of(self, settings: WebhookSettings) -> float:
        return self.default_interval_s if settings.interval_s is None else settings.interval_s

    def has_webhook(self, partner: str) -> bool:
        with self._lock:
            return partner in self._hooks

    def summary(self, partner: str) -> dict[str, Any] | None:
        """The settings and the number of ids waiting (for the partners listing); None without a webhook."""
        view = self.view(partner)
        if view is None:
            return None
        return {**{k: v for k, v in view.items() if k != "deliveries"}, "queued": len(view["queued"])}

    def view(self, partner: str) -> dict[str, Any] | None:
        """What the admin API shows: settings (URL masked), the ids waiting, the last results (oldest first)."""
        with self._lock:
            hook = self._hooks.get(partner)
            if hook is None:
                return None
            settings = hook.settings
            return {
                "url": mask_url(settings.url),
                "interval_s": self.interval_of(settings),
                "timeout_s": settings.timeout_s,
                "max_ids": settings.max_ids,
                "paused": hook.paused,
                "in_flight": hook.in_flight,
                "queued": [int(i) for i in hook.queued],
                "deliveries": [r.as_json() for r in hook.results],
            }
