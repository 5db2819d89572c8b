"""Kafka's default partition of a key (murmur2, as the Java client and aiokafka compute it), cheaper.

An order's events must land in one partition whoever writes them (ingest's pushes, an import, the
publisher's sync events, a Java tool reading the topics), so the partition is exactly the default
partitioner's: `murmur2(key) & 0x7fffffff` modulo the number of partitions. aiokafka's murmur2 masks
and assembles every 4-byte word by hand and took a sixth of an import's append; this one reads the
words with one struct unpack and masks only where a product can overflow 32 bits. Parity with aiokafka's
function is tested on random keys (tests/unit/core/test_kafka_partitioner.py).
"""

from __future__ import annotations

import random
import struct
from collections.abc import Sequence

_M = 0x5BD1E995
_SEED = 0x9747B28C
_MASK = 0xFFFFFFFF
_WORDS: dict[int, struct.Struct] = {}  # little-endian 32-bit words, by count (keys come in few lengths)


def murmur2(data: bytes) -> int:
    """MurmurHash2 of `data` with Kafka's seed, as an unsigned 32-bit integer."""
    length = len(data)
    h = _SEED ^ length
    words = length >> 2
    if words:
        unpack = _WORDS.get(words)
        if unpack is None:
            unpack = _WORDS.setdefault(words, struct.Struct(f"<{words}I"))
        for k in unpack.unpack_from(data):
            k = (k * _M) & _MASK
            h = ((h * _M) ^ ((k ^ (k >> 24)) * _M)) & _MASK  # one mask for both products: it distributes over ^
    tail = length & 3
    if tail:
        base = length - tail
        if tail == 3:
            h ^= data[base + 2] << 16
        if tail >= 2:
            h ^= data[base + 1] << 8
        h = ((h ^ data[base]) * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    return h ^ (h >> 15)


def default_partition(key: bytes | None, all_partitions: Sequence[int], available: Sequence[int]) -> int:
    """aiokafka's `partitioner` protocol: the key's partition, or (no key) any available one."""
    if key is None:
        return random.choice(available or all_partitions)
    return all_partitions[(murmur2(key) & 0x7FFFFFFF) % len(all_partitions)]
