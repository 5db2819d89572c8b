"""`--verify` reads a batch in phases (decode, verify, fold: reader.py); where a phase ends changes nothing.

Random logs of the three topics (parity_log.py: events, unknown types, records that are not events) are
read with the verifier twice: in phases of one or two records, and in the default phases (longer than the
whole log here). Report and verification must be the same, with and without timelines kept.
"""

from __future__ import annotations

import asyncio
from unittest.mock import patch

from hypothesis import given
from hypothesis import strategies as st

from mallbridge_audit import reader
from mallbridge_audit.model import Report
from mallbridge_audit.reader import read_log, take_end_offsets
from mallbridge_audit.report import ReportBuilder
from mallbridge_audit.scope import Scope
from mallbridge_audit.verify import Verifier

from .parity_log import AS_OF, NUMBERS, SETTINGS, TOPICS, ListLog, Rows, logs


async def _verified(log: ListLog, scope: Scope) -> Report:
    builder, verifier = ReportBuilder(scope), Verifier(scope)
    await read_log(log, await take_end_offsets(log, [TOPICS]), builder, verifier=verifier)  # type: ignore[arg-type]
    return builder.finish(as_of=AS_OF, verify=verifier.finish(as_of=AS_OF))


@SETTINGS
@given(logs, st.sampled_from([1, 2]), st.booleans())
def test_where_a_phase_ends_changes_neither_report_nor_verification(
    log: tuple[Rows, Rows, Rows], phase: int, timelines: bool
) -> None:
    order_rows, sync_rows, operator_rows = log
    topics = ListLog(
        {TOPICS.order_events: order_rows, TOPICS.sync_events: sync_rows, TOPICS.operator_events: operator_rows}
    )
    scope = Scope(orders=frozenset(NUMBERS[:2])) if timelines else Scope()
    whole = asyncio.run(_verified(topics, scope))
    with patch.object(reader, "PHASE_RECORDS", phase):
        phased = asyncio.run(_verified(topics, scope))
    assert whole.verify is not None
    assert phased == whole


def test_the_default_phase_is_longer_than_these_logs() -> None:
    """Otherwise the test above would compare phased reads with phased reads."""
    assert reader.PHASE_RECORDS > 30
