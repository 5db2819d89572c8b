"""The reconciler over EVERY combination (DESIGN §2): MALL status (8) × FastCentrik status (5, giving the desired
status open/shipping/shipped/cancelled, and delivered with a delivery date) × delivery date × MDP × tracking
present × MALL's side confirmed or not, each with the exact expected plan.

The expectations are written out by hand in TABLE below; nothing is recomputed with the code under test.
Outcome notation (one column with tracking, one without):
    =                 nothing to send (MALL already has the desired status)
    =delivered        nothing to send; the plan reports `delivered` as the status the order should have
                      (an MDP order MALL itself delivered while FastCentrik says settled)
    a > b             PUT bodies in order, from STEP below; the first gets `"confirmed": true` exactly
                      when MALL's side is unconfirmed (checked for both values of `confirmed`)
    ... ~s:keyword    then a deferral of status s whose reason contains `keyword`
    !code             an attention item with that code, nothing sent
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from mallbridge_core.domain.projection import Rejection
from mallbridge_core.domain.reconciler import plan
from mallbridge_schema.statuses import MallStatus

from .builders import first_seen, state_of, with_mall

TN = "DR-1234_5678"
TU = "https://tracking.example.cz/track?id=DR-1234_5678"
DELIVERED_RAW = "2026-03-10T14:05:00+01:00"
DELIVERED_AT = "2026-03-10 14:05:00"
NOW = datetime(2026, 4, 1, 10, 0, tzinfo=UTC)

STEP: dict[str, dict[str, Any]] = {
    "shipping": {"status": "shipping"},
    "shipped": {"status": "shipped"},
    "shipped+T": {"status": "shipped", "tracking_number": TN, "tracking_url": TU},
    "delivered+D": {"status": "delivered", "delivered_at": DELIVERED_AT},
    "cancelled": {"status": "cancelled"},
}

# DESIGN §2, copied by hand: (FastCentrik status, has delivery date) → desired MALL status.
DESIRED = {
    ("pending", False): "open",
    ("pending", True): "open",
    ("partially_settled", False): "shipping",
    ("partially_settled", True): "shipping",
    ("in_process", False): "shipping",
    ("in_process", True): "shipping",
    ("settled", False): "shipped",
    ("settled", True): "delivered",
    ("cancelled", False): "cancelled",
    ("cancelled", True): "cancelled",
}

NO_TRACKING = "~shipped:waiting for the tracking number and tracking URL"
MDP_WAIT = "~delivered:MALL Delivery order: MALL sets delivered itself"

# mall        fc                 date mdp | with tracking                        | without tracking
TABLE = f"""
blocked      pending            *    *   | !mall_blocked                        | !mall_blocked
blocked      partially_settled  *    *   | !mall_blocked                        | !mall_blocked
blocked      in_process         *    *   | !mall_blocked                        | !mall_blocked
blocked      settled            *    *   | !mall_blocked                        | !mall_blocked
blocked      cancelled          *    *   | !mall_blocked                        | !mall_blocked

open         pending            *    *   | =                                    | =
open         partially_settled  *    *   | shipping                             | shipping
open         in_process         *    *   | shipping                             | shipping
open         settled            no   no  | shipped+T                            | {NO_TRACKING}
open         settled            no   yes | shipping > shipped                   | shipping > shipped
open         settled            yes  no  | shipped+T > delivered+D              | {NO_TRACKING}
open         settled            yes  yes | shipping > shipped {MDP_WAIT}        | shipping > shipped {MDP_WAIT}
open         cancelled          *    *   | cancelled                            | cancelled

shipping     pending            *    *   | !backwards                           | !backwards
shipping     partially_settled  *    *   | =                                    | =
shipping     in_process         *    *   | =                                    | =
shipping     settled            no   no  | shipped+T                            | {NO_TRACKING}
shipping     settled            no   yes | shipped                              | shipped
shipping     settled            yes  no  | shipped+T > delivered+D              | {NO_TRACKING}
shipping     settled            yes  yes | shipped {MDP_WAIT}                   | shipped {MDP_WAIT}
shipping     cancelled          *    *   | cancelled                            | cancelled

shipped      pending            *    *   | !backwards                           | !backwards
shipped      partially_settled  *    *   | !backwards                           | !backwards
shipped      in_process         *    *   | !backwards                           | !backwards
shipped      settled            no   *   | =                                    | =
shipped      settled            yes  no  | delivered+D                          | delivered+D
shipped      settled            yes  yes | {MDP_WAIT}                           | {MDP_WAIT}
shipped      cancelled          *    *   | !cancel_after_shipped                | !cancel_after_shipped

delivered    pending            *    *   | !mall_final                          | !mall_final
delivered    partially_settled  *    *   | !mall_final                          | !mall_final
delivered    in_process         *    *   | !mall_final                          | !mall_final
delivered    settled            no   no  | !mall_final                          | !mall_final
delivered    settled            no   yes | =delivered                           | =delivered
delivered    settled            yes  *   | =                                    | =
delivered    cancelled          *    *   | !mall_final                          | !mall_final

returned     pending            *    *   | !mall_final                          | !mall_final
returned     partially_settled  *    *   | !mall_final                          | !mall_final
returned     in_process         *    *   | !mall_final                          | !mall_final
returned     settled            *    *   | !mall_final                          | !mall_final
returned     cancelled          *    *   | !mall_final                          | !mall_final

cancelled    pending            *    *   | !mall_final                          | !mall_final
cancelled    partially_settled  *    *   | !mall_final                          | !mall_final
cancelled    in_process         *    *   | !mall_final                          | !mall_final
cancelled    settled            *    *   | !mall_final                          | !mall_final
cancelled    cancelled          *    *   | =                                    | =

lost         pending            *    *   | !mall_final                          | !mall_final
lost         partially_settled  *    *   | !mall_final                          | !mall_final
lost         in_process         *    *   | !mall_final                          | !mall_final
lost         settled            *    *   | !mall_final                          | !mall_final
lost         cancelled          *    *   | !mall_final                          | !mall_final
"""

Case = tuple[str, str, bool, bool, bool, bool, str]  # mall, fc, date, mdp, tracking, confirmed, outcome


def _expand(flag: str) -> tuple[bool, ...]:
    return {"no": (False,), "yes": (True,), "*": (False, True)}[flag]


def _cases() -> list[Case]:
    cases: list[Case] = []
    for line in TABLE.strip().splitlines():
        if not line.strip():
            continue
        key, with_tracking, without_tracking = (part.strip() for part in line.split("|"))
        mall, fc, date, mdp = key.split()
        for has_date, is_mdp, confirmed in itertools.product(_expand(date), _expand(mdp), (False, True)):
            cases.append((mall, fc, has_date, is_mdp, True, confirmed, with_tracking))
            cases.append((mall, fc, has_date, is_mdp, False, confirmed, without_tracking))
    return cases


CASES = _cases()


def test_the_table_covers_every_combination_exactly_once() -> None:
    keys = [case[:6] for case in CASES]
    expected = set(
        itertools.product(
            [s.value for s in MallStatus],
            ["pending", "partially_settled", "in_process", "settled", "cancelled"],
            (False, True),
            (False, True),
            (False, True),
            (False, True),
        )
    )
    assert len(keys) == len(set(keys)) == len(expected) == 640
    assert set(keys) == expected


def _id(case: Case) -> str:
    mall, fc, has_date, mdp, tracking, confirmed, _ = case
    flags = [f for f, on in (("date", has_date), ("mdp", mdp), ("tracking", tracking), ("confirmed", confirmed)) if on]
    return "-".join([mall, fc, *flags])


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_plan(case: Case) -> None:
    mall, fc, has_date, mdp, tracking, confirmed, outcome = case
    facts = first_seen(
        fc,
        delivered_at=DELIVERED_RAW if has_date else None,
        tracking=(TN, TU) if tracking else (None, None),
        mdp=mdp,
    )
    state = with_mall(state_of([facts]), mall, confirmed=confirmed)
    result = plan(state, now=NOW)

    desired = DESIRED[(fc, has_date)]
    assert not result.read_first
    if outcome.startswith("!"):
        assert result.steps == ()
        assert result.deferral is None
        assert result.attention is not None
        assert result.attention.code == outcome[1:]
        assert result.attention.reason  # a sentence for the merchant
        assert result.desired == desired
        return
    assert result.attention is None
    if outcome.startswith("="):
        assert result.desired == (outcome[1:] or desired)
        assert result.settled
        assert result.steps == ()
        return

    assert result.desired == desired
    steps_text, _, deferral_text = outcome.partition("~")
    names = [name.strip() for name in steps_text.split(">") if name.strip()]
    expected_bodies = [dict(STEP[name]) for name in names]
    if expected_bodies and not confirmed:
        expected_bodies[0] = {"status": expected_bodies[0]["status"], "confirmed": True, **expected_bodies[0]}
    assert [step.body for step in result.steps] == expected_bodies
    assert [step.status.value for step in result.steps] == [body["status"] for body in expected_bodies]
    for step in result.steps[1:]:
        assert "confirmed" not in step.body
    if deferral_text:
        status, _, keyword = deferral_text.partition(":")
        assert result.deferral is not None
        assert result.deferral.status == status
        assert keyword in result.deferral.reason
    else:
        assert result.deferral is None


def test_exact_bodies_spelled_out() -> None:
    """Two rows of the table without the notation: every key and value as it goes on the wire."""
    facts = first_seen("settled", delivered_at=DELIVERED_RAW, tracking=(TN, TU))
    result = plan(with_mall(state_of([facts]), "open", confirmed=False), now=NOW)
    assert [step.body for step in result.steps] == [
        {
            "status": "shipped",
            "confirmed": True,
            "tracking_number": "DR-1234_5678",
            "tracking_url": "https://tracking.example.cz/track?id=DR-1234_5678",
        },
        {"status": "delivered", "delivered_at": "2026-03-10 14:05:00"},
    ]
    assert result.deferral is None
    assert result.attention is None

    mdp = first_seen("settled", tracking=(TN, TU), mdp=True)
    result = plan(with_mall(state_of([mdp]), "open", confirmed=True), now=NOW)
    assert [step.body for step in result.steps] == [{"status": "shipping"}, {"status": "shipped"}]


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_in_doubt_and_rejected_variants(case: Case) -> None:
    """Every row again, (a) with a PUT whose outcome is unknown: read MALL first, whatever the row says;
    (b) with MALL's refusal recorded for the current FastCentrik seq: attention `mall_rejected` unless MALL
    already has what is desired; (c) the same refusal made on an older seq is ignored."""
    mall, fc, has_date, mdp, tracking, confirmed, outcome = case
    facts = first_seen(
        fc,
        delivered_at=DELIVERED_RAW if has_date else None,
        tracking=(TN, TU) if tracking else (None, None),
        mdp=mdp,
        seq=5,
    )
    base = with_mall(state_of([facts]), mall, confirmed=confirmed)

    in_doubt = replace(base, mall=replace(base.mall, last_request_no=3, settled_request_no=2))
    doubt_plan = plan(in_doubt, now=NOW)
    assert doubt_plan.read_first
    assert (doubt_plan.steps, doubt_plan.deferral, doubt_plan.attention) == ((), None, None)

    refusal = Rejection(MallStatus.SHIPPED, based_on_seq=5, http_status=400, message="Invalid status transition")
    refused = plan(replace(base, mall=replace(base.mall, rejection=refusal)), now=NOW)
    assert not refused.read_first
    if outcome.startswith("="):
        assert refused.settled
    else:
        assert refused.steps == ()
        assert refused.deferral is None
        assert refused.attention is not None
        assert refused.attention.code == "mall_rejected"

    older = replace(refusal, based_on_seq=4)
    assert plan(replace(base, mall=replace(base.mall, rejection=older)), now=NOW) == plan(base, now=NOW)
