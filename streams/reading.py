"""Reading a topic to its end, right on Tansu too.

Tansu's ListOffsets answers the base offset of a partition's last batch,
so "end offsets" stop short of the last batch; the high watermark in fetch
responses is right, so reads here stop at that.
"""
from __future__ import annotations

import time
from typing import Iterable, Optional

from aiokafka import AIOKafkaConsumer, TopicPartition


async def read_topic(bootstrap: str, topic: str, idle: Optional[float] = None,
                     partitions: Optional[Iterable[int]] = None, timeout: float = 300.0,
                     options: Optional[dict] = None) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a topic (or of some of its partitions): up to the
    high watermark of each partition, or, with `idle`, until no record came
    for that many seconds. `options`: aiokafka security settings."""
    options = options or {}
    if partitions is None:
        consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest",
                                    enable_auto_commit=False, group_id=None, **options)
        await consumer.start()
    else:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, group_id=None, **options)
        await consumer.start()
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            await consumer.stop()
            return []
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
    records = []
    started = quiet_since = time.monotonic()
    try:
        while True:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                records += [(m.key, m.value) for m in messages]
                if messages:
                    quiet_since = time.monotonic()
            if idle is not None:
                if time.monotonic() - quiet_since >= idle:
                    return records
                continue
            assignment = consumer.assignment()
            caught_up = [tp for tp in assignment
                         if consumer.highwater(tp) is not None and await consumer.position(tp) >= consumer.highwater(tp)]
            if assignment and len(caught_up) == len(assignment):
                return records
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"reading {topic} did not reach its end in {timeout:.0f} s")
    finally:
        await consumer.stop()
