"""The codec of a spilled last known state: every field comes back, times as the same instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from mallbridge_core.domain.fastcentrik import FastCentrikSide
from mallbridge_ingest.domain.state import OrderState
from mallbridge_ingest.state_store import StateStore, _decode_state, _encode_state
from mallbridge_schema.statuses import FastCentrikStatus

OFFSETS = st.sampled_from([UTC, timezone(timedelta(hours=1)), timezone(timedelta(hours=-5, minutes=-30))])
MOMENTS = st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=OFFSETS)
TEXT = st.text(max_size=20)
SIDES = st.builds(
    FastCentrikSide,
    seq=st.integers(min_value=0, max_value=2**40),
    status=st.none() | st.sampled_from(FastCentrikStatus),
    status_label=TEXT,
    delivered_at=st.none() | TEXT,
    delivery_recorded_at=MOMENTS,
    tracking_number=st.none() | TEXT,
    tracking_url=st.none() | TEXT,
    mdp=st.booleans(),
    changed_at=MOMENTS,
    newest_changed_at=MOMENTS,
)
STATES = st.builds(OrderState, mall_order_id=TEXT, fc=SIDES, seq=st.integers(min_value=0, max_value=2**40))


@given(STATES)
def test_a_state_comes_back_equal_with_its_times_as_the_same_instants(state: OrderState) -> None:
    back = _decode_state(_encode_state(state))
    assert back == state
    assert back.fc.status is state.fc.status


def test_the_codec_knows_every_field_of_the_state() -> None:
    # Adding a field to either tuple must come with it in the codec (state_store.py, `_Row`).
    assert OrderState._fields == ("mall_order_id", "fc", "seq")
    assert len(FastCentrikSide._fields) == 10


def test_without_hot_orders_the_maps_are_plain_dicts_and_no_file_is_opened() -> None:
    store = StateStore(0)
    assert (type(store.orders()), type(store.mall_ids())) == (dict, dict)
    assert store._file is None
    store.close()
