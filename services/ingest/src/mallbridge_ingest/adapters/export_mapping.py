"""Field mappings from a FastCentrik order export (CSV) to snapshots.

FastCentrik's export format is not public, so the mapping is configuration: a tenant names a built-in
mapping (`export_mapping = "sample-csv"`) or a TOML file describing its own columns (see README). The
built-in `sample-csv` is the sample format documented in services/ingest/README.md: UTF-8 (or
Windows-1250), `;`-separated, Czech headers, Czech dates (`20.11.2026`, `20.11.2026 14:05`).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from mallbridge_schema.mall_format import PRAGUE

REQUIRED_FIELDS = ("order_number", "mall_order_id", "status")
SNAPSHOT_FIELDS = (*REQUIRED_FIELDS, "delivered_at", "tracking_number", "tracking_url", "mdp", "changed_at")
_CZECH_FORMATS = ("%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y")


class MappingError(ValueError):
    """A mapping name or mapping file that cannot be used."""


@dataclass(frozen=True)
class CsvExportMapping:
    name: str
    columns: Mapping[str, str]  # snapshot field -> column header (matched case-insensitively)
    delimiter: str = ";"
    encodings: tuple[str, ...] = ("utf-8-sig", "cp1250")
    skip_rows_without: str | None = "mall_order_id"  # e-shop exports list non-MALL orders too
    true_values: frozenset[str] = field(default_factory=lambda: frozenset({"ano", "a", "1", "true", "yes", "x"}))
    false_values: frozenset[str] = field(default_factory=lambda: frozenset({"ne", "n", "0", "false", "no", ""}))

    def __post_init__(self) -> None:
        unknown = set(self.columns) - set(SNAPSHOT_FIELDS)
        missing = set(REQUIRED_FIELDS) - set(self.columns)
        if unknown or missing:
            raise MappingError(
                f"mapping {self.name!r}: columns must map {', '.join(REQUIRED_FIELDS)} and may map "
                f"{', '.join(SNAPSHOT_FIELDS[3:])}; unknown: {sorted(unknown)}, missing: {sorted(missing)}"
            )
        if len(self.delimiter) != 1:
            raise MappingError(f"mapping {self.name!r}: delimiter must be one character")

    def convert(self, fields: Mapping[str, str]) -> dict[str, Any]:
        """Raw cell texts by snapshot field → the values OrderSnapshot validates (dates, booleans converted)."""
        out: dict[str, Any] = {}
        for name, text in fields.items():
            value = text.strip()
            if name == "mdp":
                out[name] = self._boolean(value)
            elif name == "delivered_at":
                out[name] = _czech_datetime(value, aware=False) if value else None
            elif name == "changed_at":
                out[name] = _czech_datetime(value, aware=True) if value else None
            else:
                out[name] = value
        return out

    def _boolean(self, value: str) -> bool | str:
        folded = value.casefold()
        if folded in self.true_values:
            return True
        if folded in self.false_values:
            return False
        return value  # left for validation to refuse with the allowed values


def _czech_datetime(value: str, *, aware: bool) -> str:
    """`20.11.2026` → `2026-11-20`; `20.11.2026 14:05` → `2026-11-20T14:05:00` (Prague local time).

    For `changed_at` (aware) a value without offset is taken as Prague time. Anything else is passed on
    unchanged, so ISO 8601 works too and a wrong value is refused by validation naming the allowed forms.
    """
    for fmt in _CZECH_FORMATS:
        try:
            parsed = datetime.strptime(value, fmt)  # noqa: DTZ007 - local Prague time by definition
        except ValueError:
            continue
        if fmt == "%d.%m.%Y" and not aware:
            return parsed.date().isoformat()
        return parsed.replace(tzinfo=PRAGUE).isoformat() if aware else parsed.isoformat()
    if aware:
        try:
            iso = datetime.fromisoformat(value)
        except ValueError:
            return value
        return (iso if iso.tzinfo else iso.replace(tzinfo=PRAGUE)).isoformat()
    return value


SAMPLE_CSV = CsvExportMapping(
    name="sample-csv",
    columns={
        "order_number": "Číslo objednávky",
        "mall_order_id": "ID MALL",
        "status": "Stav",
        "delivered_at": "Datum doručení",
        "tracking_number": "Číslo zásilky",
        "tracking_url": "URL sledování",
        "mdp": "MALL Doprava",
        "changed_at": "Změněno",
    },
)
BUILT_IN: dict[str, CsvExportMapping] = {SAMPLE_CSV.name: SAMPLE_CSV}


def load_mapping(reference: str) -> CsvExportMapping:
    """A built-in mapping by name, or a TOML mapping file (a path ending in `.toml`)."""
    if reference in BUILT_IN:
        return BUILT_IN[reference]
    if not reference.endswith(".toml"):
        raise MappingError(f"unknown export mapping {reference!r}; allowed: {', '.join(BUILT_IN)} or a .toml file")
    try:
        data = tomllib.loads(Path(reference).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise MappingError(f"export mapping file {reference}: {exc}") from None
    try:
        return CsvExportMapping(
            name=reference,
            columns=dict(data["columns"]),
            delimiter=str(data.get("delimiter", ";")),
            encodings=tuple(data.get("encodings", ("utf-8-sig", "cp1250"))),
            skip_rows_without=data.get("skip_rows_without", "mall_order_id") or None,
            true_values=frozenset(str(v).casefold() for v in data.get("true_values", ("ano", "1", "true"))),
            false_values=frozenset(str(v).casefold() for v in data.get("false_values", ("ne", "0", "false", ""))),
        )
    except (KeyError, TypeError) as exc:
        raise MappingError(f"export mapping file {reference}: needs a [columns] table ({exc})") from None
