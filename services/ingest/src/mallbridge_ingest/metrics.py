"""Prometheus metrics of one ingest app, on its own registry (several apps can live in one process)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 15.0)
UNKNOWN_TENANT = "_unknown"  # label for requests naming no configured tenant (keeps label cardinality bounded)


class IngestMetrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._snapshot_counters(self.registry)
        self._request_metrics(self.registry)
        self._state_gauges(self.registry)

    def _snapshot_counters(self, r: CollectorRegistry) -> None:
        self.accepted = Counter(
            "mallbridge_ingest_snapshots_accepted",
            "Snapshots accepted (written or unchanged)",
            ["tenant", "source"],
            registry=r,
        )
        self.changed = Counter(
            "mallbridge_ingest_snapshots_changed",
            "Accepted snapshots that produced events",
            ["tenant", "source"],
            registry=r,
        )
        self.unchanged = Counter(
            "mallbridge_ingest_snapshots_unchanged",
            "Accepted snapshots with nothing new",
            ["tenant", "source"],
            registry=r,
        )
        self.stale = Counter(
            "mallbridge_ingest_snapshots_stale",
            "Accepted snapshots older than the newest changed_at already applied to their order: changed nothing",
            ["tenant", "source"],
            registry=r,
        )
        self.snapshots_rejected = Counter(
            "mallbridge_ingest_snapshots_rejected", "Snapshots refused as invalid", ["tenant", "source"], registry=r
        )
        self.events = Counter(
            "mallbridge_ingest_events_written", "Order events acknowledged by the log", ["tenant", "type"], registry=r
        )

    def _request_metrics(self, r: CollectorRegistry) -> None:
        self.requests_rejected = Counter(
            "mallbridge_ingest_requests_rejected",
            "Pushes and polls refused, by reason (signature, size, validation, log_unavailable, not_ready, ...)",
            ["tenant", "source", "reason"],
            registry=r,
        )
        self.replayed = Counter(
            "mallbridge_ingest_pushes_replayed",
            "Signed pushes received again (same timestamp and signature): answered as the first, nothing written",
            ["tenant"],
            registry=r,
        )
        self.push_latency = Histogram(
            "mallbridge_ingest_push_duration_seconds",
            "Push request handling time",
            ["tenant", "code"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.polls = Counter("mallbridge_ingest_polls", "Export polls by outcome", ["tenant", "outcome"], registry=r)

    def _state_gauges(self, r: CollectorRegistry) -> None:
        self.known_orders = Gauge("mallbridge_ingest_known_orders", "Orders with a last known state", registry=r)
        self.orders_in_memory = Gauge(
            "mallbridge_ingest_known_orders_in_memory",
            "Last known states held in memory (the others wait on disk, MALLBRIDGE_INGEST_HOT_ORDERS)",
            registry=r,
        )
        self.rebuild_seconds = Gauge(
            "mallbridge_ingest_rebuild_seconds", "Time the last state rebuild took", registry=r
        )
        self.rebuild_events = Gauge(
            "mallbridge_ingest_rebuild_events", "Events folded by the last state rebuild", registry=r
        )
        self.ready = Gauge("mallbridge_ingest_ready", "1 when the state is rebuilt and pushes are served", registry=r)
        self.shared_mall_ids = Gauge(
            "mallbridge_ingest_shared_mall_ids",
            "MALL order ids that more than one FastCentrik order names (both orders' statuses go to that MALL order)",
            ["tenant"],
            registry=r,
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
