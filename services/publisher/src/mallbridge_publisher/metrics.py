"""Prometheus metrics of one publisher process (a private registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class PublisherMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.updates_sent = Counter(
            "mallbridge_publisher_updates_sent", "PUTs MALL accepted", ["tenant", "status"], registry=r
        )
        self.rejected = Counter(
            "mallbridge_publisher_updates_rejected", "PUTs MALL refused (4xx)", ["tenant"], registry=r
        )
        self.deferred = Counter(
            "mallbridge_publisher_steps_deferred", "Steps deferred (missing data)", ["tenant"], registry=r
        )
        self.attention = Counter(
            "mallbridge_publisher_attention_raised", "Attention items raised", ["tenant", "code"], registry=r
        )
        self.retries = Counter("mallbridge_publisher_retries", "Retried MALL calls", ["tenant", "reason"], registry=r)
        self.reads = Counter(
            "mallbridge_publisher_mall_reads", "GETs of MALL orders (after unknown outcomes)", ["tenant"], registry=r
        )
        self.dead_letters = Counter("mallbridge_publisher_dead_letters", "Undecodable messages moved aside", registry=r)
        self.tenant_paused = Gauge(
            "mallbridge_publisher_tenant_paused", "1 while a tenant is paused (401/403)", ["tenant"], registry=r
        )
        self.open_attention = Gauge(
            "mallbridge_publisher_open_attention", "Orders needing a person now", ["tenant"], registry=r
        )
        self.budget_remaining = Gauge(
            "mallbridge_publisher_request_budget_remaining", "MALL requests left today", ["tenant"], registry=r
        )
        self.lag = Gauge(
            "mallbridge_publisher_lag",
            "Order events not yet settled, per partition",
            ["topic", "partition"],
            registry=r,
        )
        self.put_latency = Histogram(
            "mallbridge_publisher_put_latency_seconds",
            "MALL PUT latency",
            ["tenant"],
            registry=r,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
        )
