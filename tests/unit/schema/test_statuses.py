"""FastCentrik status parsing (ARCHITECTURE.md §1): every code and label, any case, with or without diacritics."""

from __future__ import annotations

import unicodedata

import pytest

from mallbridge_schema.statuses import (
    CZECH_LABELS,
    FINAL_MALL_STATUSES,
    FastCentrikStatus,
    MallStatus,
    UnknownStatusError,
    parse_fastcentrik_status,
)

F = FastCentrikStatus

# Every spelling a user may send, written out by hand (not derived from the code under test).
ACCEPTED: list[tuple[str, FastCentrikStatus]] = [
    # canonical codes
    ("pending", F.PENDING),
    ("partially_settled", F.PARTIALLY_SETTLED),
    ("in_process", F.IN_PROCESS),
    ("settled", F.SETTLED),
    ("cancelled", F.CANCELLED),
    # codes in other cases
    ("PENDING", F.PENDING),
    ("Partially_Settled", F.PARTIALLY_SETTLED),
    ("IN_PROCESS", F.IN_PROCESS),
    ("Settled", F.SETTLED),
    ("CANCELLED", F.CANCELLED),
    # Czech labels with diacritics
    ("nevyřízená", F.PENDING),
    ("částečně vyřízená", F.PARTIALLY_SETTLED),
    ("vyřizuje se", F.IN_PROCESS),
    ("vyřízená", F.SETTLED),
    ("stornovaná", F.CANCELLED),
    ("stornováno", F.CANCELLED),
    # ... without diacritics
    ("nevyrizena", F.PENDING),
    ("castecne vyrizena", F.PARTIALLY_SETTLED),
    ("vyrizuje se", F.IN_PROCESS),
    ("vyrizena", F.SETTLED),
    ("stornovana", F.CANCELLED),
    ("stornovano", F.CANCELLED),
    # ... in any case
    ("NEVYŘÍZENÁ", F.PENDING),
    ("Částečně Vyřízená", F.PARTIALLY_SETTLED),
    ("Vyřizuje se", F.IN_PROCESS),
    ("VYŘÍZENÁ", F.SETTLED),
    ("Stornovaná", F.CANCELLED),
    ("STORNOVÁNO", F.CANCELLED),
    ("NEVYRIZENA", F.PENDING),
    ("CASTECNE VYRIZENA", F.PARTIALLY_SETTLED),
    ("VyRiZuJe Se", F.IN_PROCESS),
    ("Vyrizena", F.SETTLED),
    ("STORNOVANO", F.CANCELLED),
    # surrounding and repeated whitespace
    ("  vyřízená ", F.SETTLED),
    ("vyřizuje   se", F.IN_PROCESS),
    ("\tčástečně vyřízená\n", F.PARTIALLY_SETTLED),
    # Slovak admin labels
    ("Nevybavená", F.PENDING),
    ("Čiastočne vybavená", F.PARTIALLY_SETTLED),
    ("Vybavuje sa", F.IN_PROCESS),
    ("Vybavená", F.SETTLED),
]


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_every_code_and_label_parses(raw: str, expected: FastCentrikStatus) -> None:
    assert parse_fastcentrik_status(raw) is expected


@pytest.mark.parametrize(("raw", "expected"), ACCEPTED)
def test_decomposed_unicode_parses_the_same(raw: str, expected: FastCentrikStatus) -> None:
    # Labels pasted from macOS or some browsers arrive in NFD (letter + combining mark).
    assert parse_fastcentrik_status(unicodedata.normalize("NFD", raw)) is expected


def test_the_czech_labels_are_those_of_design() -> None:
    assert CZECH_LABELS == {
        F.PENDING: "nevyřízená",
        F.PARTIALLY_SETTLED: "částečně vyřízená",
        F.IN_PROCESS: "vyřizuje se",
        F.SETTLED: "vyřízená",
        F.CANCELLED: "stornovaná",
    }
    assert [s.value for s in F] == ["pending", "partially_settled", "in_process", "settled", "cancelled"]


@pytest.mark.parametrize(
    "raw",
    ["", "   ", "hotovo", "canceled", "vyrizeno", "čeká na vyřízení", "open", "shipped", "settled!", "storno", "1"],
)
def test_anything_else_is_an_error_listing_the_allowed_values(raw: str) -> None:
    with pytest.raises(UnknownStatusError) as caught:
        parse_fastcentrik_status(raw)
    message = str(caught.value)
    assert repr(raw) in message
    for code in ("pending", "partially_settled", "in_process", "settled", "cancelled"):
        assert code in message
    for label in ("nevyřízená", "částečně vyřízená", "vyřizuje se", "vyřízená", "stornovaná"):
        assert label in message


def test_unknown_status_error_is_a_value_error() -> None:
    # pydantic turns a ValueError raised in a validator into a 422-style field error.
    assert issubclass(UnknownStatusError, ValueError)


@pytest.mark.parametrize("raw", [None, 3, b"settled"])
def test_a_non_text_value_is_an_error(raw: object) -> None:
    with pytest.raises(UnknownStatusError, match="allowed"):
        parse_fastcentrik_status(raw)  # type: ignore[arg-type]


def test_mall_statuses_and_finals() -> None:
    assert [s.value for s in MallStatus] == [
        "blocked",
        "open",
        "shipping",
        "shipped",
        "delivered",
        "returned",
        "cancelled",
        "lost",
    ]
    assert {s.value for s in FINAL_MALL_STATUSES} == {"delivered", "returned", "cancelled", "lost"}
