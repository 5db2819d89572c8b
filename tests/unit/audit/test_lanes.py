"""Which lanes the audit reads: each lane's history, the default lane first, each lane once."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from mallbridge_audit.cli import lanes_to_read
from mallbridge_core.settings import CommonOptions

TENANTS = (
    '[tenants.alpha]\nmall_client_id = "env:NEVER_SET_A"\n'
    '[tenants.beta]\nmall_client_id = "env:NEVER_SET_B"\nlane = "bulk"\n'
    '[tenants.gamma]\nmall_client_id = "env:NEVER_SET_C"\nlane = "vip"\n'
)


def _common(tenants: Path | None = None) -> CommonOptions:
    return CommonOptions(
        log_url="sqlite:///unused.db",
        tenants_path=str(tenants) if tenants else None,
        topic_prefix="p.",
        partitions=1,
    )


def _lanes(common: CommonOptions, tenants: tuple[str, ...] = (), lanes: str | None = None) -> list[str]:
    return [t.lane for t in lanes_to_read(common, tenants, lanes)]


def test_the_default_lane_alone_without_a_tenants_file_or_lanes() -> None:
    [topics] = lanes_to_read(_common(), (), None)
    assert (topics.order_events, topics.sync_events) == ("p.order-events.v1", "p.sync-events.v1")


def test_a_lane_is_read_after_the_default_lane_where_its_tenants_wrote_before(tmp_path: Path) -> None:
    tenants = tmp_path / "tenants.toml"
    tenants.write_text(TENANTS)  # no secret is resolved: none of the env variables exists
    assert _lanes(_common(tenants)) == ["default", "bulk", "vip"]
    assert _lanes(_common(tenants), tenants=("gamma",)) == ["default", "vip"]
    assert _lanes(_common(tenants), tenants=("alpha",), lanes=" vip , bulk,vip") == ["default", "vip", "bulk"]
    assert _lanes(_common(), lanes="default,bulk") == ["default", "bulk"]


def test_a_lane_name_that_cannot_be_a_topic_name_is_refused() -> None:
    with pytest.raises(click.BadParameter, match=r"lane 'Bulk!' must match"):
        lanes_to_read(_common(), (), "bulk,Bulk!")
