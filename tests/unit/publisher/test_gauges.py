"""The state gauges: open attention per tenant and code, deferred orders per tenant, from the projection."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from mallbridge_core.domain.operator_side import OperatorSide
from mallbridge_core.domain.projection import Deferral, FastCentrikSide, MallSide, OrderState
from mallbridge_publisher.gauges import StateGauges, marks_of
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus

S, F = MallStatus, FastCentrikStatus
WAIT = Deferral(S.SHIPPED, "waiting for the tracking number")


def order(
    fc: FastCentrikStatus = F.SETTLED, mall: MallSide | None = None, *, tenant: str = "acme", mdp: bool = False
) -> OrderState:
    return OrderState(tenant, "A-1", "1", FastCentrikSide(seq=1, status=fc, mdp=mdp), mall or MallSide())


def attention(metrics: PublisherMetrics, tenant: str, code: str) -> float | None:
    return metrics.registry.get_sample_value("mallbridge_publisher_open_attention", {"tenant": tenant, "code": code})


def deferred(metrics: PublisherMetrics, tenant: str) -> float | None:
    return metrics.registry.get_sample_value("mallbridge_publisher_deferred_open", {"tenant": tenant})


def test_marks_follow_the_audit_s_reading_of_an_order() -> None:
    assert marks_of(order(mall=MallSide(attention_code="backwards", deferral=WAIT))) == ("backwards", False)
    assert marks_of(order(mall=MallSide(deferral=WAIT))) == (None, True)  # settled, MALL open, waiting
    assert marks_of(order(mall=MallSide())) == (None, False)
    assert marks_of(order(F.PENDING, MallSide(deferral=WAIT))) == (None, False)  # nothing to send any more
    mdp_wait = MallSide(status=S.SHIPPED, deferral=Deferral(S.DELIVERED, "MALL sets it"))
    delivered = FastCentrikSide(seq=1, status=F.SETTLED, delivered_at="2026-03-01", mdp=True)
    assert marks_of(OrderState("acme", "A-1", "1", delivered, mdp_wait)) == (None, False)  # MALL's own job


def test_an_acknowledged_attention_item_is_not_open_until_a_newer_one_is_raised() -> None:
    raised = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    acked = OperatorSide(acks=(("backwards", raised + timedelta(minutes=5)),))
    fc = FastCentrikSide(seq=1, status=F.SETTLED)
    item = MallSide(attention_code="backwards", attention_at=raised)
    assert marks_of(OrderState("acme", "A-1", "1", fc, item, acked)) == (None, False)
    newer = MallSide(attention_code="backwards", attention_at=raised + timedelta(hours=1))
    assert marks_of(OrderState("acme", "A-1", "1", fc, newer, acked)) == ("backwards", False)


def test_the_gauges_count_changes_and_drop_an_order_that_leaves() -> None:
    metrics = PublisherMetrics()
    gauges = StateGauges(metrics, ["acme", "beta"])
    assert deferred(metrics, "acme") == 0
    assert deferred(metrics, "beta") == 0
    gauges.update(("acme", "A-1"), order(mall=MallSide(deferral=WAIT)))
    gauges.update(("acme", "A-2"), order(mall=MallSide(attention_code="backwards")))
    gauges.update(("acme", "A-3"), order(mall=MallSide(attention_code="backwards")))
    gauges.update(("beta", "B-1"), order(tenant="beta", mall=MallSide(attention_code="mall_final")))
    assert (deferred(metrics, "acme"), attention(metrics, "acme", "backwards")) == (1, 2)
    assert attention(metrics, "beta", "mall_final") == 1
    gauges.update(("acme", "A-1"), order(mall=MallSide(attention_code="backwards", deferral=WAIT)))
    assert (deferred(metrics, "acme"), attention(metrics, "acme", "backwards")) == (0, 3)
    gauges.update(("acme", "A-2"), order(mall=MallSide()))  # resolved
    gauges.update(("acme", "A-3"), None)  # its partition went to another member
    assert attention(metrics, "acme", "backwards") == 1
    gauges.refresh([(("acme", "A-1"), order(mall=MallSide()))])
    assert attention(metrics, "acme", "backwards") == 0


def test_orders_of_tenants_the_lane_does_not_serve_are_not_counted() -> None:
    metrics = PublisherMetrics()
    gauges = StateGauges(metrics, ["acme"])
    gauges.update(("moved", "M-1"), order(tenant="moved", mall=MallSide(attention_code="backwards")))
    assert attention(metrics, "moved", "backwards") is None
