"""aiokafka's consumer records become the port's LogRecords field for field (the replay's hot path)."""

from __future__ import annotations

from aiokafka.structs import ConsumerRecord

from mallbridge_core.eventlog.kafka.records import to_records
from mallbridge_core.eventlog.port import LogRecord


def consumer_record(
    offset: int, value: bytes | None, headers: list[tuple[str, bytes | bytearray]]
) -> ConsumerRecord[bytes, bytes]:
    return ConsumerRecord("t", 2, offset, 1_700_000_000_000 + offset, 0, b"key", value, None, 3, 5, headers)


def test_every_field_is_carried_over_and_a_record_without_value_has_empty_bytes() -> None:
    records = to_records([consumer_record(7, b"value", [("h", bytearray(b"1"))]), consumer_record(8, None, [])])
    assert records == [
        LogRecord("t", 2, 7, b"key", b"value", 1_700_000_000_007, (("h", b"1"),)),
        LogRecord("t", 2, 8, b"key", b"", 1_700_000_000_008, ()),
    ]
    assert all(type(r) is LogRecord for r in records)
    assert type(records[0].headers[0][1]) is bytes
    assert records[1].timestamp_ms == 1_700_000_000_008


def test_records_at_the_end_offset_and_after_are_left_out() -> None:
    batch = [consumer_record(n, b"v", []) for n in range(5, 10)]
    assert [r.offset for r in to_records(batch, end=8)] == [5, 6, 7]
    assert [r.offset for r in to_records(batch)] == [5, 6, 7, 8, 9]
