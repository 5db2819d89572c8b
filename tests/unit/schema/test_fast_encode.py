"""`encode_event` writes order events with msgspec from their fields: the bytes must be pydantic's, always.

Random events of every order-event type (hypothesis, values drawn from each field's annotation: any text,
any UUID, integers at the edges, aware date-times in every zone and in fixed offsets with and without
seconds), built in Python and read back from JSON (pydantic's own tzinfo objects then), must encode to
exactly what the model's serializer writes. Anything msgspec writes differently would fail here.
"""

from __future__ import annotations

import types
import uuid
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum
from typing import Any, Literal, Union, get_args, get_origin

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import AwareDatetime, ValidationError

from mallbridge_schema import serde
from mallbridge_schema.events import ORDER_EVENT_TYPES, Event, MallWebhookReceived, OrderFirstSeen
from mallbridge_schema.serde import decode_order_event, encode_event

# Offsets within ±14 h, as zones have them, with seconds and microseconds too. (Near 24 h, pydantic writes an
# offset it cannot read back: 23:59:30 becomes "+24:00". No zone is there.)
OFFSETS = st.builds(
    timedelta,
    hours=st.integers(-13, 13),
    minutes=st.integers(0, 59),
    seconds=st.sampled_from([0, 0, 0, 1, 30, 59]),
    microseconds=st.sampled_from([0, 0, 0, 0, 1, 500_000]),
).map(timezone)
ZONES = st.just(UTC) | st.timezones() | OFFSETS
MOMENTS = st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=ZONES)
TEXT = st.text() | st.sampled_from(["", "vyřízená", 'a"b\\c', "\u2028\x00\x1f", "🙂"])
DIGITS = st.from_regex(r"[0-9]{1,32}", fullmatch=True)


def _values(annotation: Any) -> st.SearchStrategy[Any]:
    """Values of a field's annotation, valid or not (validation sorts them out)."""
    origin, args = get_origin(annotation), get_args(annotation)
    if origin in (Union, types.UnionType):
        return st.one_of(*(_values(a) for a in args))
    if origin is Literal:
        return st.sampled_from(args)
    if origin is tuple:
        return st.lists(DIGITS, max_size=4, unique=True).map(tuple)
    if annotation is type(None):
        return st.none()
    if annotation in (datetime, AwareDatetime):
        return MOMENTS
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return st.sampled_from(list(annotation))
    simple: dict[Any, st.SearchStrategy[Any]] = {
        str: TEXT,
        bool: st.booleans(),
        int: st.integers(1, 3) | st.integers(0, 2**63 - 1) | st.just(2**64 + 1),
        uuid.UUID: st.uuids(),
    }
    return simple[annotation]


@st.composite
def order_events(draw: st.DrawFn) -> Event:
    cls = draw(st.sampled_from(ORDER_EVENT_TYPES))
    # (an order's MALL id is digits: any other text would only be filtered out by validation)
    data = {
        name: draw(DIGITS if name == "mall_order_id" and f.annotation is str else _values(f.annotation))
        for name, f in cls.model_fields.items()
    }
    if cls is MallWebhookReceived:
        data["unknown_ids"] = data["order_ids"][: draw(st.integers(0, len(data["order_ids"])))]
    try:
        event: Event = cls.model_validate(data)
    except ValidationError:
        assume(False)
        raise
    return event


def pydantic_bytes(event: Event) -> bytes:
    return event.__pydantic_serializer__.to_json(event)


@settings(max_examples=600, suppress_health_check=[HealthCheck.too_slow])
@given(order_events())
def test_every_order_event_encodes_to_pydantics_bytes(event: Event) -> None:
    assert encode_event(event) == pydantic_bytes(event)
    decoded = decode_order_event(pydantic_bytes(event))  # pydantic's own tzinfo objects, as a replay has
    assert encode_event(decoded) == pydantic_bytes(decoded)


def test_the_fast_path_checks_every_date_time_field_of_every_order_event() -> None:
    """What makes the parity above hold: each order event type is written from its fields, and the offset
    check looks at every date-time field it has (a field missed would let seconds through unchecked)."""
    assert set(serde._FIELDS_AS_IS) == set(ORDER_EVENT_TYPES)
    for cls, checked in serde._FIELDS_AS_IS.items():
        sample = {name: value for name, value in vars(_sample(cls)).items() if isinstance(value, datetime)}
        assert set(checked) == set(sample), cls.__name__


def _sample(cls: type[Event]) -> Event:
    from mallbridge_schema.examples import ORDER_EXAMPLES

    event = next(e for e in ORDER_EXAMPLES if type(e) is cls)
    if "changed_at" in cls.model_fields and event.__dict__.get("changed_at") is None:
        event = event.model_copy(update={"changed_at": datetime(2026, 11, 20, tzinfo=UTC)})
    return event


@pytest.mark.parametrize("seconds", [1, 30, 59])
def test_an_offset_with_seconds_is_written_as_pydantic_writes_it(seconds: int) -> None:
    zone = timezone(timedelta(hours=1, seconds=seconds))
    event = _sample(OrderFirstSeen).model_copy(update={"occurred_at": datetime(2026, 11, 20, 9, tzinfo=zone)})
    assert encode_event(event) == pydantic_bytes(event)
    assert b'"occurred_at":"2026-11-20T09:00:00+01:00"' in encode_event(event)


def test_text_that_is_not_unicode_fails_both_ways() -> None:
    """A lone surrogate (JSON's "\\ud800" reads as one) cannot be UTF-8: neither writer produces bytes."""
    event = _sample(OrderFirstSeen).model_copy(update={"status_label": "\ud800"})
    with pytest.raises(Exception, match="surrogates not allowed"):
        pydantic_bytes(event)
    with pytest.raises(Exception, match="surrogates not allowed"):
        encode_event(event)
