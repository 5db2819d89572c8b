"""The sandbox's status rules are a second opinion: written apart from mallbridge_schema, compared here.

These tests assert that the two readings of MALL's status rules agree today. If one fails, the sandbox and the
publisher's planner disagree about MALL: one of them is wrong, and a person must decide which (the
reference's sources, not either piece of code, settle it).
"""

from __future__ import annotations

import ast
import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import mallbridge_sandbox
from mallbridge_sandbox import status_rules
from mallbridge_schema.mall_format import is_valid_tracking_number
from mallbridge_schema.statuses import FINAL_MALL_STATUSES, MallStatus
from mallbridge_schema.transitions import is_partner_transition, partner_targets

PAIRS = list(itertools.product(MallStatus, MallStatus, (False, True)))


def test_the_sandbox_imports_only_the_status_names_from_the_schema() -> None:
    """The point of a second opinion: no rule module of mallbridge_schema is imported by the sandbox."""
    imported: set[str] = set()
    for source in Path(mallbridge_sandbox.__path__[0]).glob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("mallbridge_schema"):
                imported |= {f"{node.module}.{alias.name}" for alias in node.names}
            elif isinstance(node, ast.Import):
                imported |= {alias.name for alias in node.names if alias.name.startswith("mallbridge_schema")}
    assert imported == {"mallbridge_schema.statuses.MallStatus"}


@pytest.mark.parametrize(("current", "target", "mdp"), PAIRS, ids=lambda v: str(v))
def test_both_graphs_agree_on_every_status_pair(current: MallStatus, target: MallStatus, mdp: bool) -> None:
    sandbox = status_rules.partner_may_move(current, target, mdp=mdp)
    schema = is_partner_transition(current, target, mdp=mdp)
    assert sandbox == schema, (
        f"{current.value} -> {target.value} (mdp={mdp}): sandbox says {sandbox}, mallbridge_schema says {schema}"
    )


@pytest.mark.parametrize(("current", "mdp"), list(itertools.product(MallStatus, (False, True))))
def test_both_list_the_same_targets(current: MallStatus, mdp: bool) -> None:
    assert status_rules.allowed_targets(current, mdp=mdp) == partner_targets(current, mdp=mdp)


def test_the_graph_allows_exactly_the_documented_moves() -> None:
    allowed = {(c.value, t.value, mdp) for c, t, mdp in PAIRS if status_rules.partner_may_move(c, t, mdp=mdp)}
    documented = {
        ("open", "cancelled"), ("open", "shipping"), ("open", "shipped"),
        ("shipping", "cancelled"), ("shipping", "shipped"),
        ("shipped", "delivered"), ("shipped", "returned"),
    }  # fmt: skip
    mdp_refused = {("open", "shipped"), ("shipped", "delivered"), ("shipped", "returned")}
    assert allowed == {(c, t, False) for c, t in documented} | {(c, t, True) for c, t in documented - mdp_refused}


def test_both_name_the_same_final_statuses() -> None:
    assert status_rules.FINAL == FINAL_MALL_STATUSES


@pytest.mark.parametrize(
    "value", ["DR1234567890CZ", "a-b_C-9", "", " ", "DR 12", "DR12\n", "Ř12", "١٢٣", "x.y", "x/y", "ｆｕｌｌ"]
)
def test_both_read_tracking_numbers_alike(value: str) -> None:
    assert status_rules.is_tracking_number(value) == is_valid_tracking_number(value)


@given(st.text(max_size=12))
def test_both_read_any_text_as_a_tracking_number_alike(value: str) -> None:
    assert status_rules.is_tracking_number(value) == is_valid_tracking_number(value)
