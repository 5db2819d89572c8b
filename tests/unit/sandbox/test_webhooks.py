"""The webhook state on its own (a fake monotonic clock, no HTTP): queueing, coalescing, the interval,
the id cap, pause and deliver-now, no retry, the last 60 results, reset."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from mallbridge_sandbox.clock import ManualClock
from mallbridge_sandbox.webhook_delivery import describe_error
from mallbridge_sandbox.webhooks import Delivery, Webhooks, WebhookSettings, check_webhook_url, mask_url

URL = "http://127.0.0.1:9/v1/tenants/acme/mall-webhook/tok-secret"


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def ticks() -> Ticks:
    return Ticks()


@pytest.fixture
def hooks(ticks: Ticks) -> Webhooks:
    hooks = Webhooks(clock=ManualClock(datetime(2026, 11, 20, 9, tzinfo=UTC)), default_interval_s=60, monotonic=ticks)
    hooks.configure("acme", WebhookSettings(URL))
    return hooks


def ok(hooks: Webhooks, delivery: Delivery, status: int = 200) -> None:
    hooks.record(delivery, status=status, error=None, duration_ms=1.0)


def test_ids_are_queued_once_each_in_order_of_first_change(hooks: Webhooks) -> None:
    for order_id in ("3", "1", "3", "2", "1"):
        hooks.changed("acme", order_id)
    (delivery,), _ = hooks.take_due()
    assert delivery.ids == ("3", "1", "2")
    assert hooks.take_due() == ([], None)  # in flight: nothing more, and nothing waiting


def test_a_partner_without_a_webhook_queues_nothing(hooks: Webhooks) -> None:
    hooks.changed("globex", "1")
    assert hooks.take_due() == ([], None)
    assert hooks.view("globex") is None


def test_the_next_delivery_starts_the_interval_after_the_last_one_ended(hooks: Webhooks, ticks: Ticks) -> None:
    hooks.changed("acme", "1")
    (first,), _ = hooks.take_due()
    ticks.now += 5  # a slow receiver: the interval counts from here
    ok(hooks, first)
    ticks.now += 10
    hooks.changed("acme", "2")
    hooks.changed("acme", "3")
    due, wait = hooks.take_due()
    assert due == []
    assert wait == pytest.approx(50)
    ticks.now += 50
    (second,), _ = hooks.take_due()
    assert second.ids == ("2", "3")  # coalesced


def test_an_interval_of_its_own_wins_over_the_default(hooks: Webhooks, ticks: Ticks) -> None:
    hooks.configure("acme", WebhookSettings(URL, interval_s=0.2))
    hooks.changed("acme", "1")
    (first,), _ = hooks.take_due()
    ok(hooks, first)
    hooks.changed("acme", "2")
    assert hooks.take_due()[1] == pytest.approx(0.2)
    ticks.now += 0.2
    assert len(hooks.take_due()[0]) == 1


def test_at_most_max_ids_per_delivery_the_rest_waits_for_the_next(hooks: Webhooks, ticks: Ticks) -> None:
    hooks.configure("acme", WebhookSettings(URL, max_ids=2))
    for order_id in ("1", "2", "3"):
        hooks.changed("acme", order_id)
    (first,), _ = hooks.take_due()
    ok(hooks, first)
    ticks.now += 60
    (second,), _ = hooks.take_due()
    assert (first.ids, second.ids) == (("1", "2"), ("3",))


def test_a_failed_delivery_is_recorded_and_its_ids_are_gone(hooks: Webhooks, ticks: Ticks) -> None:
    hooks.changed("acme", "1")
    (failed,), _ = hooks.take_due()
    hooks.record(failed, status=None, error="ConnectError: refused", duration_ms=2.0)
    ticks.now += 600
    assert hooks.take_due() == ([], None)  # no retry
    view = hooks.view("acme")
    assert view is not None
    (result,) = view["deliveries"]
    assert (result["ids"], result["status"], result["ok"]) == ([1], None, False)
    assert result["error"] == "ConnectError: refused"
    assert result["time"] == "2026-11-20T09:00:00.000+00:00"


def test_paused_queues_and_deliver_now_sends_at_once(hooks: Webhooks, ticks: Ticks) -> None:
    hooks.set_paused("acme", True)
    hooks.changed("acme", "1")
    assert hooks.take_due() == ([], None)
    future = hooks.deliver_now("acme")
    assert future is not None
    (forced,), _ = hooks.take_due()
    assert not future.done()
    ok(hooks, forced, 202)
    result = future.result(timeout=0)
    assert result is not None
    assert (result.ids, result.status, result.ok) == ([1], 202, True)
    empty = hooks.deliver_now("acme")
    assert empty is not None
    assert empty.result(timeout=0) is None  # nothing was waiting
    assert hooks.deliver_now("globex") is None  # no webhook


def test_the_last_60_results_are_kept(hooks: Webhooks, ticks: Ticks) -> None:
    for n in range(65):
        hooks.changed("acme", str(n + 1))
        ticks.now += 60
        (delivery,), _ = hooks.take_due()
        ok(hooks, delivery)
    view = hooks.view("acme")
    assert view is not None
    assert [r["ids"] for r in view["deliveries"]] == [[n] for n in range(6, 66)]


def test_reset_forgets_queues_results_and_deliveries_in_flight(hooks: Webhooks) -> None:
    hooks.changed("acme", "1")
    (in_flight,), _ = hooks.take_due()
    hooks.changed("acme", "2")
    hooks.reset({"acme": WebhookSettings(URL)})
    ok(hooks, in_flight)  # arrives after the reset: not recorded
    view = hooks.view("acme")
    assert view is not None
    assert (view["queued"], view["deliveries"], view["in_flight"]) == ([], [], False)


def test_the_url_is_shown_without_its_path(hooks: Webhooks) -> None:
    assert mask_url(URL) == "http://127.0.0.1:9/***"
    assert "tok-secret" not in str(hooks.view("acme"))
    assert "tok-secret" not in repr(WebhookSettings(URL))


@pytest.mark.parametrize("url", ["ftp://h/x", "http://", "/relative", "http://h:port/x", "http://h/a b", ""])
def test_only_absolute_http_urls(url: str) -> None:
    with pytest.raises(ValueError, match="absolute http"):
        check_webhook_url(url)


def test_delivery_errors_never_carry_the_url() -> None:
    error = describe_error(ValueError(f"cannot reach {URL} (path /v1/tenants/acme/mall-webhook/tok-secret)"), URL)
    assert "tok-secret" not in error
    assert error.startswith("ValueError: cannot reach ***")
    assert describe_error(TimeoutError(), "http://h/") == "TimeoutError"


def test_deliver_now_during_a_delivery_answers_with_the_next_one(hooks: Webhooks, ticks: Ticks) -> None:
    hooks.changed("acme", "1")
    (in_flight,), _ = hooks.take_due()
    hooks.changed("acme", "2")
    future = hooks.deliver_now("acme")
    assert future is not None
    assert hooks.take_due() == ([], None)  # one at a time
    ok(hooks, in_flight)
    assert not future.done()  # that was not the delivery asked for
    (forced,), _ = hooks.take_due()  # forced: no interval wait after the one that just ended
    assert forced.ids == ("2",)
    ok(hooks, forced)
    result = future.result(timeout=0)
    assert result is not None
    assert result.ids == [2]
