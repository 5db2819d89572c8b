"""The reconciler over EVERY combination (ARCHITECTURE.md §2, §6): MALL status (8) × who set it (MALL, us; and
for `open` also "assumed": nothing heard from MALL yet) × FastCentrik status (5, giving the desired status
open/shipping/shipped/cancelled, and delivered with a delivery date) × delivery date × MDP × tracking present × MALL's
`confirmed` (unknown, observed false, true), each with the exact expected plan.

The expectations are written out by hand in TABLE below; nothing is recomputed with the code under test.
Outcome notation (one column with tracking, one without):
    =                 nothing to send (MALL already has the desired status)
    =s                nothing to send; the plan reports `s` as the status the order should have (a final
                      status that ends the order normally: MALL Delivery delivered it, the parcel came back,
                      MALL Delivery lost it)
    a > b             PUT bodies in order, from STEP below; the first gets `"confirmed": true` exactly
                      when MALL's side is not known to be confirmed (checked for all three values)
    ... ~s:keyword    then a deferral of status s whose reason contains `keyword`
    !code             an attention item with that code, nothing sent
Where no status PUT is due (`=` and a bare `~`) on an order MALL has open, shipping or shipped and is
observed to have unconfirmed, the plan is one confirm-only step `{"confirmed": true}`; never on a blocked
or final order, never with an attention item.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest

from mallbridge_core.domain.projection import Rejection
from mallbridge_core.domain.reconciler import PendingRead, PutStep, plan
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

# ARCHITECTURE.md §2, copied by hand: (FastCentrik status, has delivery date) → desired MALL status.
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
WAIT_OPEN = "waiting for MALL to open the order"

# mall      by    fc                 date mdp | with tracking                        | without tracking
TABLE = f"""
blocked    *     pending            *    *   | =                                    | =
blocked    *     partially_settled  *    *   | ~shipping:{WAIT_OPEN}                | ~shipping:{WAIT_OPEN}
blocked    *     in_process         *    *   | ~shipping:{WAIT_OPEN}                | ~shipping:{WAIT_OPEN}
blocked    *     settled            *    no  | ~shipped:{WAIT_OPEN}                 | ~shipped:{WAIT_OPEN}
blocked    *     settled            *    yes | ~shipping:{WAIT_OPEN}                | ~shipping:{WAIT_OPEN}
blocked    *     cancelled          *    *   | ~cancelled:{WAIT_OPEN}               | ~cancelled:{WAIT_OPEN}

open       *     pending            *    *   | =                                    | =
open       *     partially_settled  *    *   | shipping                             | shipping
open       *     in_process         *    *   | shipping                             | shipping
open       *     settled            no   no  | shipped+T                            | {NO_TRACKING}
open       *     settled            no   yes | shipping > shipped                   | shipping > shipped
open       *     settled            yes  no  | shipped+T > delivered+D              | {NO_TRACKING}
open       *     settled            yes  yes | shipping > shipped {MDP_WAIT}        | shipping > shipped {MDP_WAIT}
open       *     cancelled          *    *   | cancelled                            | cancelled

shipping   *     pending            *    *   | !backwards                           | !backwards
shipping   *     partially_settled  *    *   | =                                    | =
shipping   *     in_process         *    *   | =                                    | =
shipping   *     settled            no   no  | shipped+T                            | {NO_TRACKING}
shipping   *     settled            no   yes | shipped                              | shipped
shipping   *     settled            yes  no  | shipped+T > delivered+D              | {NO_TRACKING}
shipping   *     settled            yes  yes | shipped {MDP_WAIT}                   | shipped {MDP_WAIT}
shipping   *     cancelled          *    *   | cancelled                            | cancelled

shipped    *     pending            *    *   | !backwards                           | !backwards
shipped    *     partially_settled  *    *   | !backwards                           | !backwards
shipped    *     in_process         *    *   | !backwards                           | !backwards
shipped    *     settled            no   *   | =                                    | =
shipped    *     settled            yes  no  | delivered+D                          | delivered+D
shipped    *     settled            yes  yes | {MDP_WAIT}                           | {MDP_WAIT}
shipped    *     cancelled          *    *   | !cancel_after_shipped                | !cancel_after_shipped

delivered  us    pending            *    *   | !mall_final                          | !mall_final
delivered  us    partially_settled  *    *   | !mall_final                          | !mall_final
delivered  us    in_process         *    *   | !mall_final                          | !mall_final
delivered  us    settled            no   no  | !mall_final                          | !mall_final
delivered  us    settled            no   yes | =delivered                           | =delivered
delivered  us    settled            yes  *   | =                                    | =
delivered  us    cancelled          *    *   | !mall_final                          | !mall_final
delivered  mall  pending            *    *   | !mall_final                          | !mall_final
delivered  mall  partially_settled  *    *   | !mall_final                          | !mall_final
delivered  mall  in_process         *    *   | !mall_final                          | !mall_final
delivered  mall  settled            no   *   | =delivered                           | =delivered
delivered  mall  settled            yes  *   | =                                    | =
delivered  mall  cancelled          *    *   | !mall_final                          | !mall_final

returned   *     pending            *    *   | !mall_final                          | !mall_final
returned   *     partially_settled  *    *   | !mall_final                          | !mall_final
returned   *     in_process         *    *   | !mall_final                          | !mall_final
returned   *     settled            no   *   | =returned                            | =returned
returned   *     settled            yes  *   | !mall_final                          | !mall_final
returned   *     cancelled          *    *   | =returned                            | =returned

cancelled  us    pending            *    *   | !mall_final                          | !mall_final
cancelled  us    partially_settled  *    *   | !mall_final                          | !mall_final
cancelled  us    in_process         *    *   | !mall_final                          | !mall_final
cancelled  us    settled            *    *   | !mall_final                          | !mall_final
cancelled  us    cancelled          *    *   | =                                    | =
cancelled  mall  pending            *    *   | !cancelled_at_mall                   | !cancelled_at_mall
cancelled  mall  partially_settled  *    *   | !cancelled_at_mall                   | !cancelled_at_mall
cancelled  mall  in_process         *    *   | !cancelled_at_mall                   | !cancelled_at_mall
cancelled  mall  settled            *    *   | !cancelled_at_mall                   | !cancelled_at_mall
cancelled  mall  cancelled          *    *   | =                                    | =

lost       *     pending            *    *   | !mall_final                          | !mall_final
lost       *     partially_settled  *    *   | !mall_final                          | !mall_final
lost       *     in_process         *    *   | !mall_final                          | !mall_final
lost       *     settled            no   *   | =lost                                | =lost
lost       *     settled            yes  *   | !mall_final                          | !mall_final
lost       *     cancelled          *    *   | =lost                                | =lost
"""

Confirmed = bool | None
Case = tuple[str, str, str, bool, bool, bool, Confirmed, str]  # mall, by, fc, date, mdp, tracking, confirmed, outcome
CONFIRMED: tuple[Confirmed, ...] = (None, False, True)
NOT_FINAL = {"open", "shipping", "shipped"}


def _expand(flag: str) -> tuple[bool, ...]:
    return {"no": (False,), "yes": (True,), "*": (False, True)}[flag]


def _setters(mall: str, flag: str) -> tuple[str, ...]:
    if flag != "*":
        return (flag,)
    return ("assumed", "us", "mall") if mall == "open" else ("us", "mall")


def _cases() -> list[Case]:
    cases: list[Case] = []
    for line in TABLE.strip().splitlines():
        if not line.strip():
            continue
        key, with_tracking, without_tracking = (part.strip() for part in line.split("|"))
        mall, by, fc, date, mdp = key.split()
        for who, has_date, is_mdp, confirmed in itertools.product(
            _setters(mall, by), _expand(date), _expand(mdp), CONFIRMED
        ):
            cases.append((mall, who, fc, has_date, is_mdp, True, confirmed, with_tracking))
            cases.append((mall, who, fc, has_date, is_mdp, False, confirmed, without_tracking))
    return cases


CASES = _cases()


def test_the_table_covers_every_combination_exactly_once() -> None:
    keys = [case[:7] for case in CASES]
    expected = {
        (mall, who, *rest)
        for mall in [s.value for s in MallStatus]
        for who in _setters(mall, "*")
        for rest in itertools.product(
            ["pending", "partially_settled", "in_process", "settled", "cancelled"],
            (False, True),
            (False, True),
            (False, True),
            CONFIRMED,
        )
    }
    assert len(keys) == len(set(keys)) == len(expected) == (7 * 2 + 3) * 5 * 2 * 2 * 2 * 3
    assert set(keys) == expected


def _id(case: Case) -> str:
    mall, who, fc, has_date, mdp, tracking, confirmed, _ = case
    flags = [f for f, on in (("date", has_date), ("mdp", mdp), ("tracking", tracking)) if on]
    return "-".join([mall, f"by-{who}", fc, *flags, f"confirmed-{confirmed}"])


def _state(case: Case, *, seq: int = 1):  # type: ignore[no-untyped-def]
    mall, who, fc, has_date, mdp, tracking, confirmed, _ = case
    facts = first_seen(
        fc,
        delivered_at=DELIVERED_RAW if has_date else None,
        tracking=(TN, TU) if tracking else (None, None),
        mdp=mdp,
        seq=seq,
    )
    # MALL has the tracking FastCentrik gave (a correction is test_tracking_corrections' subject)
    known = (TN, TU) if tracking and mall != "blocked" and mall != "open" else (None, None)
    return with_mall(state_of([facts]), mall, confirmed=confirmed, by=who, tracking=known)  # type: ignore[arg-type]


def _expected_bodies(outcome: str, mall: str, confirmed: Confirmed) -> list[dict[str, Any]]:
    """The PUT bodies the outcome column stands for, with the confirmation rules of the docstring."""
    if outcome.startswith("!"):
        return []
    steps_text, _, _ = outcome.partition("~")
    names = [name.strip() for name in steps_text.split(">") if name.strip() and not name.strip().startswith("=")]
    bodies = [dict(STEP[name]) for name in names]
    if bodies and confirmed is not True:
        bodies[0] = {"status": bodies[0]["status"], "confirmed": True, **bodies[0]}
    if not bodies and confirmed is False and mall in NOT_FINAL:
        bodies = [{"confirmed": True}]  # MALL changed the order: confirm it, once
    return bodies


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_plan(case: Case) -> None:
    mall, _, fc, has_date, _, _, confirmed, outcome = case
    result = plan(_state(case), now=NOW)

    desired = DESIRED[(fc, has_date)]
    assert not result.read_first
    assert result.read is None
    if outcome.startswith("!"):
        assert result.steps == ()
        assert result.deferral is None
        assert result.attention is not None
        assert result.attention.code == outcome[1:]
        assert result.attention.reason  # a sentence for the merchant
        assert not result.attention.acknowledged
        assert result.desired == desired
        return
    assert result.attention is None
    bodies = _expected_bodies(outcome, mall, confirmed)
    assert [step.body for step in result.steps] == bodies
    for step in result.steps:
        assert step.status.value == step.body.get("status", mall)  # confirm-only: the status it has
    for step in result.steps[1:]:
        assert "confirmed" not in step.body
    if outcome.startswith("="):
        assert result.desired == (outcome[1:] or desired)
        assert result.deferral is None
        assert result.settled == (not bodies)
        return
    assert result.desired == desired
    _, _, deferral_text = outcome.partition("~")
    if deferral_text:
        status, _, keyword = deferral_text.partition(":")
        assert result.deferral is not None
        assert result.deferral.status == status
        assert keyword in result.deferral.reason
    else:
        assert result.deferral is None


def test_exact_bodies_spelled_out() -> None:
    """Rows of the table without the notation: every key and value as it goes on the wire."""
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

    confirm = plan(with_mall(state_of([first_seen("in_process")]), "shipping", confirmed=False, by="mall"), now=NOW)
    assert [(step.status, step.body) for step in confirm.steps] == [(MallStatus.SHIPPING, {"confirmed": True})]
    assert confirm.steps[0].confirm_only

    blocked = plan(with_mall(state_of([first_seen("in_process")]), "blocked", confirmed=False, by="mall"), now=NOW)
    assert blocked.deferral is not None
    assert blocked.deferral.reason == (
        "waiting for MALL to open the order: MALL has it blocked (not paid or approved yet), and the partner may "
        "not change a blocked order. Once MALL opens it, mallbridge sends shipping by itself."
    )

    cancelled = plan(with_mall(state_of([first_seen("in_process")]), "cancelled", confirmed=False, by="mall"), now=NOW)
    assert cancelled.attention is not None
    assert cancelled.attention.reason.startswith("MALL cancelled this order: do not ship it; cancel it in FastCentrik.")


@pytest.mark.parametrize("case", CASES, ids=_id)
def test_in_doubt_and_refused_variants(case: Case) -> None:
    """Every row again, (a) with a PUT whose outcome is unknown: read MALL first, whatever the row says;
    (b) with MALL's refusal of the row's own first step not yet followed by a read: read MALL first;
    (c) the same refusal once read: it stands (attention `mall_rejected`, nothing sent) when the row would
    send that very body again, and changes nothing otherwise; (d) a read refusal made on an older
    FastCentrik seq (FastCentrik changed since) changes nothing."""
    base = _state(case, seq=5)
    expected = plan(base, now=NOW)

    in_doubt = base._replace(mall=base.mall._replace(last_request_no=3, settled_request_no=2))
    doubt_plan = plan(in_doubt, now=NOW)
    assert doubt_plan.read_first
    assert doubt_plan.read == PendingRead("outcome_unknown", 3)
    assert (doubt_plan.steps, doubt_plan.deferral, doubt_plan.attention) == ((), None, None)

    first = expected.steps[0] if expected.steps else PutStep(MallStatus.SHIPPED, {"status": "shipped"})
    refusal = Rejection(first.status, 5, 400, "Invalid status transition", request_no=3, body=first.body)
    unread = plan(
        base._replace(mall=base.mall._replace(rejection=refusal, last_request_no=3, settled_request_no=3)), now=NOW
    )
    assert unread.read == PendingRead("refusal", 3)
    assert unread.steps == ()

    read = replace(refusal, read_by=UUID(int=7))
    refused = plan(base._replace(mall=base.mall._replace(rejection=read)), now=NOW)
    assert not refused.read_first
    if expected.steps:
        assert refused.steps == ()
        assert refused.deferral is None
        assert refused.attention is not None
        assert refused.attention.code == "mall_rejected"
        assert "HTTP 400: Invalid status transition" in refused.attention.reason
    else:
        assert refused == expected

    older = replace(read, based_on_seq=4)
    assert plan(base._replace(mall=base.mall._replace(rejection=older)), now=NOW) == expected
