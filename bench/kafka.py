"""Broker-side helpers: loading the workload, the raw-consumer limit, a group's
committed progress, reading a topic's latest value per key."""
from __future__ import annotations

import asyncio
import time
from typing import Callable, Iterable, Optional

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from streams.partitioning import Partitioner
from streams.reading import CommittedOffsets, started_reader


async def load(bootstrap: str, records: Iterable[tuple[str, bytes, bytes]],
               ends: Optional[dict] = None) -> tuple[dict[TopicPartition, int], float]:
    """Publish (topic, key, value) keyed records with the default partitioner.
    Returns the end offset of every partition written to, from the producer's
    acknowledgements (Tansu's ListOffsets answers a batch's base offset), and
    the seconds it took."""
    ends = dict(ends or {})
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20,
                                acks="all", enable_idempotence=False, partitioner=Partitioner())
    await producer.start()
    began = time.perf_counter()
    pending: list = []

    async def settle() -> None:
        for sent in await asyncio.gather(*pending):
            tp = TopicPartition(sent.topic, sent.partition)
            ends[tp] = max(ends.get(tp, 0), sent.offset + 1)
        pending.clear()

    try:
        for topic, key, value in records:
            pending.append(await producer.send(topic, value, key=key))
            if len(pending) >= 20_000:
                await settle()
        await settle()
    finally:
        await producer.stop()
    return ends, time.perf_counter() - began


async def raw_consume(bootstrap: str, ends: dict[TopicPartition, int], tuned: bool = False) -> tuple[int, float]:
    """The limit: a plain consumer (no group) reads every input partition from
    the start to its end, decodes each value with orjson and counts it per
    seller in a dict. Returns (events, seconds). aiokafka's default fetch
    settings, or (tuned) 4 MiB per partition and 64 MiB per fetch."""
    fetch = {"max_partition_fetch_bytes": 4 << 20, "fetch_max_bytes": 64 << 20} if tuned else {}
    consumer = await started_reader(bootstrap, fetch)
    try:
        tps = list(ends)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, 0)
        remaining = {tp: end for tp, end in ends.items() if end > 0}
        counts: dict = {}
        n = 0
        began = time.perf_counter()
        while remaining:
            batch = await consumer.getmany(timeout_ms=500)
            for tp, messages in batch.items():
                for m in messages:
                    try:
                        seller = orjson.loads(m.value).get("seller_id")
                    except (orjson.JSONDecodeError, AttributeError):
                        seller = None
                    counts[seller] = counts.get(seller, 0) + 1
                n += len(messages)
                if messages and messages[-1].offset + 1 >= remaining.get(tp, 0):
                    remaining.pop(tp, None)
        return n, time.perf_counter() - began
    finally:
        await consumer.stop()


class Progress(CommittedOffsets):
    """A consumer group's committed progress, and waiting for it."""

    async def wait(self, ends: dict[TopicPartition, int], timeout: float, alive: Callable[[], bool],
                   every: float = 0.1, on_sample: Optional[Callable[[], None]] = None,
                   samples: Optional[list] = None) -> float:
        """Wait until the group committed every end offset; returns the
        perf_counter time at which that was first seen. `samples` collects
        (time, committed events) whenever the committed count changed."""
        target = sum(ends.values())
        deadline = time.perf_counter() + timeout
        last = None
        while True:
            done = await self.done(ends)
            now = time.perf_counter()
            if samples is not None and done != last:
                samples.append((now, done))
                last = done
            if on_sample:
                on_sample()
            if done >= target:
                return now
            if not alive():
                raise RuntimeError(f"the worker exited after committing {done:,} of {target:,} events")
            if now > deadline:
                raise TimeoutError(f"committed {done:,} of {target:,} events in {timeout:.0f} s")
            await asyncio.sleep(every)


async def latest_values(bootstrap: str, topic: str) -> dict[bytes, bytes]:
    """The latest value of every key of a topic, read to the high watermark of
    fetch responses (right on Tansu), tombstones dropping keys."""
    consumer = await started_reader(bootstrap, {"max_partition_fetch_bytes": 8 << 20}, topic)
    latest: dict[bytes, bytes] = {}
    try:
        quiet = time.perf_counter()
        while True:
            batch = await consumer.getmany(timeout_ms=300)
            for messages in batch.values():
                for m in messages:
                    if m.value is None:
                        latest.pop(m.key, None)
                    else:
                        latest[m.key] = m.value
                if messages:
                    quiet = time.perf_counter()
            assignment = consumer.assignment()
            caught = [tp for tp in assignment if consumer.highwater(tp) is not None
                      and await consumer.position(tp) >= consumer.highwater(tp)]
            if assignment and len(caught) == len(assignment):
                return latest
            if time.perf_counter() - quiet > 10:
                return latest
    finally:
        await consumer.stop()
