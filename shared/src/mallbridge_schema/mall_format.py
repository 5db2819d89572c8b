"""MALL's wire formats (ARCHITECTURE.md §1, §2 contract): date-times, tracking numbers, the delivered_at rule.

Pure functions: "now" and the recording moment always come in as arguments.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

PRAGUE = ZoneInfo("Europe/Prague")
MALL_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# Used with fullmatch: `$` alone would also accept a trailing newline.
TRACKING_NUMBER_PATTERN = re.compile(r"[0-9A-Za-z_-]+")
TRACKING_NUMBER_ALLOWED = "0-9 a-z A-Z - _"
_NOON = time(12, 0, 0)
# `\s` of a str pattern is exactly `str.isspace` (both are Py_UNICODE_ISSPACE); one C scan instead of a
# generator per character of every tracking URL the reconciler looks at.
_WHITESPACE = re.compile(r"\s")
DELIVERY_YEARS = (2000, 2999)


RequestKind = Literal["status", "confirm", "tracking"]


def request_kind(body: Mapping[str, object]) -> RequestKind:
    """What a PUT body asks of MALL: a status change (with the data it needs), `{"confirmed": true}` alone, or
    a tracking correction while MALL has the order shipped (the tracking fields alone, which MALL takes
    only at `PUT /orders/{id}/tracking`)."""
    if "status" in body:
        return "status"
    return "tracking" if "tracking_number" in body else "confirm"


def is_valid_tracking_number(value: str) -> bool:
    return TRACKING_NUMBER_PATTERN.fullmatch(value) is not None


def is_web_address(value: str) -> bool:
    """An absolute http(s) URL with a host and no spaces: what a tracking link must be to be followed."""
    if _WHITESPACE.search(value) or not value.lower().startswith(("http://", "https://")):
        return False
    # A plain host (letters, digits, dots, hyphens; a port) is certain to have one: no parse needed, and the
    # reconciler looks at the tracking URL of every order it ships. Anything else is parsed.
    return _PLAIN_HOST.match(value) is not None or has_host(value)


_PLAIN_HOST = re.compile(r"https?://[0-9a-z.-]+(?::[0-9]*)?(?:[/?#]|\Z)", re.IGNORECASE)


def has_host(url: str) -> bool:
    """Whether `urlsplit` finds a host in `url` (one it cannot split, e.g. an unclosed "[" of an IPv6 host,
    has none)."""
    try:
        return bool(urlsplit(url).hostname)
    except ValueError:
        return False


def format_mall_datetime(moment: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in Europe/Prague local time; a naive value is taken as Prague time already."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(PRAGUE)
    return moment.strftime(MALL_DATETIME_FORMAT)


def parse_delivery_value(raw: str) -> date | datetime:
    """Parse FastCentrik's "Date of delivery": an ISO date, or an ISO date-time with or without offset.

    Raises ValueError with the accepted forms.
    """
    text = raw.strip()
    value: date | datetime | None = None
    if "T" not in text and " " not in text:  # no ISO date form has either: skip a certain failure
        # Any ISO date form (2026-03-29, 20260329) is a date alone, never midnight of that day.
        with contextlib.suppress(ValueError):
            value = date.fromisoformat(text)
    if value is None:
        try:
            value = datetime.fromisoformat(text.replace(" ", "T", 1))
        except ValueError:
            raise ValueError(
                f"invalid delivery date {raw!r}; allowed: YYYY-MM-DD, or an ISO 8601 date-time "
                "with or without offset (e.g. 2026-11-20T14:05:00+01:00)"
            ) from None
    # Beyond these years a moment may not even convert to Prague time (year 1 or 9999 with an offset
    # overflows) or print as MALL's four-digit year; no real delivery is there.
    if not DELIVERY_YEARS[0] <= value.year <= DELIVERY_YEARS[1]:
        raise ValueError(
            f"invalid delivery date {raw!r}: year {value.year}; allowed: the years "
            f"{DELIVERY_YEARS[0]} to {DELIVERY_YEARS[1]}"
        )
    return value


def delivered_moment(raw: str, *, recorded_at: datetime) -> datetime:
    """The delivery moment as an aware Europe/Prague date-time (ARCHITECTURE.md §2, contract).

    With an offset: converted to Prague time. Without: taken as Prague local time (a wall time that the
    spring DST gap skips is read with the offset before the change, so 02:30 becomes 03:30 CEST; in the
    repeated autumn hour the first occurrence is meant). A date alone: 12:00:00 Prague time that day, or
    the moment it was recorded if that is earlier on that same day (a date recorded before its own day is
    a future date: noon, which the reconciler defers until it comes).
    """
    # Through UTC, so the result is always a real instant with the right Prague offset.
    return delivered_instant(raw, recorded_at=recorded_at).astimezone(UTC).astimezone(PRAGUE)


def delivered_instant(raw: str, *, recorded_at: datetime) -> datetime:
    """The instant `delivered_moment` gives, in the zone it comes in (the value's own offset, or Prague for
    a wall time or a date): for measuring and comparing, where only the instant counts. Two conversions
    cheaper; show or record `delivered_moment` instead (this one may even be a wall time in the DST gap)."""
    if recorded_at.tzinfo is None:
        raise ValueError("recorded_at must be timezone-aware")
    value = parse_delivery_value(raw)
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=PRAGUE)
    noon = datetime.combine(value, _NOON, tzinfo=PRAGUE).astimezone(UTC).astimezone(PRAGUE)
    recorded = recorded_at.astimezone(PRAGUE)
    if recorded.date() == value and recorded < noon:
        return recorded
    return noon
