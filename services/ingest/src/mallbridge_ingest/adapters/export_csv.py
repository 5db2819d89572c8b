"""Read one export document with a CsvExportMapping: bytes → validated snapshots with their line numbers.

Structural problems (undecodable bytes, no header, required columns missing) raise MalformedExportError;
problems in single rows come back as rejections (the poller treats either as a malformed export).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from mallbridge_ingest.adapters.export_mapping import REQUIRED_FIELDS, CsvExportMapping
from mallbridge_ingest.adapters.validation import Indexed, validate_snapshot
from mallbridge_ingest.domain import Rejection


class MalformedExportError(ValueError):
    """An export that cannot be read as the mapping describes."""


@dataclass(frozen=True)
class ParsedExport:
    snapshots: list[Indexed] = field(default_factory=list)  # (line number, snapshot)
    rejections: list[Rejection] = field(default_factory=list)  # index = line number
    ignored: int = 0  # rows without the `skip_rows_without` value (not MALL orders)


def decode(mapping: CsvExportMapping, data: bytes) -> str:
    for encoding in mapping.encodings:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    raise MalformedExportError(f"not decodable as any of {', '.join(mapping.encodings)}")


def _header_positions(mapping: CsvExportMapping, header: list[str]) -> dict[str, int]:
    found = {name.strip().casefold(): i for i, name in enumerate(header)}
    positions = {f: found[col.casefold()] for f, col in mapping.columns.items() if col.casefold() in found}
    missing = [mapping.columns[f] for f in REQUIRED_FIELDS if f not in positions]
    if missing:
        shown = "; ".join(h.strip() for h in header[:12])[:300]
        raise MalformedExportError(
            f"missing column(s) {', '.join(missing)} (mapping {mapping.name!r}, "
            f"delimiter {mapping.delimiter!r}); header found: {shown!r}"
        )
    return positions


def parse_export(mapping: CsvExportMapping, data: bytes) -> ParsedExport:
    reader = csv.reader(io.StringIO(decode(mapping, data), newline=""), delimiter=mapping.delimiter)
    try:
        header = next(reader)
    except StopIteration:
        raise MalformedExportError("empty export: no header line") from None
    except csv.Error as exc:
        raise MalformedExportError(f"line 1: {exc}") from None
    positions = _header_positions(mapping, header)
    result = ParsedExport()
    ignored = 0
    try:
        for row in reader:
            line = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                result.rejections.append(
                    Rejection(
                        line,
                        None,
                        "(row)",
                        f"{len(row)} fields where the header has {len(header)}",
                        f"one value per column, separated by {mapping.delimiter!r}",
                    )
                )
                continue
            cells = {f: row[i] for f, i in positions.items()}
            if mapping.skip_rows_without and not cells.get(mapping.skip_rows_without, "").strip():
                ignored += 1
                continue
            checked = validate_snapshot(line, mapping.convert(cells))
            if isinstance(checked, list):
                result.rejections.extend(checked)
            else:
                result.snapshots.append((line, checked))
    except csv.Error as exc:
        raise MalformedExportError(f"line {reader.line_num}: {exc}") from None
    return ParsedExport(result.snapshots, result.rejections, ignored)
