"""The cyclic collector off inside a block, and as the caller had it after the block."""

from __future__ import annotations

import gc

import pytest

from mallbridge_core.gc_tuning import no_cyclic_gc


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
