"""mallbridge's partitioner puts every key where Kafka's default partitioner does (aiokafka's murmur2,
itself the Java client's): an order's events share one partition whoever writes them."""

from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given
from hypothesis import strategies as st

from mallbridge_core.eventlog.kafka.partitioner import default_partition
from mallbridge_core.eventlog.kafka.partitioner import murmur2 as fast_murmur2


@given(st.binary(max_size=200))
def test_murmur2_equals_aiokafkas_on_any_bytes(data: bytes) -> None:
    assert fast_murmur2(data) == murmur2(data)


@given(st.binary(min_size=0, max_size=64), st.integers(min_value=1, max_value=64))
def test_a_key_goes_to_the_default_partitioners_partition(key: bytes, partitions: int) -> None:
    everyone = list(range(partitions))
    assert default_partition(key, everyone, everyone) == DefaultPartitioner()(key, everyone, everyone)


def test_known_values_of_the_java_client() -> None:
    # From Kafka's own tests (org.apache.kafka.common.utils.UtilsTest.testMurmur2).
    cases = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536}
    for data, signed in cases.items():
        assert fast_murmur2(data) == signed & 0xFFFFFFFF


def test_a_record_without_key_goes_to_an_available_partition() -> None:
    assert default_partition(None, [0, 1, 2], [2]) == 2
    assert default_partition(None, [0, 1, 2], []) in (0, 1, 2)
