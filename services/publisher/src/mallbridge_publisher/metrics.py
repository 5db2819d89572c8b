"""Prometheus metrics of one publisher process (a private registry, so tests can run several).

Counters count what happened (most of them follow the sync events recorded: `count_recorded`); the
gauges `open_attention` and `deferred_open` are state, recomputed from the projection (`gauges.py`), and
`unknown_mall_orders` reads the engine's `UnknownOrdersBook` at each scrape.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mallbridge_schema.events import (
    AttentionNeeded,
    MallStateObserved,
    MallStatusUpdated,
    MallUpdateRejected,
    StepDeferred,
    SyncEventBase,
)
from mallbridge_schema.mall_format import request_kind


class PublisherMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._outcome_counters()
        self._mall_side_counters()
        self._state_gauges()
        self.put_latency = Histogram(
            "mallbridge_publisher_put_latency_seconds",
            "MALL PUT latency",
            ["tenant"],
            registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )

    def _counter(self, name: str, doc: str, labels: tuple[str, ...] = ("tenant",)) -> Counter:
        return Counter(f"mallbridge_publisher_{name}", doc, labels, registry=self.registry)

    def _gauge(self, name: str, doc: str, labels: tuple[str, ...] = ("tenant",)) -> Gauge:
        return Gauge(f"mallbridge_publisher_{name}", doc, labels, registry=self.registry)

    def _outcome_counters(self) -> None:
        """What became of the publisher's own steps."""
        counter = self._counter
        self.updates_sent = counter("updates_sent", "PUTs MALL accepted", ("tenant", "status"))
        self.rejected = counter("updates_rejected", "PUTs MALL refused (4xx)")
        self.deferred = counter("steps_deferred", "Steps deferred (missing data)")
        self.attention = counter("attention_raised", "Attention items raised", ("tenant", "code"))
        self.retries = counter(
            "retries",
            "Retried MALL calls (reason: rate_limited, outcome_unknown, read_failed, invalid_answer)",
            ("tenant", "reason"),
        )
        self.withdrawn = counter(
            "updates_withdrawn", "PUTs recorded but not sent: the order changed while they waited, or a stop began"
        )
        self.dead_letters = counter("dead_letters", "Undecodable messages moved aside", ())

    def _mall_side_counters(self) -> None:
        """Reading MALL's side: the GETs, what they recorded, the unconfirmed poll."""
        counter = self._counter
        self.reads = counter("mall_reads", "GETs of MALL orders")
        self.reads_by_source = counter(
            "mall_reads_by_source",
            "GETs of MALL orders by why (outcome_unknown, refusal, resync, webhook, poll)",
            ("tenant", "source"),
        )
        self.observations = counter(
            "observations_recorded",
            "What MALL said, recorded as MallStateObserved, by source (a read on a notice only when new)",
            ("tenant", "source"),
        )
        self.polls = counter(
            "unconfirmed_polls",
            "Rounds of the unconfirmed-queue poll by outcome "
            "(ok, rate_limited, unauthorized, unavailable, invalid_answer, refused)",
            ("tenant", "outcome"),
        )
        self.poll_pages = counter("unconfirmed_poll_pages", "Pages of GET /orders/unconfirmed read by the poll")

    def _state_gauges(self) -> None:
        """State, not history: recomputed from the projection and the tenant gate."""
        gauge = self._gauge
        self.tenant_paused = gauge("tenant_paused", "1 while a tenant is paused (401/403)")
        self.open_attention = gauge(
            "open_attention",
            "Orders needing a person now, by the code of their open attention item",
            ("tenant", "code"),
        )
        self.deferred_open = gauge(
            "deferred_open", "Orders whose next step waits for missing data (tracking, a delivery moment)"
        )
        self.unknown_mall_orders = gauge(
            "unknown_mall_orders",
            "MALL orders open for over an hour that no FastCentrik snapshot had named, as mallbridge balance last "
            "saw them",
        )
        self.budget_remaining = gauge("request_budget_remaining", "MALL requests left today")
        self.lag = gauge("lag", "Order events not yet settled, per partition", ("topic", "partition"))
        self.orders = gauge("orders", "Orders of the partitions this member owns", ("lane",))
        self.orders_in_memory = gauge(
            "orders_in_memory",
            "Of those, the orders whose record is in memory (the rest in a temporary file)",
            ("lane",),
        )


_UPDATE_LABELS = {"confirm": "confirm_only", "tracking": "tracking"}
"""The `status` label of an accepted update that changes no status (else the status it sets)."""


def count_recorded(metrics: PublisherMetrics, event: SyncEventBase) -> None:
    """Count a sync event just recorded in the counters that follow it."""
    tenant = event.tenant_id
    if isinstance(event, MallStatusUpdated):
        status = _UPDATE_LABELS.get(request_kind(event.request)) or event.status.value
        metrics.updates_sent.labels(tenant, status).inc()
        metrics.put_latency.labels(tenant).observe(event.latency_ms / 1000)
    elif isinstance(event, MallUpdateRejected):
        metrics.rejected.labels(tenant).inc()
    elif isinstance(event, StepDeferred):
        metrics.deferred.labels(tenant).inc()
    elif isinstance(event, AttentionNeeded):
        metrics.attention.labels(tenant, event.code).inc()
    elif isinstance(event, MallStateObserved):
        metrics.observations.labels(tenant, event.source).inc()
