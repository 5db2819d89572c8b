"""Snapshot files for `mallbridge ingest import`: JSON Lines (one snapshot object per line) and CSV
(a header row of snapshot field names, comma-separated, UTF-8; empty cells mean "not given").

Open them with `open_snapshot_file`: bytes that are not UTF-8 then make their line a rejected line (with
its number and the column), not the end of the import; so do unreadable JSON and CSV lines.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NamedTuple, TextIO

from pydantic_core import from_json

from mallbridge_ingest.adapters.export_mapping import REQUIRED_FIELDS
from mallbridge_ingest.adapters.text_lines import csv_lines, undecodable, without_line_end

FORMATS = ("jsonl", "csv")
_SUFFIXES = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv"}


class SnapshotFileError(ValueError):
    """A file that cannot be imported at all (unknown format, missing CSV columns)."""


class RawLine(NamedTuple):
    """One record of the file: its line number, and either the raw data or why it could not be read.
    (A named tuple: one is made per line of an import.)"""

    line: int
    data: Any = None
    error: str | None = None


_new_tuple = tuple.__new__


def detect_format(path: Path, given: str | None) -> str:
    if given:
        return given
    found = _SUFFIXES.get(path.suffix.lower())
    if found is None:
        raise SnapshotFileError(f"cannot tell the format of {path.name}; use a .jsonl or .csv name, or --format")
    return found


def count_lines(path: Path) -> int:
    """Lines in the file (for the progress bar), counted in binary chunks without parsing."""
    total = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            total += chunk.count(b"\n")
    return total


def read_jsonl(stream: TextIO, keep: Callable[[str], bool] | None = None) -> Iterator[RawLine]:
    """Each non-blank line, parsed. `keep`, given a line's text (without its line end), may leave it out
    before it is parsed (a parallel import's worker skips the other workers' lines this way)."""
    for number, raw in enumerate(stream, start=1):
        text = without_line_end(raw)
        if not text.strip() or (keep is not None and not keep(text)):
            continue
        yield parse_jsonl_line(number, text)


def parse_jsonl_line(number: int, text: str) -> RawLine:
    """One JSON Lines line (without its line end) as read: its data, or why it cannot be read."""
    problem = undecodable(text)
    if problem is not None:
        return RawLine(number, error=problem)
    try:
        # pydantic-core's parser: a third of json.loads' time; the tuple built directly (the named tuple's
        # constructor is a Python function, once per line)
        return _new_tuple(RawLine, (number, from_json(text), None))
    except ValueError:
        return RawLine(number, error=_json_problem(text))


def _json_problem(text: str) -> str:
    """The reason in the standard library's words (column included), for the rejection report."""
    try:
        json.loads(text)
    except json.JSONDecodeError as exc:
        return f"not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    return "not valid JSON"


def read_csv(stream: TextIO) -> Iterator[RawLine]:
    lines = csv_lines(stream, ",")
    header: list[str] | None = None
    for record in lines:
        if record.error is not None:
            raise SnapshotFileError(f"line {record.line}: the CSV header is unreadable: {record.error}")
        if record.cells is not None:
            header = [name.strip() for name in record.cells]
            break
    missing = [f for f in REQUIRED_FIELDS if f not in (header or ())]
    if header is None or missing:
        raise SnapshotFileError(
            f"CSV header lacks column(s) {', '.join(missing)}; the header must name snapshot fields"
        )
    for record in lines:
        if record.error is not None:
            yield RawLine(record.line, error=record.error)
        elif record.cells is None:
            continue
        elif len(record.cells) > len(header):
            yield RawLine(record.line, error=f"more fields than the {len(header)} columns of the header")
        elif values := {k: v for k, v in zip(header, record.cells, strict=False) if v.strip() != ""}:
            data: dict[str, object] = dict(values)
            if "mdp" in values:
                data["mdp"] = _csv_boolean(values["mdp"])
            yield RawLine(record.line, data)


# A CSV cell is text: these spellings are `mdp`'s true and false (what JSON says with true and false).
_CSV_TRUE = frozenset({"true", "1", "yes", "y", "t", "on", "ano", "a", "x"})
_CSV_FALSE = frozenset({"false", "0", "no", "n", "f", "off", "ne"})


def _csv_boolean(text: str) -> bool | str:
    folded = text.strip().casefold()
    if folded in _CSV_TRUE:
        return True
    if folded in _CSV_FALSE:
        return False
    return text  # left for validation to refuse, naming what is allowed


def open_snapshot_file(path: Path) -> TextIO:
    """UTF-8 (a BOM at the start is allowed); undecodable bytes are kept for `undecodable` to report."""
    return path.open(encoding="utf-8-sig", errors="surrogateescape", newline="")


def read_snapshot_file(stream: TextIO, fmt: str) -> Iterator[RawLine]:
    if fmt not in FORMATS:
        raise SnapshotFileError(f"unknown format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return read_jsonl(stream) if fmt == "jsonl" else read_csv(stream)
