"""The sample-csv export mapping and custom TOML mappings."""

from __future__ import annotations

from pathlib import Path

import pytest

from mallbridge_ingest.adapters.export_csv import MalformedExportError, parse_export
from mallbridge_ingest.adapters.export_mapping import SAMPLE_CSV, MappingError, load_mapping
from mallbridge_schema.statuses import FastCentrikStatus as S

EXAMPLES = Path(__file__).resolve().parents[3] / "services" / "ingest" / "examples"
HEADER = "Číslo objednávky;ID MALL;Stav;Datum doručení;Číslo zásilky;URL sledování;MALL Doprava;Změněno"


def export(*rows: str, header: str = HEADER, encoding: str = "utf-8") -> bytes:
    return "\r\n".join([header, *rows]).encode(encoding)


def test_the_shipped_sample_export_parses() -> None:
    parsed = parse_export(SAMPLE_CSV, (EXAMPLES / "sample-export.csv").read_bytes())
    assert parsed.rejections == []
    assert parsed.ignored == 1  # the e-shop order without a MALL id
    by_number = {s.order_number: s for _, s in parsed.snapshots}
    assert [line for line, _ in parsed.snapshots] == [2, 3, 4, 5, 6]
    assert by_number["2026-000101"].status == S.PENDING
    assert by_number["2026-000102"].mdp is True
    settled = by_number["2026-000103"]
    assert (settled.status, settled.tracking_number) == (S.SETTLED, "DR1234567890")
    assert settled.tracking_url == "https://tracking.example/DR1234567890"
    assert by_number["2026-000104"].delivered_at == "2026-11-21"
    assert by_number["2026-000105"].status == S.CANCELLED
    assert by_number["2026-000101"].changed_at is not None
    assert by_number["2026-000101"].changed_at.isoformat() == "2026-11-20T08:15:00+01:00"


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("20.11.2026", "2026-11-20"),
        ("1.2.2026 7:05", "2026-02-01T07:05:00"),
        ("2026-11-20", "2026-11-20"),
        ("20.11.2026 14:05:30", "2026-11-20T14:05:30"),
    ],
)
def test_czech_delivery_dates_become_iso_prague_local(cell: str, expected: str) -> None:
    parsed = parse_export(SAMPLE_CSV, export(f"A;1;vyřízená;{cell};;;ne;"))
    assert parsed.snapshots[0][1].delivered_at == expected


def test_changed_at_without_offset_is_prague_time_and_summer_time_is_honoured() -> None:
    parsed = parse_export(
        SAMPLE_CSV, export("A;1;vyřízená;;;;ne;15.7.2026 10:00", "B;2;vyřízená;;;;ne;2026-07-15T10:00:00Z")
    )
    a, b = (s for _, s in parsed.snapshots)
    assert a.changed_at is not None
    assert a.changed_at.isoformat() == "2026-07-15T10:00:00+02:00"
    assert b.changed_at is not None
    assert b.changed_at.utcoffset() is not None


def test_windows_1250_export_is_read() -> None:
    parsed = parse_export(SAMPLE_CSV, export("A;1;stornovaná;;;;ne;", encoding="cp1250"))
    assert parsed.snapshots[0][1].status == S.CANCELLED


def test_headers_match_case_insensitively_in_any_order_and_optional_columns_may_be_missing() -> None:
    parsed = parse_export(SAMPLE_CSV, export("nevyřízená;A;1", header="STAV;číslo objednávky;id mall"))
    assert parsed.snapshots[0][1].order_number == "A"


@pytest.mark.parametrize(
    ("data", "match"),
    [
        (b"", "empty"),
        (export("A;1;pending", header="Objednavka;MALL;Stav"), "missing column"),
        ("<html><body>Přihlášení vypršelo</body></html>".encode(), "missing column"),
        (export("A,1,pending", header=HEADER.replace(";", ",")), "missing column"),
        (b"\xff\xfe\x00\x00" * 3, "missing column|decodable"),
    ],
)
def test_structurally_malformed_exports_raise(data: bytes, match: str) -> None:
    with pytest.raises(MalformedExportError, match=match):
        parse_export(SAMPLE_CSV, data)


def test_bad_rows_are_rejected_with_their_line_numbers() -> None:
    parsed = parse_export(
        SAMPLE_CSV,
        export(
            "A;1;vyřízená;;;;ne;",
            "B;2;hotovo;;;;ne;",
            "C;3;vyřízená;32.13.2026;;;ne;",
            "D;4;pending",
            "E;5;pending;;;;možná;",
        ),
    )
    assert [s.order_number for _, s in parsed.snapshots] == ["A"]
    found = {(r.index, r.field) for r in parsed.rejections}
    assert found == {(3, "status"), (4, "delivered_at"), (5, "(row)"), (6, "mdp")}


def test_load_mapping_builtin_and_toml(tmp_path: Path) -> None:
    assert load_mapping("sample-csv") is SAMPLE_CSV
    custom = load_mapping(str(EXAMPLES / "mapping-example.toml"))
    data = "Objednávka,Marketplace ID,Stav objednávky,MDP\nX-1,99,vyřízená,ano\nX-2,,pending,ne\n".encode()
    parsed = parse_export(custom, data)
    assert [(s.order_number, s.mdp) for _, s in parsed.snapshots] == [("X-1", True)]
    assert parsed.ignored == 1


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("delimiter = ';'\n", "columns"),
        ("[columns]\norder_number = 'a'\n", "missing"),
        ("[columns]\norder_number='a'\nmall_order_id='b'\nstatus='c'\ncolour='d'\n", "unknown"),
        ("delimiter = ';;'\n[columns]\norder_number='a'\nmall_order_id='b'\nstatus='c'\n", "delimiter"),
        ("not toml =", "mapping file"),
    ],
)
def test_bad_mappings_are_refused(tmp_path: Path, content: str, match: str) -> None:
    path = tmp_path / "m.toml"
    path.write_text(content)
    with pytest.raises(MappingError, match=match):
        load_mapping(str(path))


def test_unknown_mapping_name_lists_the_allowed_ones() -> None:
    with pytest.raises(MappingError, match="sample-csv"):
        load_mapping("fastcentrik-xml")
