"""Parallel import, the pure parts: which worker owns a line, the rebuild of one worker's orders, the
merged summary and the number of workers."""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mallbridge_core.tenants import Tenant
from mallbridge_core.topics import Topics
from mallbridge_ingest.adapters.snapshot_files import RawLine, parse_jsonl_line
from mallbridge_ingest.adapters.validation import validate_snapshot
from mallbridge_ingest.imports import command, processes
from mallbridge_ingest.imports import shards as shards_module
from mallbridge_ingest.imports.command import PARALLEL_FROM_LINES, resolve_workers
from mallbridge_ingest.imports.shards import jsonl_line_shard, order_shard, shard_of
from mallbridge_ingest.imports.summary import ImportSummary, merge_summaries
from mallbridge_ingest.metrics import IngestMetrics
from mallbridge_ingest.service import IngestService
from mallbridge_schema.serde import event_key
from mallbridge_schema.snapshot import OrderSnapshot
from tests.unit.ingest.fakes import FakeEventLog
from tests.unit.ingest.support import snap

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACME = Tenant(tenant_id="acme", mall_client_id=None, ingest_secret=None)


def line(order_number: object, number: int = 1) -> RawLine:
    return RawLine(number, {"order_number": order_number, "mall_order_id": "1", "status": "pending"})


@given(
    st.text(min_size=1, max_size=20).filter(lambda s: s.strip()),
    st.sampled_from(["", " ", "\t", "\u00a0", "\u3000", " \n"]),
    st.sampled_from(["", " ", "\u2003", "\r"]),
    st.integers(min_value=2, max_value=8),
)
def test_every_spelling_of_one_order_goes_to_one_worker(core: str, before: str, after: str, shards: int) -> None:
    """Whatever whitespace surrounds an order number, the worker that owns it is the one validation's
    reading names (including characters Python strips and pydantic does not, such as U+001F)."""
    spelled = order_shard(line(before + core + after), shards)
    assert spelled == order_shard(line(core), shards)
    validated = validate_snapshot(1, line(before + core + after).data)
    if isinstance(validated, OrderSnapshot):  # e.g. not when the core is 101 characters after stripping
        assert spelled == shard_of(validated.order_number.encode(), shards)


@given(st.text(min_size=1, max_size=30).filter(lambda s: s.strip() == s), st.integers(min_value=2, max_value=8))
def test_the_rebuild_filter_and_the_line_owner_agree(order_number: str, shards: int) -> None:
    """A worker rebuilds the orders whose key it owns: the same shard as the lines of that order."""
    key = event_key("acme", order_number)
    assert shard_of(key.partition(b":")[2], shards) == order_shard(line(order_number), shards)


def test_characters_python_strips_but_validation_keeps_stay_part_of_the_order_number() -> None:
    for shards in (2, 3, 5):
        assert order_shard(line("A-1\x1f"), shards) == shard_of(b"A-1\x1f", shards)
        assert order_shard(line(" A-1\x1f "), shards) == shard_of(b"A-1\x1f", shards)


def test_lines_without_a_usable_order_number_go_to_worker_zero() -> None:
    assert order_shard(RawLine(3, error="not valid JSON"), 4) == 0
    assert order_shard(RawLine(3, ["a list"]), 4) == 0
    assert order_shard(line(12345), 4) == 0
    assert order_shard(RawLine(3, {"status": "pending"}), 4) == 0


_KEYS = st.sampled_from(["mall_order_id", "status", "status_label", "tracking_url", "note", "order_number"])
_VALUES = st.one_of(st.text(max_size=12), st.integers(), st.none(), st.booleans())


@st.composite
def _jsonl_lines(draw: st.DrawFn) -> str:
    """Snapshot-like JSON lines: the order number first or elsewhere, any text (quotes, backslashes,
    escapes), nested objects with their own order_number, other spacing, sometimes no order number."""
    data: dict[str, object] = {}
    if draw(st.booleans()):
        data["order_number"] = draw(st.one_of(st.text(max_size=12), st.integers()))
    extra = draw(st.dictionaries(_KEYS, st.one_of(_VALUES, st.dictionaries(_KEYS, _VALUES, max_size=2)), max_size=4))
    data = {**data, **extra} if draw(st.booleans()) else {**extra, **data}
    separators = draw(st.sampled_from([(", ", ": "), (",", ":"), (" , ", " :  ")]))
    text = json.dumps(data, ensure_ascii=draw(st.booleans()), separators=separators)
    return draw(st.sampled_from(["", " ", "\t"])) + text


@given(_jsonl_lines(), st.integers(min_value=2, max_value=6))
def test_a_line_has_the_same_owner_read_from_its_text_as_parsed(text: str, shards: int) -> None:
    """A worker skips the other workers' lines before parsing them: the owner from the text must be the
    owner of the parsed line, or a line would go to a worker that did not rebuild its order."""
    assert jsonl_line_shard(text, shards) == order_shard(parse_jsonl_line(1, text), shards)


@given(st.text(max_size=40), st.integers(min_value=2, max_value=6))
def test_any_text_has_one_owner(text: str, shards: int) -> None:
    """Unreadable lines too: exactly one worker keeps (and reports) each line."""
    owner = jsonl_line_shard(text, shards)
    assert [s for s in range(shards) if jsonl_line_shard(text, shards) == s] == [owner]


def test_a_repeated_order_number_key_is_owned_as_parsed() -> None:
    """JSON's last duplicate key wins when parsed; the first one must not decide the owner."""
    repeated = '{"order_number": "A", "status": "pending", "order_number": "B"}'
    assert shard_of(b"A", 3) != shard_of(b"B", 3)
    assert jsonl_line_shard(repeated, 3) == order_shard(parse_jsonl_line(1, repeated), 3) == shard_of(b"B", 3)


def test_the_usual_line_is_owned_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(number: int, text: str) -> RawLine:
        raise AssertionError("parsed")

    monkeypatch.setattr(shards_module, "parse_jsonl_line", no_parsing)
    usual = '{"order_number": " 2026-000017 ", "mall_order_id": "1000000000017", "status": "vyřizuje se"}'
    assert jsonl_line_shard(usual, 3) == shard_of(b"2026-000017", 3)
    with pytest.raises(AssertionError, match="parsed"):  # an escape: parsed (it could spell the key)
        jsonl_line_shard('{"order_number": "A", "order_\\u006eumber": "B"}', 3)


def test_orders_spread_over_the_workers() -> None:
    owners = [order_shard(line(f"2026-{i:06d}"), 3) for i in range(3000)]
    assert {owners.count(s) for s in range(3)} <= set(range(900, 1100))
    assert all(order_shard(line(f"2026-{i:06d}"), 1) == 0 for i in range(100))


async def test_a_worker_rebuilds_only_its_own_orders() -> None:
    log = FakeEventLog()
    writer = IngestService(
        log=log, tenants={"acme": ACME}, topics=Topics(prefix="t."), metrics=IngestMetrics(), clock=lambda: NOW
    )
    await writer.prepare()
    orders = [f"O-{i}" for i in range(40)]
    await writer.ingest("acme", list(enumerate(snap(o) for o in orders)), source="import")

    for shard in range(2):
        worker = IngestService(
            log=log, tenants={"acme": ACME}, topics=Topics(prefix="t."), metrics=IngestMetrics(), clock=lambda: NOW
        )

        def owned(order: bytes, shard: int = shard) -> bool:
            return shard_of(order, 2) == shard

        report = await worker.prepare(owns_order=owned)
        mine = {o for o in orders if shard_of(o.encode(), 2) == shard}
        assert report.orders == len(mine) > 0
        assert {o for o in orders if worker.known_state("acme", o).seen} == mine


def test_merged_summary_adds_up_and_keeps_the_first_abort() -> None:
    a = ImportSummary(read=5, changed=3, unchanged=1, events=4, rejected=[(7, "line 7: x")], seconds=1.5)
    b = ImportSummary(read=4, changed=4, events=6, rejected=[(2, "line 2: y")], aborted="log gone", seconds=2.0)
    a.cpu_seconds, b.cpu_seconds = 1.0, 1.25
    merged = merge_summaries([a, b])
    assert (merged.read, merged.changed, merged.unchanged, merged.events) == (9, 7, 1, 10)
    assert merged.rejected == [(2, "line 2: y"), (7, "line 7: x")]
    assert merged.aborted == "log gone"
    assert (merged.seconds, merged.cpu_seconds) == (2.0, 2.25)


def test_workers_as_asked_or_by_file_size_on_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: 8)
    kafka, sqlite = "kafka://127.0.0.1:9092", "sqlite:///tmp/x.db"
    assert resolve_workers(3, lines=10, log_url=kafka) == 3
    assert resolve_workers(None, lines=PARALLEL_FROM_LINES - 1, log_url=kafka) == 1
    assert resolve_workers(None, lines=PARALLEL_FROM_LINES, log_url=kafka) == command.MAX_AUTO_WORKERS
    assert resolve_workers(None, lines=10**7, log_url=sqlite) == 1
    assert resolve_workers(1, lines=10**7, log_url=sqlite) == 1
    monkeypatch.setattr(os, "cpu_count", lambda: 2)
    assert resolve_workers(None, lines=10**6, log_url=kafka) == 2
    with pytest.raises(ValueError, match="needs a Kafka log"):
        resolve_workers(2, lines=10, log_url=sqlite)


class _Exited:
    def __init__(self, exitcode: int | None) -> None:
        self.exitcode = exitcode


def test_a_worker_that_dies_without_a_word_fails_the_import_instead_of_hanging_it() -> None:
    workers = [_Exited(None), _Exited(-9), _Exited(0), _Exited(2)]
    parts = {2: ImportSummary(read=1)}
    failures = {3: "ValueError: reported"}
    processes._note_silent_exits(workers, parts, failures)  # type: ignore[arg-type]
    assert failures == {1: "exited with code -9", 3: "ValueError: reported"}
