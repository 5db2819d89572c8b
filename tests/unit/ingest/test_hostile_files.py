"""Import files and exports with arbitrary damage (hypothesis): truncated lines, BOMs, NUL, invalid UTF-8,
broken CSV quoting, random bytes, a Windows-1250 export. Nothing crashes; every bad line is reported with
its line number; every good line comes through as its snapshot, with its line number."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from mallbridge_ingest.adapters.export_csv import parse_export
from mallbridge_ingest.adapters.export_mapping import SAMPLE_CSV, CsvExportMapping
from mallbridge_ingest.adapters.snapshot_files import open_snapshot_file, read_snapshot_file
from mallbridge_ingest.adapters.validation import validate_many

STATUSES = ["pending", "vyřízená", "vyřizuje se", "stornovaná", "settled"]


def good_fields(i: int, status: str) -> dict[str, str]:
    return {"order_number": f"ORD-{i}", "mall_order_id": str(10**9 + i), "status": status}


def _no_line_break(data: bytes) -> bytes:
    return data.replace(b"\n", b" ").replace(b"\r", b" ")


def damage(good: bytes) -> st.SearchStrategy[bytes]:
    """A line that must be refused: made from a good one, or random bytes that are no snapshot at all."""
    cut = st.integers(1, max(1, len(good) - 2)).map(lambda n: good[:n])
    invalid_utf8 = st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"\x80"]).map(
        lambda b: good[:4] + b + good[4:]
    )
    random = st.binary(min_size=1, max_size=60).map(_no_line_break).filter(lambda b: b.strip() != b"")
    return st.one_of(cut, invalid_utf8, random.map(lambda b: b"\x00" + b))


# ---- import files: JSON Lines --------------------------------------------------------------------------


def jsonl_good(i: int, status: str) -> bytes:
    return json.dumps(good_fields(i, status), ensure_ascii=False).encode()


@st.composite
def jsonl_file(draw: st.DrawFn) -> tuple[bytes, dict[int, str], set[int]]:
    lines: list[bytes] = []
    good: dict[int, str] = {}
    bad: set[int] = set()
    for i in range(draw(st.integers(1, 25))):
        line = jsonl_good(i, draw(st.sampled_from(STATUSES)))
        kind = draw(st.sampled_from(["good", "good", "bom", "nul", "damaged"]))
        if kind == "bom":
            line = b"\xef\xbb\xbf" + line  # a second file's BOM in the middle of the first
        elif kind == "nul":
            line = line[:-1] + b', "x": "\x00"}'  # NUL unescaped inside a string: not JSON
        elif kind == "damaged":
            line = draw(damage(line))
        lines.append(line)
        (good.__setitem__(len(lines), f"ORD-{i}") if kind in ("good", "bom") else bad.add(len(lines)))
        if draw(st.booleans()):
            lines.append(draw(st.sampled_from([b"", b"   ", b"\t"])))  # blank lines are skipped
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    prefix = draw(st.sampled_from([b"", b"\xef\xbb\xbf"]))
    tail = draw(st.sampled_from([b"", ending]))  # the last line may lack its line break
    return prefix + ending.join(lines) + tail, good, bad


def read_all(path: Path, fmt: str) -> tuple[dict[int, str], set[int]]:
    with open_snapshot_file(path) as stream:
        raw = list(read_snapshot_file(stream, fmt))
    valid, rejections = validate_many((r.line, r.data) for r in raw if r.error is None)
    reported = {r.line for r in raw if r.error is not None} | {r.index for r in rejections}
    return {line: s.order_number for line, s in valid}, reported


@given(jsonl_file())
def test_a_damaged_jsonl_file_reports_every_bad_line_and_reads_every_good_one(
    tmp_path_factory: Any, case: tuple[bytes, dict[int, str], set[int]]
) -> None:
    data, good, bad = case
    path = tmp_path_factory.mktemp("jsonl") / "orders.jsonl"
    path.write_bytes(data)
    read, reported = read_all(path, "jsonl")
    assert read == good
    assert reported == bad


# ---- import files: CSV -----------------------------------------------------------------------------------

CSV_HEADER = b"order_number,mall_order_id,status,tracking_number"


@st.composite
def csv_file(draw: st.DrawFn) -> tuple[bytes, dict[int, str], set[int]]:
    lines = [CSV_HEADER]
    good: dict[int, str] = {}
    bad: set[int] = set()
    for i in range(draw(st.integers(1, 25))):
        f = good_fields(i, draw(st.sampled_from(STATUSES)))
        tracking = draw(st.sampled_from(["", "DR1", '"DR,2"', '"say ""hi"""']))  # quoting done right
        line = f"{f['order_number']},{f['mall_order_id']},{f['status']},{tracking}".encode()
        kind = draw(st.sampled_from(["good", "good", "bom", "open_quote", "too_many", "nul_status", "bad_bytes"]))
        if kind == "bom":
            line = b"\xef\xbb\xbf" + line
        elif kind == "open_quote":
            line = b'"' + line  # a quote left open: the line is refused, not the lines after it
        elif kind == "too_many":
            line += b",x,y"
        elif kind == "nul_status":
            line = line.replace(f["status"].encode(), f["status"].encode() + b"\x00", 1)
        elif kind == "bad_bytes":
            line = line.replace(b"ORD", b"O\xffD", 1)
        lines.append(line)
        (good.__setitem__(len(lines), f"ORD-{i}") if kind in ("good", "bom") else bad.add(len(lines)))
    ending = draw(st.sampled_from([b"\n", b"\r\n"]))
    return ending.join(lines) + ending, good, bad


@given(csv_file())
def test_a_damaged_csv_file_reports_every_bad_line_and_reads_every_good_one(
    tmp_path_factory: Any, case: tuple[bytes, dict[int, str], set[int]]
) -> None:
    data, good, bad = case
    path = tmp_path_factory.mktemp("csv") / "orders.csv"
    path.write_bytes(data)
    read, reported = read_all(path, "csv")
    assert read == good
    assert reported == bad


@given(st.binary(max_size=400), st.sampled_from(["jsonl", "csv"]))
def test_arbitrary_bytes_never_crash_the_reader(tmp_path_factory: Any, data: bytes, fmt: str) -> None:
    path = tmp_path_factory.mktemp("any") / f"orders.{fmt}"
    path.write_bytes(CSV_HEADER + b"\n" + data if fmt == "csv" else data)
    read, reported = read_all(path, fmt)
    lines = data.count(b"\n") + data.count(b"\r") + 2
    assert all(1 <= line <= lines for line in {*read, *reported})


# ---- export documents (the export-URL mapping) ------------------------------------------------------------

EXPORT_HEADER = "Číslo objednávky;ID MALL;Stav;Číslo zásilky;Změněno"


@st.composite
def export_document(draw: st.DrawFn) -> tuple[bytes, CsvExportMapping, dict[int, str], set[int]]:
    chosen = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1250"]))
    encoding = "utf-8" if chosen == "utf-8-sig" else chosen  # the BOM: once, at the start of the document
    lines = [EXPORT_HEADER.encode(encoding)]
    good: dict[int, str] = {}
    bad: set[int] = set()
    for i in range(draw(st.integers(1, 20))):
        f = good_fields(i, draw(st.sampled_from(STATUSES)))
        line = f"{f['order_number']};{f['mall_order_id']};{f['status']};;20.11.2026 14:05".encode(encoding)
        kind = draw(st.sampled_from(["good", "good", "good", "open_quote", "short", "bad_status", "bad_byte"]))
        if kind == "open_quote":
            line = b'"' + line
        elif kind == "short":
            line = line.rsplit(b";", 2)[0]
        elif kind == "bad_status":
            line = line.replace(f["status"].encode(encoding), "doručeno".encode(encoding), 1)
        elif kind == "bad_byte":
            line = line.replace(b"ORD", b"O\x98D", 1)  # 0x98: not UTF-8, and undefined in Windows-1250 too
        lines.append(line)
        (good.__setitem__(len(lines), f"ORD-{i}") if kind == "good" else bad.add(len(lines)))
    utf8_only = CsvExportMapping("utf-8 only", SAMPLE_CSV.columns, encodings=("utf-8",))
    mapping = utf8_only if chosen == "utf-8" else SAMPLE_CSV
    bom = b"\xef\xbb\xbf" if chosen == "utf-8-sig" else b""
    return bom + b"\r\n".join(lines) + b"\r\n", mapping, good, bad


@given(export_document())
def test_a_damaged_export_reports_every_bad_row_and_reads_every_good_one(
    case: tuple[bytes, CsvExportMapping, dict[int, str], set[int]],
) -> None:
    data, mapping, good, bad = case
    parsed = parse_export(mapping, data)
    assert {line: s.order_number for line, s in parsed.snapshots} == good
    assert {r.index for r in parsed.rejections} == bad
    assert all(s.changed_at is not None for _, s in parsed.snapshots)


def test_a_windows_1250_export_reads_its_czech_labels() -> None:
    text = f"{EXPORT_HEADER}\r\nA-1;1000000001;vyřízená;DR1;20.11.2026 14:05\r\nA-2;1000000002;částečně vyřízená;;\r\n"
    parsed = parse_export(SAMPLE_CSV, text.encode("cp1250"))
    assert [(line, s.status_label) for line, s in parsed.snapshots] == [(2, "vyřízená"), (3, "částečně vyřízená")]
    assert parsed.rejections == []
