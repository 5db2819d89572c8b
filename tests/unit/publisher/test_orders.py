"""The order book holds what the projection folds, and keeps what it answers without reading every order (the
SLA cohorts, the MALL ids, the orders FastCentrik named, each partition's orders) in step with every change,
whether its records are all in memory or mostly in its temporary file; the console's tenants page shows
the figures a pass over every order gives.

Random logs of the three topics (the audit's parity strategies: repeated, out-of-order and unknown events
included), each order in one partition, folded live; the expectations are recomputed from scratch."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mallbridge_core.domain.projection import OrderState, apply, fold
from mallbridge_core.domain.sla import Cohort, SlaTally, daily_figures, last_days
from mallbridge_publisher.console.pages import CHART_DAYS, _charts, tenant_cards
from mallbridge_publisher.gauges import StateGauges, marks_of
from mallbridge_publisher.metrics import PublisherMetrics
from mallbridge_publisher.orders import Key, OrderBook, key_of
from mallbridge_publisher.sla_marks import NO_MARKS, SlaMarks, cohort_of, noted, opened_on, order_part
from mallbridge_schema.events import Event
from tests.unit.audit.parity_log import SETTINGS, TENANTS, operator_events, order_events, sync_events
from tests.unit.domain.builders import TENANT, first_seen, mdp_set, observed, requested, updated

EVENTS = st.one_of(order_events(), sync_events(), operator_events()).filter(
    lambda e: isinstance(e, Event) and bool(e.order_number)
)
LOGS = st.lists(st.tuples(EVENTS, st.integers(0, 2)), max_size=50)
HOT = [0, 1, 3]  # 0: every record in memory; 1 and 3: nearly all in the file


def book_of(hot: int) -> OrderBook:
    return OrderBook(StateGauges(PublisherMetrics(), (*TENANTS, TENANT)), hot_orders=hot)


def folded(log: Iterable[tuple[Event, int]], book: OrderBook) -> dict[Key, int]:
    """Fold `log` live into `book`, each order in the partition its first event came with; the partitions."""
    partition_of: dict[Key, int] = {}
    for event, partition in log:
        book.fold_live(event, partition_of.setdefault(key_of(event), partition))
    return partition_of


def expected_marks(events: list[Event]) -> dict[Key, SlaMarks]:
    marks: dict[Key, SlaMarks] = {}
    for event in events:
        marks[key_of(event)] = noted(marks.get(key_of(event), NO_MARKS), event)
    return marks


def expected_cohorts(states: dict[Key, OrderState], marks: dict[Key, SlaMarks], tenant: str) -> Counter[Cohort]:
    counts: Counter[Cohort] = Counter()
    for key, state in states.items():
        cohort = cohort_of(state, marks[key])
        if key[0] == tenant and cohort is not None:
            counts[cohort] += 1
    return counts


def first_claims(events: list[Event]) -> dict[tuple[str, str], Key]:
    """(tenant, MALL id) -> the order whose state had that MALL id first, as the book's index keeps it."""
    claims: dict[tuple[str, str], Key] = {}
    states: dict[Key, OrderState] = {}
    for event in events:
        key = key_of(event)
        before = states.get(key)
        states[key] = apply(before, event)
        mall_id = states[key].mall_order_id
        if mall_id and (before is None or before.mall_order_id != mall_id):
            claims.setdefault((key[0], mall_id), key)
    return claims


@pytest.mark.parametrize("hot", HOT)
@SETTINGS
@given(log=LOGS)
def test_the_book_keeps_the_projection_and_what_it_answers_in_step(hot: int, log: list[tuple[Event, int]]) -> None:
    book = book_of(hot)
    partition_of = folded(log, book)
    events = [event for event, _ in log]
    states, marks = fold(events), expected_marks(events)
    assert {key: book.state(key) for key in states} == states
    assert len(book) == len(states)
    if hot:
        assert book.in_memory <= hot + max(1, hot // 8)
    for tenant in TENANTS:
        assert Counter(dict(book.sla_cohorts(tenant))) == expected_cohorts(states, marks, tenant)
        named = any(key[0] == tenant and state.fc.status is not None for key, state in states.items())
        assert book.names_orders_of(tenant) is named
    for (tenant, mall_id), key in first_claims(events).items():
        state = states[key]
        found = book.order_of_mall_id(tenant, mall_id)
        assert found == (key if state.fc.status is not None and state.mall_order_id == mall_id else None)
    for partition in (0, 1, 2):
        assert set(book.keys_in({partition})) == {key for key, p in partition_of.items() if p == partition}
    book.close()


@pytest.mark.parametrize("hot", HOT)
@SETTINGS
@given(log=LOGS, revoked=st.sets(st.integers(0, 2), min_size=1))
def test_dropping_partitions_forgets_exactly_their_orders(
    hot: int, log: list[tuple[Event, int]], revoked: set[int]
) -> None:
    book = book_of(hot)
    partition_of = folded(log, book)
    book.drop(revoked, book.keys_in(revoked))
    kept = {key for key, p in partition_of.items() if p not in revoked}
    events = [event for event, _ in log if key_of(event) in kept]
    states, marks = fold(events), expected_marks(events)
    assert {key for key in partition_of if key in book} == kept
    assert {key: book.state(key) for key in kept} == states
    for tenant in TENANTS:
        assert Counter(dict(book.sla_cohorts(tenant))) == expected_cohorts(states, marks, tenant)
        named = any(key[0] == tenant and state.fc.status is not None for key, state in states.items())
        assert book.names_orders_of(tenant) is named
    for key in set(partition_of) - kept:
        state = fold([event for event, _ in log if key_of(event) == key])[key]
        assert book.order_of_mall_id(key[0], state.mall_order_id) != key
    book.close()


@pytest.mark.parametrize("hot", HOT)
@SETTINGS
@given(log=LOGS, today=st.dates(min_value=date(2026, 9, 25), max_value=date(2026, 11, 10)))
def test_the_tenants_page_shows_the_figures_over_every_order(
    hot: int, log: list[tuple[Event, int]], today: date
) -> None:
    """What the console computed before the cohorts, order by order: the overall and 30-day figures, the
    daily charts, the open items and deferred steps."""
    book = book_of(hot)
    folded(log, book)
    events = [event for event, _ in log]
    states, marks = fold(events), expected_marks(events)
    days = last_days(today, CHART_DAYS)
    for card in tenant_cards([book], TENANTS, today=today):
        named = {k: s for k, s in states.items() if k[0] == card.tenant_id and s.fc.status is not None}
        parts = [(opened_on(marks[k]), order_part(s, marks[k])) for k, s in named.items()]
        overall, recent = SlaTally(), SlaTally()
        for opened, part in parts:
            overall.add(part)
            if opened is not None and opened >= days[0]:
                recent.add(part)
        assert (card.overall, card.recent) == (overall.figures(), recent.figures())
        assert card.charts == _charts(daily_figures(parts, days), days)
        found = [marks_of(state) for state in named.values()]
        assert (card.open_attention, card.deferred) == (
            sum(code is not None for code, _ in found),
            sum(deferred for _, deferred in found),
        )
    book.close()


@pytest.mark.parametrize("hot", HOT)
def test_an_order_that_turns_out_to_ship_with_mall_delivery_moves_to_the_tracked_part(hot: int) -> None:
    """Shipped without tracking (MALL's word), then FastCentrik says MALL Delivery: the order counts as
    tracked from then on (MALL's carrier supplies it), so its part in the figures changes with no change
    on MALL's side."""
    book = book_of(hot)
    log = [
        first_seen("settled"),
        observed("shipped", confirmed=True, source="poll", changed=("status",)),
        mdp_set(2, True),
    ]
    tracked: list[bool | None] = []
    for event in log:
        book.fold_live(event, 0)
        tracked.extend(part.tracked for (_, part), _ in book.sla_cohorts(TENANT))
    assert tracked == [None, False, True]
    book.close()


@pytest.mark.parametrize("hot", HOT)
def test_our_delivered_whose_answer_was_lost_counts_for_on_time_as_the_audit_counts_it(hot: int) -> None:
    """A `delivered` PUT that timed out but landed (the read after it shows it): in the on-time figure, late
    here (sent two days after the delivery moment), not left out."""
    book = book_of(hot)
    track = {"tracking_number": "ZX1", "tracking_url": "https://t.example/ZX1"}
    late = {"status": "delivered", "delivered_at": "2026-02-27 09:00:00"}  # the builders record on 03-01
    log = [
        first_seen("settled", tracking=("ZX1", "https://t.example/ZX1")),
        updated(1, "shipped", {"status": "shipped", **track}),
        requested(2, "delivered", late),
        observed("delivered", confirmed=True, request_no=2, source="outcome_unknown", changed=("status",)),
    ]
    for event in log:
        book.fold_live(event, 0)
    (((_, part), count),) = book.sla_cohorts(TENANT)
    assert (part.on_time, count) == (False, 1)
    book.close()
