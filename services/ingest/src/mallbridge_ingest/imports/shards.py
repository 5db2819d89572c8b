"""Which of a parallel import's workers owns which order (each order has one writer: its seq needs it)."""

from __future__ import annotations

import re
import zlib

from pydantic import ConfigDict, TypeAdapter

from mallbridge_ingest.adapters.snapshot_files import RawLine, parse_jsonl_line


def order_shard(record: RawLine, shards: int) -> int:
    """Which of `shards` import workers owns this line.

    By its order number exactly as validation will read it (the same surrounding whitespace stripped),
    so all lines of one order go to one worker, which is also the one that rebuilt that order's state
    (`shard_of` its key), and each order's seq numbers have one writer. Lines with no usable order
    number go to worker 0, which reports them. CRC-32, not hash(): every worker must compute the same.
    """
    data = record.data
    if shards == 1 or record.error is not None or not isinstance(data, dict):
        return 0
    number = data.get("order_number")
    if not isinstance(number, str):
        return 0
    return shard_of(number.strip(_STRIPPED_BY_VALIDATION).encode("utf-8", "surrogatepass"), shards)


# A line whose top-level object starts with its order number as a plain JSON string (the usual layout).
_LEADING_ORDER_NUMBER = re.compile(r'[ \t]*\{[ \t]*"order_number"[ \t]*:[ \t]*"([^"\\]*)"')


def jsonl_line_shard(text: str, shards: int) -> int:
    """`order_shard` of a JSON Lines line given as text, read from the text alone when that is certain.

    Certain: the line has no backslash (so every JSON string in it is spelled literally, no escapes) and
    `"order_number"` occurs once, as the first key of the top-level object. Then that is the only key
    that can decode to `order_number`, and its value is the text between the quotes: what parsing would
    find. Any other line is parsed first. Either way the owner depends on the text alone, so exactly one
    worker keeps each line, a line that turns out unreadable included (that worker reports it).
    """
    match = _LEADING_ORDER_NUMBER.match(text)
    if match is None or "\\" in text or text.count('"order_number"') != 1:
        return order_shard(parse_jsonl_line(0, text), shards)
    return shard_of(match.group(1).strip(_STRIPPED_BY_VALIDATION).encode("utf-8", "surrogatepass"), shards)


def _stripped_by_validation() -> str:
    """The characters the snapshot's validation strips (pydantic-core's notion of whitespace, which is
    not Python's: e.g. Python strips U+001F, pydantic does not). Asked of pydantic itself, once."""
    strip = TypeAdapter(str, config=ConfigDict(str_strip_whitespace=True))
    return "".join(c for c in map(chr, range(0x3001)) if c.isspace() and strip.validate_python(c) == "")


_STRIPPED_BY_VALIDATION = _stripped_by_validation()


def shard_of(order_number: bytes, shards: int) -> int:
    return zlib.crc32(order_number) % shards
