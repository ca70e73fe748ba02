"""Feeding the worker's `Processor` in this process, with no Kafka: the
workload's records as the worker's fetches would bring them, applied as
the worker applies a backlog. `bench.project.processor_phases` and
`bench.history` measure the rules this way."""
from __future__ import annotations

from itertools import zip_longest
from typing import Iterable

from streams.partitioning import partition_for
from streams.processor import APPLY_SLICE, Processor, Record


def fetched(records: Iterable[tuple[int, tuple[str, bytes, bytes]]], partitions: int) -> dict[tuple[str, int], list]:
    """(offset, (topic, key, value)) records, the key's partition found as
    the default partitioner does, grouped per topic partition in their
    order, as `Record`s (no Kafka timestamp)."""
    by_partition: dict[tuple[str, int], list] = {}
    for offset, (topic, key, value) in records:
        by_partition.setdefault((topic, partition_for(key, partitions)), []).append(Record(offset, key, value, None))
    return by_partition


def apply_as_fetched(processor: Processor, by_partition: dict[tuple[str, int], list]) -> None:
    """Each topic partition's records `APPLY_SLICE` at a time, the
    partitions in turn, as the worker applies the fetches of a backlog."""
    per_partition = [[(tp, batch[start:start + APPLY_SLICE]) for start in range(0, len(batch), APPLY_SLICE)]
                     for tp, batch in by_partition.items()]
    for turn in zip_longest(*per_partition):
        for taken in turn:
            if taken is not None:
                (topic, partition), records = taken
                processor.handle_batch(topic, partition, records)
