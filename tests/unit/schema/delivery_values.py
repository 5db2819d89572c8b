"""Hypothesis strategies for FastCentrik's delivery values and the moments they are recorded at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import strategies as st

from mallbridge_schema.mall_format import PRAGUE

CET = timezone(timedelta(hours=1))
CEST = timezone(timedelta(hours=2))
ZONES = st.sampled_from([UTC, PRAGUE, CET, CEST, timezone(timedelta(hours=-4)), timezone(timedelta(minutes=330))])
# Around both 2026 DST changes, and on ordinary days, to the second and to the microsecond.
WALL_TIMES = st.one_of(
    st.datetimes(min_value=datetime(2026, 3, 28), max_value=datetime(2026, 3, 30)),
    st.datetimes(min_value=datetime(2026, 10, 24), max_value=datetime(2026, 10, 26)),
    st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2030, 12, 31)),
)


@st.composite
def delivery_values(draw: st.DrawFn) -> str:
    """Every form FastCentrik may give: a date, a wall time (T or space), a date-time with an offset."""
    wall = draw(WALL_TIMES)
    form = draw(st.sampled_from(["date", "wall", "wall_space", "offset", "z"]))
    if form == "date":
        return wall.date().isoformat()
    if form == "wall":
        return wall.isoformat()
    if form == "wall_space":
        return wall.isoformat(sep=" ")
    if form == "z":
        return wall.isoformat() + "Z"
    return wall.replace(tzinfo=draw(ZONES)).isoformat()
