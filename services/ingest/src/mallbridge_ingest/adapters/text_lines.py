"""Lines of a snapshot file or an export, each read on its own, so one bad line costs only that line.

Text is decoded with `errors="surrogateescape"`: bytes the encoding cannot read become lone surrogates
instead of ending the whole read, and `undecodable` finds them, line by line. CSV is parsed one physical
line at a time (strict quoting): no snapshot field holds a line break, so a quote left open is an error
of its line, not a field that swallows the lines after it.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from typing import NamedTuple


class CsvLine(NamedTuple):
    line: int
    cells: list[str] | None  # None: blank line, or unreadable (then `error` says why)
    error: str | None = None


def undecodable(text: str, encoding: str = "UTF-8") -> str | None:
    """Why `text` is not readable, when it holds bytes its encoding could not decode (None when it is fine)."""
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        byte = ord(text[exc.start]) - 0xDC00 if "\udc80" <= text[exc.start] <= "\udcff" else None
        shown = f"byte 0x{byte:02x}" if byte is not None else "a character"
        return f"not valid {encoding}: {shown} at column {exc.start + 1}"
    return None


def without_line_end(text: str) -> str:
    """The line without its line break, and without a byte order mark at its start (a file that is two
    files put together carries the second one's BOM in the middle)."""
    return text.rstrip("\r\n").removeprefix("\ufeff")


def csv_lines(lines: Iterable[str], delimiter: str, *, encoding: str = "UTF-8") -> Iterator[CsvLine]:
    """Each physical line (numbered from 1) parsed as one CSV record."""
    for number, raw in enumerate(lines, start=1):
        text = without_line_end(raw)
        if not text.strip():
            yield CsvLine(number, None)
            continue
        problem = undecodable(text, encoding)
        if problem is not None:
            yield CsvLine(number, None, problem)
            continue
        try:
            cells = next(csv.reader([text], delimiter=delimiter, strict=True))
        except csv.Error as exc:
            yield CsvLine(number, None, f"unreadable CSV ({exc}); a value cannot span lines")
            continue
        yield CsvLine(number, cells)
