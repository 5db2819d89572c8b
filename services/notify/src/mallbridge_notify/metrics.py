"""Prometheus metrics of one notifier process (a private registry, so tests can run several)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mallbridge_schema.serde import OPERATOR_EVENTS_TOPIC


class NotifyMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.events_read = Counter("mallbridge_notify_events_read", "Sync-events records read", ["lane"], registry=r)
        self.unreadable = Counter(
            "mallbridge_notify_events_unreadable",
            "Sync-events records skipped: unknown event type or not a valid event",
            ["lane", "kind"],
            registry=r,
        )
        # operator-events on their own counters: the sync-events ones keep their meaning and labels
        self.operator_events_read = Counter(
            "mallbridge_notify_operator_events_read", "Operator-events records read", ["lane"], registry=r
        )
        self.operator_unreadable = Counter(
            "mallbridge_notify_operator_events_unreadable",
            "Operator-events records skipped: unknown event type or not a valid event",
            ["lane", "kind"],
            registry=r,
        )
        self.queued = Counter(
            "mallbridge_notify_alerts_queued", "Alerts owed (in the ledger)", ["tenant", "channel", "kind"], registry=r
        )
        self.delivered = Counter(
            "mallbridge_notify_alerts_delivered", "Alerts the receiver accepted", ["tenant", "channel"], registry=r
        )
        self.failures = Counter(
            "mallbridge_notify_delivery_failures",
            "Failed delivery attempts (retried)",
            ["tenant", "channel"],
            registry=r,
        )
        self.skipped = Counter(
            "mallbridge_notify_alerts_skipped",
            "Alerts not sent: duplicate, stale, unknown_tenant or no_target",
            ["reason"],
            registry=r,
        )
        self.pending = Gauge(
            "mallbridge_notify_alerts_pending", "Alerts owed and not yet delivered", ["tenant", "channel"], registry=r
        )
        self.latency = Histogram(
            "mallbridge_notify_alert_latency_seconds",
            "From the alert's source event being written to the receiver accepting the alert",
            ["channel"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
            registry=r,
        )

    def read_counters(self, topic: str) -> tuple[Counter, Counter]:
        """The (records read, records unreadable) counters of `topic` (`operator-events.v1`, else sync-events)."""
        if topic == OPERATOR_EVENTS_TOPIC:
            return self.operator_events_read, self.operator_unreadable
        return self.events_read, self.unreadable
