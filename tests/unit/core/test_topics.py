"""Topic names per lane and the order a lane's history is read in."""

from __future__ import annotations

from mallbridge_core.topics import DEFAULT_LANE, Topics, is_lane_name


def test_default_lane_topics_carry_only_the_prefix() -> None:
    topics = Topics(prefix="p.")
    assert (topics.order_events, topics.sync_events, topics.dead_letter) == (
        "p.order-events.v1",
        "p.sync-events.v1",
        "p.dead-letter.v1",
    )


def test_a_lane_reads_the_default_lane_first() -> None:
    lane = Topics(prefix="p.", lane="acme")
    assert lane.order_events == "p.lane-acme.order-events.v1"
    assert lane.operator_events == "p.lane-acme.operator-events.v1"
    assert [t.lane for t in lane.history()] == [DEFAULT_LANE, "acme"]
    assert Topics(prefix="p.").history() == (Topics(prefix="p."),)


def test_lane_names_are_what_a_topic_name_can_carry() -> None:
    assert is_lane_name("big-merchant_1")
    assert not is_lane_name("Acme")
    assert not is_lane_name("a" * 33)
    assert not is_lane_name("")
