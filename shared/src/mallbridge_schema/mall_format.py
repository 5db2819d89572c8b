"""MALL's wire formats (DESIGN §1, §2 contract): date-times, tracking numbers, the delivered_at rule.

Pure functions: "now" and the recording moment always come in as arguments.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

PRAGUE = ZoneInfo("Europe/Prague")
MALL_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S"
TRACKING_NUMBER_PATTERN = re.compile(r"^[0-9A-Za-z_-]+$")
TRACKING_NUMBER_ALLOWED = "0-9 a-z A-Z - _"
_NOON = time(12, 0, 0)


def is_valid_tracking_number(value: str) -> bool:
    return bool(TRACKING_NUMBER_PATTERN.match(value))


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
    try:
        if len(text) == 10:
            return date.fromisoformat(text)
        return datetime.fromisoformat(text.replace(" ", "T", 1))
    except ValueError:
        raise ValueError(
            f"invalid delivery date {raw!r}; allowed: YYYY-MM-DD, or an ISO 8601 date-time "
            "with or without offset (e.g. 2026-11-20T14:05:00+01:00)"
        ) from None


def delivered_moment(raw: str, *, recorded_at: datetime) -> datetime:
    """The delivery moment as an aware Europe/Prague date-time (DESIGN §2, contract).

    With an offset: converted to Prague time. Without: taken as Prague local time. A date alone:
    12:00:00 Prague time that day, or the moment it was recorded if that is earlier.
    """
    value = parse_delivery_value(raw)
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return value.replace(tzinfo=PRAGUE)
        return value.astimezone(PRAGUE)
    noon = datetime.combine(value, _NOON, tzinfo=PRAGUE)
    return min(noon, recorded_at.astimezone(PRAGUE))
