"""ARCHITECTURE.md §1 transition graph and §2 status mapping, each against a table written out by hand."""

from __future__ import annotations

import itertools

import pytest

from mallbridge_schema.mapping import desired_mall_status
from mallbridge_schema.statuses import FastCentrikStatus, MallStatus
from mallbridge_schema.transitions import is_partner_transition, shortest_path

F = FastCentrikStatus
M = MallStatus

# ---- mapping: every FastCentrik status × delivery date -------------------------------------------------

MAPPING: list[tuple[FastCentrikStatus, bool, MallStatus]] = [
    (F.PENDING, False, M.OPEN),
    (F.PENDING, True, M.OPEN),
    (F.PARTIALLY_SETTLED, False, M.SHIPPING),
    (F.PARTIALLY_SETTLED, True, M.SHIPPING),
    (F.IN_PROCESS, False, M.SHIPPING),
    (F.IN_PROCESS, True, M.SHIPPING),
    (F.SETTLED, False, M.SHIPPED),
    (F.SETTLED, True, M.DELIVERED),
    (F.CANCELLED, False, M.CANCELLED),
    (F.CANCELLED, True, M.CANCELLED),
]


def test_mapping_table_covers_every_input() -> None:
    assert {(fc, date) for fc, date, _ in MAPPING} == set(itertools.product(F, (False, True)))


@pytest.mark.parametrize(("fc", "has_date", "expected"), MAPPING)
def test_mapping(fc: FastCentrikStatus, has_date: bool, expected: MallStatus) -> None:
    assert desired_mall_status(fc, has_delivery_date=has_date) is expected


# ---- the partner's transition graph: every pair × MDP ----------------------------------------------------

# ARCHITECTURE.md §1: open → shipping | shipped | cancelled, shipping → shipped | cancelled,
# shipped → delivered | returned.
ALLOWED: set[tuple[str, str]] = {
    ("open", "shipping"),
    ("open", "shipped"),
    ("open", "cancelled"),
    ("shipping", "shipped"),
    ("shipping", "cancelled"),
    ("shipped", "delivered"),
    ("shipped", "returned"),
}
# MDP: must pass through shipping; never delivered/returned from the partner.
ALLOWED_MDP: set[tuple[str, str]] = {
    ("open", "shipping"),
    ("open", "cancelled"),
    ("shipping", "shipped"),
    ("shipping", "cancelled"),
}

PAIRS = [(a, b, mdp) for a in M for b in M for mdp in (False, True)]


@pytest.mark.parametrize(("current", "target", "mdp"), PAIRS)
def test_every_pair(current: MallStatus, target: MallStatus, mdp: bool) -> None:
    expected = (current.value, target.value) in (ALLOWED_MDP if mdp else ALLOWED)
    assert is_partner_transition(current, target, mdp=mdp) is expected


def test_nothing_leaves_blocked_or_a_final_status() -> None:
    for current in (M.BLOCKED, M.DELIVERED, M.RETURNED, M.CANCELLED, M.LOST):
        for target in M:
            for mdp in (False, True):
                assert not is_partner_transition(current, target, mdp=mdp)


# ---- shortest_path: every pair × MDP, reachable ones listed, everything else None ----------------------

PATHS: dict[tuple[str, str], tuple[str, ...]] = {
    ("open", "shipping"): ("shipping",),
    ("open", "shipped"): ("shipped",),
    ("open", "cancelled"): ("cancelled",),
    ("open", "delivered"): ("shipped", "delivered"),  # ARCHITECTURE.md §2 example
    ("open", "returned"): ("shipped", "returned"),
    ("shipping", "shipped"): ("shipped",),
    ("shipping", "cancelled"): ("cancelled",),
    ("shipping", "delivered"): ("shipped", "delivered"),
    ("shipping", "returned"): ("shipped", "returned"),
    ("shipped", "delivered"): ("delivered",),
    ("shipped", "returned"): ("returned",),
}
PATHS_MDP: dict[tuple[str, str], tuple[str, ...]] = {
    ("open", "shipping"): ("shipping",),
    ("open", "shipped"): ("shipping", "shipped"),  # ARCHITECTURE.md §2 example
    ("open", "cancelled"): ("cancelled",),
    ("shipping", "shipped"): ("shipped",),
    ("shipping", "cancelled"): ("cancelled",),
}


@pytest.mark.parametrize(("current", "target", "mdp"), PAIRS)
def test_shortest_path_every_pair(current: MallStatus, target: MallStatus, mdp: bool) -> None:
    table = PATHS_MDP if mdp else PATHS
    found = shortest_path(current, target, mdp=mdp)
    if current == target:
        assert found == ()
    elif (current.value, target.value) in table:
        assert found is not None
        assert [s.value for s in found] == list(table[(current.value, target.value)])
    else:
        assert found is None


def test_design_examples() -> None:
    assert shortest_path(M.OPEN, M.DELIVERED, mdp=False) == (M.SHIPPED, M.DELIVERED)
    assert shortest_path(M.OPEN, M.SHIPPED, mdp=True) == (M.SHIPPING, M.SHIPPED)
    assert shortest_path(M.SHIPPED, M.CANCELLED, mdp=False) is None  # cancel after shipped
    assert shortest_path(M.SHIPPED, M.DELIVERED, mdp=True) is None  # MALL sets it for MDP
    assert shortest_path(M.SHIPPED, M.SHIPPING, mdp=False) is None  # backwards


@pytest.mark.parametrize(("current", "target", "mdp"), PAIRS)
def test_every_path_is_made_of_legal_steps(current: MallStatus, target: MallStatus, mdp: bool) -> None:
    path = shortest_path(current, target, mdp=mdp)
    if path is None:
        return
    before = current
    for step in path:
        assert is_partner_transition(before, step, mdp=mdp)
        before = step
    assert before == target
