"""Readers of import files: JSON Lines and CSV, with line numbers."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from mallbridge_ingest.adapters.snapshot_files import (
    SnapshotFileError,
    count_lines,
    detect_format,
    read_snapshot_file,
)


def test_jsonl_lines_keep_their_numbers_and_blank_lines_are_skipped() -> None:
    text = '{"a": 1}\n\n  \nnot json\n[1]\n{"b": 2}\n'
    lines = list(read_snapshot_file(io.StringIO(text), "jsonl"))
    assert [(r.line, r.data, r.error is not None) for r in lines] == [
        (1, {"a": 1}, False),
        (4, None, True),
        (5, [1], False),
        (6, {"b": 2}, False),
    ]
    assert "not valid JSON" in (lines[1].error or "")


def test_csv_rows_drop_empty_cells_and_report_line_numbers() -> None:
    text = (
        'order_number,mall_order_id,status,tracking_number\nA,1,pending,\n"B,2,settled,X\nB,2,settled,X\n,,,\n'
        "C,3,pending,,extra\n"
    )
    lines = list(read_snapshot_file(io.StringIO(text), "csv"))
    assert lines[0].line == 2
    assert lines[0].data == {"order_number": "A", "mall_order_id": "1", "status": "pending"}
    # A quote left open is its own line's error: no snapshot value spans lines, so the next line is a line.
    assert (lines[1].line, lines[1].data) == (3, None)
    assert "a value cannot span lines" in (lines[1].error or "")
    assert (lines[2].line, lines[2].data["tracking_number"]) == (4, "X")
    assert lines[3].line == 6
    assert lines[3].error is not None
    assert "more fields" in lines[3].error
    assert len(lines) == 4


def test_csv_without_required_columns_is_refused() -> None:
    with pytest.raises(SnapshotFileError, match="mall_order_id"):
        list(read_snapshot_file(io.StringIO("order_number,status\nA,pending\n"), "csv"))


@pytest.mark.parametrize(
    ("name", "given", "expected"),
    [("a.jsonl", None, "jsonl"), ("a.NDJSON", None, "jsonl"), ("a.csv", None, "csv"), ("a.txt", "csv", "csv")],
)
def test_detect_format(name: str, given: str | None, expected: str) -> None:
    assert detect_format(Path(name), given) == expected


def test_unknown_suffix_needs_format() -> None:
    with pytest.raises(SnapshotFileError, match="--format"):
        detect_format(Path("a.txt"), None)


def test_count_lines(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"a\nb\nc\n")
    assert count_lines(path) == 3


def test_csv_mdp_spellings_become_booleans_and_anything_else_is_left_to_validation() -> None:
    text = "order_number,mall_order_id,status,mdp\n" + "".join(
        f"A-{i},{i},pending,{cell}\n" for i, cell in enumerate(["true", "FALSE", "1", "0", "ano", "ne", "maybe"], 1)
    )
    cells = [r.data["mdp"] for r in read_snapshot_file(io.StringIO(text), "csv")]
    assert cells == [True, False, True, False, True, False, "maybe"]
