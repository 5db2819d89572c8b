"""Offset bookkeeping: the commit position is the lowest unsettled offset of each partition."""

from __future__ import annotations

from mallbridge_publisher.offsets import OffsetBook

A, B, C = ("acme", "A"), ("acme", "B"), ("acme", "C")


def test_the_position_waits_at_the_lowest_order_not_yet_settled() -> None:
    book = OffsetBook()
    book.assign({0, 1})
    book.consumed(0, 10, A)
    book.consumed(0, 11, B)
    book.consumed(0, 12, A)
    assert book.positions() == {0: 10}  # partition 1 was never read from: nothing to commit there
    book.settle(B)
    assert book.positions() == {0: 10}
    assert book.unsettled(0) == 2
    book.settle(A)
    assert book.positions() == {0: 13}
    assert book.unsettled(0) == 0


def test_a_record_that_needs_no_work_moves_the_position_on() -> None:
    book = OffsetBook()
    book.assign({0})
    book.passed(0, 4)  # e.g. dead-lettered
    assert book.positions() == {0: 5}
    book.consumed(0, 5, C)
    book.passed(0, 6)
    assert book.positions() == {0: 5}


def test_a_revoked_partition_is_forgotten_with_its_orders() -> None:
    book = OffsetBook()
    book.assign({0, 1})
    book.consumed(0, 1, A)
    book.consumed(1, 7, B)
    book.revoke({1}, [B])
    assert book.assigned == frozenset({0})
    assert book.positions() == {0: 1}
    book.settle(B)  # its offsets went with the partition; settling later changes nothing
    book.assign({1})
    assert book.positions() == {0: 1}
    assert book.unsettled(1) == 0
