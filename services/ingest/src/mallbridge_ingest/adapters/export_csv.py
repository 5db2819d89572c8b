"""Read one export document with a CsvExportMapping: bytes → validated snapshots with their line numbers.

Structural problems (no header, required columns missing) raise MalformedExportError; problems of
single rows (bytes the encoding cannot read, a broken CSV line, a wrong field count, an invalid value)
come back as rejections with their line numbers (the poller writes the other rows and reports these).
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field

from mallbridge_ingest.adapters.export_mapping import REQUIRED_FIELDS, CsvExportMapping
from mallbridge_ingest.adapters.text_lines import CsvLine, csv_lines
from mallbridge_ingest.adapters.validation import Indexed, validate_snapshot
from mallbridge_ingest.domain import Rejection


class MalformedExportError(ValueError):
    """An export that cannot be read as the mapping describes."""


@dataclass(frozen=True)
class ParsedExport:
    snapshots: list[Indexed] = field(default_factory=list)  # (line number, snapshot)
    rejections: list[Rejection] = field(default_factory=list)  # index = line number
    ignored: int = 0  # rows without the `skip_rows_without` value (not MALL orders)


def decode(mapping: CsvExportMapping, data: bytes) -> tuple[str, str]:
    """The document's text and the encoding it was read with: the first of the mapping's encodings that
    reads all of it; if none does, the one that leaves the fewest bytes unread, with those bytes kept
    for the lines that hold them to be reported (`text_lines.undecodable`)."""
    for encoding in mapping.encodings:
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    readings: list[tuple[int, str, str]] = []
    for encoding in mapping.encodings:
        try:
            text = data.decode(encoding, errors="surrogateescape")
        except LookupError:
            continue
        readings.append((sum(1 for c in text if "\udc80" <= c <= "\udcff"), text, encoding))
    if not readings:
        raise MalformedExportError(f"unknown encoding(s) {', '.join(mapping.encodings)} in the mapping")
    _, text, encoding = min(readings, key=lambda reading: reading[0])
    return text, encoding


def _header_positions(mapping: CsvExportMapping, header: list[str]) -> dict[str, int]:
    found = {name.strip().casefold(): i for i, name in enumerate(header)}
    positions = {f: found[col.casefold()] for f, col in mapping.columns.items() if col.casefold() in found}
    missing = [mapping.columns[f] for f in REQUIRED_FIELDS if f not in positions]
    if missing:
        # What the first line holds is not quoted: an error page in its place may echo the export URL,
        # which is a secret. Its shape is enough to tell a wrong delimiter from something else.
        looks = (
            "an HTML page, not a CSV export"
            if header and header[0].lstrip().startswith("<")
            else (f"{len(header)} column(s)")
        )
        raise MalformedExportError(
            f"missing column(s) {', '.join(missing)} (mapping {mapping.name!r}, "
            f"delimiter {mapping.delimiter!r}); the first line has {looks}"
        )
    return positions


def _row_problem(mapping: CsvExportMapping, record: CsvLine, width: int) -> Rejection | None:
    if record.error is not None:
        return Rejection(record.line, None, "(row)", record.error, f"one {mapping.encodings[0]} CSV record per line")
    assert record.cells is not None
    if len(record.cells) != width:
        return Rejection(
            record.line,
            None,
            "(row)",
            f"{len(record.cells)} fields where the header has {width}",
            f"one value per column, separated by {mapping.delimiter!r}",
        )
    return None


def parse_export(mapping: CsvExportMapping, data: bytes) -> ParsedExport:
    """Every row as a snapshot or as rejections, each with its line number (one bad line costs only itself)."""
    text, encoding = decode(mapping, data)
    lines = csv_lines(io.StringIO(text, newline=""), mapping.delimiter, encoding=encoding)
    header = next((r for r in lines if r.cells is not None or r.error is not None), None)
    if header is None:
        raise MalformedExportError("empty export: no header line")
    if header.cells is None:
        raise MalformedExportError(f"line {header.line}: {header.error}")
    positions = _header_positions(mapping, header.cells)
    result = ParsedExport()
    ignored = 0
    for record in lines:
        if (record.cells is None and record.error is None) or not any(c.strip() for c in record.cells or ("x",)):
            continue
        problem = _row_problem(mapping, record, len(header.cells))
        if problem is not None:
            result.rejections.append(problem)
            continue
        assert record.cells is not None
        cells = {f: record.cells[i] for f, i in positions.items()}
        if mapping.skip_rows_without and not cells.get(mapping.skip_rows_without, "").strip():
            ignored += 1
            continue
        checked = validate_snapshot(record.line, mapping.convert(cells))
        if isinstance(checked, list):
            result.rejections.extend(checked)
        else:
            result.snapshots.append((record.line, checked))
    return ParsedExport(result.snapshots, result.rejections, ignored)
