"""Kafka's default partitioner: murmur2 of the record's key (seed 0x9747B28C,
as the Java client and aiokafka), with the hash computed by the
`murmurhash2` package's native code. aiokafka's `murmur2` is Python and
costs about 3.5 µs a key here, as much as decoding an event: once per
seller for a backfill, once per record for a producer. Both give the same
partitions (tested against aiokafka's)."""
from __future__ import annotations

from aiokafka.partitioner import DefaultPartitioner
from murmurhash2 import murmurhash2

KAFKA_SEED = 0x9747B28C


def partition_for(key: bytes, partitions: int) -> int:
    """The partition of `partitions` a keyed record goes to."""
    return (murmurhash2(key, KAFKA_SEED) & 0x7FFFFFFF) % partitions


class Partitioner(DefaultPartitioner):
    """A producer's default partitioner (`AIOKafkaProducer(partitioner=...)`),
    the key's hash native; a record without a key still goes to a random
    partition, as aiokafka's."""

    def __call__(self, key, all_partitions, available):
        if key is None:
            return super().__call__(key, all_partitions, available)
        return all_partitions[partition_for(key, len(all_partitions))]
