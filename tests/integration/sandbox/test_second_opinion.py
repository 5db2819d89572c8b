"""Over HTTP: the sandbox accepts a status PUT exactly when mallbridge_schema's graph (the publisher's) says legal.

The sandbox's rules are written apart from mallbridge_schema (status_rules.py). This test asks both about
every (status, status, mdp) and asserts they agree today; a failure means one of them misreads MALL, and a
person decides which from the reference's sources.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from mallbridge_schema.statuses import MallStatus
from mallbridge_schema.transitions import is_partner_transition
from tests.integration.sandbox.support import TRACKING, PartnerClient, Sandbox


def complete_body(target: MallStatus, *, mdp: bool) -> dict[str, Any]:
    """Everything a move to `target` needs, so only the graph can refuse it."""
    body: dict[str, Any] = {"status": target.value, "confirmed": True}
    if target == MallStatus.SHIPPED and not mdp:
        body |= TRACKING
    if target == MallStatus.DELIVERED:
        body["delivered_at"] = "2026-11-20 09:30:00"
    return body


@pytest.mark.parametrize("mdp", [False, True])
def test_the_sandbox_and_the_schema_agree_on_every_pair(sandbox: Sandbox, acme: PartnerClient, mdp: bool) -> None:
    disagreements = []
    for current, target in itertools.product(MallStatus, MallStatus):
        order = sandbox.create(status=current.value, confirmed=current != MallStatus.BLOCKED, mdp=mdp)
        response = acme.put(f"/orders/{order['id']}", complete_body(target, mdp=mdp))
        assert response.status_code in (200, 400), response.text
        if (response.status_code == 200) != is_partner_transition(current, target, mdp=mdp):
            disagreements.append((current.value, target.value, response.status_code, response.text[:200]))
    assert disagreements == [], f"the sandbox and mallbridge_schema disagree (mdp={mdp}): {disagreements}"
