"""Which of a parallel import's workers owns which order (each order has one writer: its seq needs it)."""

from __future__ import annotations

import zlib

from pydantic import ConfigDict, TypeAdapter

from mallbridge_ingest.adapters.snapshot_files import RawLine


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


def _stripped_by_validation() -> str:
    """The characters the snapshot's validation strips (pydantic-core's notion of whitespace, which is
    not Python's: e.g. Python strips U+001F, pydantic does not). Asked of pydantic itself, once."""
    strip = TypeAdapter(str, config=ConfigDict(str_strip_whitespace=True))
    return "".join(c for c in map(chr, range(0x3001)) if c.isspace() and strip.validate_python(c) == "")


_STRIPPED_BY_VALIDATION = _stripped_by_validation()


def shard_of(order_number: bytes, shards: int) -> int:
    return zlib.crc32(order_number) % shards
