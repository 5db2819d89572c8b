"""The collector settings: the throughput thresholds inside a block, the caller's own ones after it."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from mallbridge_core.gc_tuning import THROUGHPUT_THRESHOLDS, no_cyclic_gc, throughput_gc


@pytest.fixture(autouse=True)
def _callers_thresholds() -> Iterator[tuple[int, int, int]]:
    before = gc.get_threshold()
    gc.set_threshold(123, 4, 5)  # not the default: a test that restores "the default" instead would fail
    yield (123, 4, 5)
    gc.set_threshold(*before)


def test_the_block_runs_with_the_throughput_thresholds_and_restores_the_callers() -> None:
    with throughput_gc():
        assert gc.get_threshold() == THROUGHPUT_THRESHOLDS
        assert THROUGHPUT_THRESHOLDS[0] > 700  # larger than CPython's default young generation
    assert gc.get_threshold() == (123, 4, 5)


def test_the_callers_thresholds_come_back_when_the_block_raises() -> None:
    with pytest.raises(RuntimeError, match="replay failed"), throughput_gc():
        raise RuntimeError("replay failed")
    assert gc.get_threshold() == (123, 4, 5)


def test_no_cyclic_gc_turns_the_collector_off_for_the_block_and_back_on_after() -> None:
    assert gc.isenabled()
    with no_cyclic_gc():
        assert not gc.isenabled()
    assert gc.isenabled()
    with pytest.raises(RuntimeError, match="replay failed"), no_cyclic_gc():
        raise RuntimeError("replay failed")
    assert gc.isenabled()


def test_no_cyclic_gc_leaves_a_collector_that_was_off_off() -> None:
    gc.disable()
    try:
        with no_cyclic_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
