"""MALL wire formats and the delivered_at rule (ARCHITECTURE.md §2, contract).

Europe/Prague is CET (+01:00) in winter and CEST (+02:00) in summer. In 2026 summer time starts on
Sunday 29 March at 01:00 UTC (02:00 → 03:00 local) and ends on Sunday 25 October at 01:00 UTC
(03:00 → 02:00 local, the 02:00–03:00 hour happens twice).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mallbridge_schema.mall_format import (
    PRAGUE,
    delivered_instant,
    delivered_moment,
    format_mall_datetime,
    has_host,
    is_valid_tracking_number,
    is_web_address,
    parse_delivery_value,
)

MALL_FORMAT = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}")
LATE = datetime(2027, 1, 1, tzinfo=UTC)  # a recording moment long after every date below
CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))


def _mall(raw: str, recorded_at: datetime = LATE) -> str:
    return format_mall_datetime(delivered_moment(raw, recorded_at=recorded_at))


# ---- with an offset: converted to Prague time ----------------------------------------------------------

WITH_OFFSET = [
    ("2026-11-20T14:05:00+01:00", "2026-11-20 14:05:00"),
    ("2026-11-20T13:05:00Z", "2026-11-20 14:05:00"),
    ("2026-11-20T13:05:00+00:00", "2026-11-20 14:05:00"),
    ("2026-07-01T12:00:00Z", "2026-07-01 14:00:00"),
    ("2026-07-01T09:30:00-04:00", "2026-07-01 15:30:00"),
    ("2026-07-01 12:00:00+00:00", "2026-07-01 14:00:00"),  # space instead of T
    ("2026-12-31T23:30:00Z", "2027-01-01 00:30:00"),  # crosses the year
    ("2026-11-20T14:05:00.987+01:00", "2026-11-20 14:05:00"),  # fractions are dropped, not rounded
    # spring forward, 29 March 2026
    ("2026-03-29T00:59:59Z", "2026-03-29 01:59:59"),
    ("2026-03-29T01:00:00Z", "2026-03-29 03:00:00"),
    ("2026-03-29T01:30:00Z", "2026-03-29 03:30:00"),
    ("2026-03-29T02:30:00+01:00", "2026-03-29 03:30:00"),  # a CET reading of the skipped hour
    # fall back, 25 October 2026: two different instants share the 02:xx wall times
    ("2026-10-25T00:30:00Z", "2026-10-25 02:30:00"),
    ("2026-10-25T00:59:59Z", "2026-10-25 02:59:59"),
    ("2026-10-25T01:00:00Z", "2026-10-25 02:00:00"),
    ("2026-10-25T01:30:00Z", "2026-10-25 02:30:00"),
    ("2026-10-25T02:00:00Z", "2026-10-25 03:00:00"),
]


@pytest.mark.parametrize(("raw", "expected"), WITH_OFFSET)
def test_with_offset_converted_to_prague(raw: str, expected: str) -> None:
    assert _mall(raw) == expected


@pytest.mark.parametrize(("raw", "_"), WITH_OFFSET)
def test_with_offset_keeps_the_instant(raw: str, _: str) -> None:
    moment = delivered_moment(raw, recorded_at=LATE)
    assert moment.tzinfo is PRAGUE
    # compared in UTC: Python never calls a datetime in the repeated autumn hour equal across zones (PEP 495)
    assert moment.astimezone(UTC) == datetime.fromisoformat(raw.replace(" ", "T")).astimezone(UTC)


def test_fall_back_hour_offsets() -> None:
    first = delivered_moment("2026-10-25T00:30:00Z", recorded_at=LATE)
    second = delivered_moment("2026-10-25T01:30:00Z", recorded_at=LATE)
    assert first.utcoffset() == timedelta(hours=2)
    assert second.utcoffset() == timedelta(hours=1)
    assert format_mall_datetime(first) == format_mall_datetime(second) == "2026-10-25 02:30:00"
    # same tzinfo subtracts wall times (0); the instants are an hour apart
    assert second.astimezone(UTC) - first.astimezone(UTC) == timedelta(hours=1)


# ---- without an offset: taken as Prague local time -----------------------------------------------------

WITHOUT_OFFSET = [
    ("2026-11-20T14:05:00", "2026-11-20 14:05:00", CET),
    ("2026-11-20 14:05:00", "2026-11-20 14:05:00", CET),
    ("2026-11-20T14:05", "2026-11-20 14:05:00", CET),
    ("2026-07-01T14:05:00", "2026-07-01 14:05:00", CEST),
    ("2026-03-29T01:59:59", "2026-03-29 01:59:59", CET),
    ("2026-03-29T03:00:00", "2026-03-29 03:00:00", CEST),
    # 02:30 does not exist on 29 March: read with the offset before the change (+01:00), i.e. 03:30 CEST
    ("2026-03-29T02:30:00", "2026-03-29 03:30:00", CEST),
    # 02:30 happens twice on 25 October: the first occurrence (+02:00) is meant
    ("2026-10-25T02:30:00", "2026-10-25 02:30:00", CEST),
    ("2026-10-25T03:30:00", "2026-10-25 03:30:00", CET),
]


@pytest.mark.parametrize(("raw", "expected", "offset"), WITHOUT_OFFSET)
def test_without_offset_is_prague_time(raw: str, expected: str, offset: timezone) -> None:
    moment = delivered_moment(raw, recorded_at=LATE)
    assert format_mall_datetime(moment) == expected
    assert moment.utcoffset() == offset.utcoffset(None)
    # a real instant: converting to UTC and back changes nothing
    assert moment.astimezone(UTC).astimezone(PRAGUE) == moment
    assert format_mall_datetime(moment.astimezone(UTC)) == expected


# ---- a date alone: noon Prague time, or the recording moment if that is earlier the same day -----------

DATE_ALONE = [
    # recorded on a later day: noon
    ("2026-11-20", datetime(2026, 11, 21, 9, 0, tzinfo=UTC), "2026-11-20 12:00:00"),
    ("2026-11-20", datetime(2026, 11, 20, 15, 0, tzinfo=CET), "2026-11-20 12:00:00"),
    ("2026-11-20", datetime(2026, 11, 20, 12, 0, tzinfo=CET), "2026-11-20 12:00:00"),  # exactly noon
    # recorded earlier that day: the recording moment
    ("2026-11-20", datetime(2026, 11, 20, 8, 15, 30, tzinfo=CET), "2026-11-20 08:15:30"),
    ("2026-11-20", datetime(2026, 11, 20, 11, 59, 59, tzinfo=CET), "2026-11-20 11:59:59"),
    ("2026-11-20", datetime(2026, 11, 20, 10, 59, 59, tzinfo=UTC), "2026-11-20 11:59:59"),
    ("2026-11-20", datetime(2026, 11, 19, 23, 30, tzinfo=UTC), "2026-11-20 00:30:00"),  # 00:30 Prague
    ("2026-07-01", datetime(2026, 7, 1, 9, 0, tzinfo=UTC), "2026-07-01 11:00:00"),
    ("2026-07-01", datetime(2026, 7, 1, 10, 0, tzinfo=UTC), "2026-07-01 12:00:00"),  # = noon CEST
    # the DST days themselves
    ("2026-03-29", LATE, "2026-03-29 12:00:00"),
    ("2026-10-25", LATE, "2026-10-25 12:00:00"),
    ("2026-03-29", datetime(2026, 3, 29, 1, 30, tzinfo=UTC), "2026-03-29 03:30:00"),
    ("2026-10-25", datetime(2026, 10, 25, 1, 30, tzinfo=UTC), "2026-10-25 02:30:00"),
    # recorded before its own day (a date in the future when typed): noon of that day, never the day before
    ("2026-11-20", datetime(2026, 11, 19, 15, 0, tzinfo=CET), "2026-11-20 12:00:00"),
    # other ISO spellings of a date alone are still a date alone
    ("20261120", LATE, "2026-11-20 12:00:00"),
    (" 2026-11-20 ", LATE, "2026-11-20 12:00:00"),
]


@pytest.mark.parametrize(("raw", "recorded_at", "expected"), DATE_ALONE)
def test_date_alone(raw: str, recorded_at: datetime, expected: str) -> None:
    assert _mall(raw, recorded_at) == expected


def test_noon_offsets_on_the_dst_days() -> None:
    assert delivered_moment("2026-03-29", recorded_at=LATE) == datetime(2026, 3, 29, 10, 0, tzinfo=UTC)
    assert delivered_moment("2026-10-25", recorded_at=LATE) == datetime(2026, 10, 25, 11, 0, tzinfo=UTC)


def test_a_naive_recording_moment_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        delivered_moment("2026-11-20", recorded_at=datetime(2026, 11, 20, 9, 0))


@pytest.mark.parametrize("raw", ["", "yesterday", "20.11.2026", "2026-13-01", "2026-11-20T25:00:00", "2026-11-20X"])
def test_invalid_delivery_values_name_the_accepted_forms(raw: str) -> None:
    with pytest.raises(ValueError, match=r"allowed: YYYY-MM-DD, or an ISO 8601 date-time"):
        parse_delivery_value(raw)


@pytest.mark.parametrize("raw", ["0999-06-10", "1999-12-31", "0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00"])
def test_a_delivery_outside_the_years_mall_can_have_is_refused_naming_them(raw: str) -> None:
    with pytest.raises(ValueError, match=r"allowed: the years 2000 to 2999"):
        parse_delivery_value(raw)


# ---- the MALL date format ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        (datetime(2026, 1, 5, 8, 3, 9, tzinfo=CET), "2026-01-05 08:03:09"),
        (datetime(2026, 1, 5, 7, 3, 9, tzinfo=UTC), "2026-01-05 08:03:09"),
        (datetime(2026, 6, 5, 7, 3, 9, 999_999, tzinfo=UTC), "2026-06-05 09:03:09"),
        (datetime(2026, 1, 5, 23, 0, 0, tzinfo=UTC), "2026-01-06 00:00:00"),
        (datetime(2026, 1, 5, 8, 3, 9), "2026-01-05 08:03:09"),  # naive: already Prague time
    ],
)
def test_format_mall_datetime(moment: datetime, expected: str) -> None:
    text = format_mall_datetime(moment)
    assert text == expected
    assert MALL_FORMAT.fullmatch(text)


# ---- tracking numbers: only 0-9 a-z A-Z - _ -------------------------------------------------------------


@pytest.mark.parametrize("number", ["0", "ABC", "abc", "DR-1234_5678", "Z-_-_9", "1234567890123456789012345"])
def test_valid_tracking_numbers(number: str) -> None:
    assert is_valid_tracking_number(number)


@pytest.mark.parametrize(
    "number",
    ["", " ", "DR 1234", "DR1234 ", "DR1234\n", "\nDR1234", "DR/1234", "DR.1234", "DR+1", "ČR1234", "DR1234١", "Ａ1"],
)
def test_invalid_tracking_numbers(number: str) -> None:
    assert not is_valid_tracking_number(number)


# ---- the instant alone (for lags and comparisons) ---------------------------------------------------


def test_the_instant_needs_an_aware_recording_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        delivered_instant("2026-11-20", recorded_at=datetime(2026, 11, 20, 9, 0))


@pytest.mark.parametrize(("raw", "offset"), [("2026-07-01T09:30:00-04:00", -4), ("2026-03-29T02:30:00", 1)])
def test_the_instant_keeps_the_zone_it_came_in(raw: str, offset: int) -> None:
    instant = delivered_instant(raw, recorded_at=LATE)
    assert instant.utcoffset() == timedelta(hours=offset)  # the gap's 02:30 stays a CET reading: 03:30 CEST
    assert instant.astimezone(UTC) == delivered_moment(raw, recorded_at=LATE).astimezone(UTC)


@pytest.mark.parametrize(
    "url", ["https://t.example/TRK1", "http://t.example", "HTTPS://T.EXAMPLE/a?b=c", "https://[::1]:8080/x"]
)
def test_web_addresses(url: str) -> None:
    assert is_web_address(url)


@pytest.mark.parametrize("url", ["t.example/TRK1", "ftp://t.example/x", "https://", "https:///x", "https://[::1/x", ""])
def test_not_web_addresses(url: str) -> None:
    assert not is_web_address(url)


@settings(max_examples=400)
@given(
    scheme=st.sampled_from(["http://", "https://", "HTTPS://", "Http://"]),
    rest=st.text(alphabet="aZ09.-_:@[]/?#%+~!", max_size=14),
)
def test_a_plain_host_is_taken_exactly_when_the_parser_finds_one(scheme: str, rest: str) -> None:
    """The plain-host shortcut never decides otherwise than parsing the address would."""
    assert is_web_address(scheme + rest) == has_host(scheme + rest), scheme + rest


def test_a_web_address_with_any_whitespace_is_refused() -> None:
    """Every character Python calls whitespace (NBSP, the ideographic space, a line separator, …)."""
    spaces = [chr(c) for c in range(0x3001) if chr(c).isspace()]
    assert len(spaces) > 20
    for space in spaces:
        assert not is_web_address(f"https://t.example/TRK{space}1"), repr(space)
        assert not is_web_address(f"https://t.example/TRK1{space}"), repr(space)
