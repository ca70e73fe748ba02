"""`streams.partitioning`: the partition Kafka's default partitioner gives a key."""
from __future__ import annotations

import pytest
from aiokafka.partitioner import DefaultPartitioner, murmur2
from hypothesis import given, strategies as st

from streams.partitioning import Partitioner, partition_for

# murmur2 of these keys, as signed 32-bit ints: the Java client's own test
# vectors (org.apache.kafka.common.utils.UtilsTest.testMurmur2).
JAVA_CLIENT_MURMUR2 = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("key", "signed_hash"), JAVA_CLIENT_MURMUR2.items())
def test_the_hash_is_the_java_clients(key, signed_hash):
    # partition = (hash & 0x7fffffff) % partitions: with 2^31 partitions, the masked hash itself
    assert partition_for(key, 2**31) == signed_hash & 0x7FFFFFFF


@given(st.binary(max_size=64), st.integers(min_value=1, max_value=1000))
def test_the_partition_is_aiokafkas(key, partitions):
    assert partition_for(key, partitions) == (murmur2(key) & 0x7FFFFFFF) % partitions


@given(st.binary(max_size=64), st.lists(st.integers(0, 200), min_size=1, max_size=50, unique=True))
def test_a_producer_with_the_partitioner_sends_a_key_where_aiokafkas_default_does(key, partitions):
    all_partitions = sorted(partitions)
    assert Partitioner()(key, all_partitions, all_partitions) == DefaultPartitioner()(key, all_partitions, all_partitions)


def test_a_record_without_a_key_goes_to_an_available_partition():
    chosen = {Partitioner()(None, [0, 1, 2, 3], [1, 3]) for _ in range(200)}
    assert chosen == {1, 3}
