"""Reading a topic to its end, right on Tansu too.

Tansu's ListOffsets answers the base offset of a partition's last batch,
so "end offsets" stop short of the last batch; the high watermark in fetch
responses is right, so reads here stop at that.
"""
from __future__ import annotations

import time
from typing import AsyncIterator, Iterable, Optional

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError

from .config import FETCH_MAX_WAIT_MS


class WaitTimeout(TimeoutError):
    """A wait on Kafka (a topic's end, a worker's progress) that ran out of
    time; the message says what was waited for and how far it got."""


class MissingTopics(LookupError):
    """Topics to read that the Kafka does not have; the message names them."""


async def start_client(client):
    """The aiokafka client, started; stopped again when it cannot start (a
    broker that cannot be reached), so that it leaves nothing open."""
    try:
        await client.start()
    except BaseException:
        await client.stop()
        raise
    return client


async def read_topic(bootstrap: str, topic: str, idle: Optional[float] = None,
                     partitions: Optional[Iterable[int]] = None, timeout: float = 300.0,
                     options: Optional[dict] = None) -> list[tuple[bytes, bytes]]:
    """Every (key, value) of a topic (or of some of its partitions): up to the
    high watermark of each partition, or, with `idle`, until no record came
    for that many seconds (see topic_batches). `options`: aiokafka security settings."""
    return [record async for batch in topic_batches(bootstrap, topic, idle, partitions, timeout, options)
            for record in batch]


async def topic_batches(bootstrap: str, topic: str, idle: Optional[float] = None,
                        partitions: Optional[Iterable[int]] = None, timeout: float = 300.0,
                        options: Optional[dict] = None) -> AsyncIterator[list[tuple[bytes, bytes]]]:
    """read_topic's records a fetch at a time, for a topic too long to hold
    (`timeout`: seconds without a record before the end is an error)."""
    if partitions is None:
        consumer = await started_reader(bootstrap, options, topic)
    else:
        consumer = await started_reader(bootstrap, options)
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            await consumer.stop()
            return
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
    try:
        async for _, messages in _fetched(consumer, idle, timeout, topic):
            yield [(m.key, m.value) for m in messages]
    finally:
        await consumer.stop()


async def read_from(bootstrap: str, starts: dict[TopicPartition, Optional[int]], timeout: float = 300.0,
                    options: Optional[dict] = None) -> tuple[dict[TopicPartition, list[bytes]],
                                                            dict[TopicPartition, int]]:
    """The values of each topic partition from its start offset (None: its
    end) up to its high watermark, and that high watermark."""
    values: dict[TopicPartition, list[bytes]] = {tp: [] for tp in starts}
    if not starts:
        return values, {}
    consumer = await started_reader(bootstrap, options)
    try:
        consumer.assign(list(starts))
        at_end = [tp for tp, start in starts.items() if start is None]
        for tp, start in starts.items():
            if start is not None:
                consumer.seek(tp, start)
        # All in one call: one call per partition waited each time for the
        # fetch in flight (up to fetch_max_wait, then aiokafka's 0.5 s), and
        # a fresh deployment's first restore, with nothing sent yet, took
        # 20 s for its 40.
        if at_end:
            await consumer.seek_to_end(*at_end)
        async for tp, messages in _fetched(consumer, None, timeout, ", ".join(sorted({tp.topic for tp in starts}))):
            values[tp] += [m.value for m in messages]
        return values, {tp: consumer.highwater(tp) for tp in starts}
    finally:
        await consumer.stop()


async def started_reader(bootstrap: str, options: Optional[dict], *topics: str) -> AIOKafkaConsumer:
    """A started consumer in no group that commits nothing, subscribed to
    `topics` (else assigned by its caller) from their earliest offsets.
    `options`: more aiokafka settings (security, fetch sizes).

    Each of `topics` must exist (MissingTopics): aiokafka asks for a
    topic's metadata with leave to create it, and a broker that creates
    topics on demand (Tansu; Apache Kafka's default) would make it with its
    own partition count, which the workers then refuse to start with."""
    consumer = await start_client(AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None,
                                                   enable_auto_commit=False, auto_offset_reset="earliest",
                                                   **{"fetch_max_wait_ms": FETCH_MAX_WAIT_MS, **(options or {})}))
    if not topics:
        return consumer
    try:
        missing = sorted(set(topics) - await consumer.topics())  # every topic's metadata: creates none
        if missing:
            raise MissingTopics(
                f"the Kafka at {bootstrap} has no topic {', '.join(missing)}: nothing read, nothing created "
                "(the workers create their topics when they first start; is it the Kafka they use?)")
    except BaseException:
        await consumer.stop()
        raise
    consumer.subscribe(topics)
    return consumer


async def _fetched(consumer: AIOKafkaConsumer, idle: Optional[float], timeout: float, what: str):
    """(topic partition, its records) of each fetch until every partition
    assigned is read up to its high watermark, or, with `idle`, until no
    record came for that many seconds."""
    quiet_since = time.monotonic()
    while True:
        batch = await consumer.getmany(timeout_ms=200)
        for tp, messages in batch.items():
            if messages:
                yield tp, messages
                quiet_since = time.monotonic()
        if idle is not None:
            if time.monotonic() - quiet_since >= idle:
                return
            continue
        assignment = consumer.assignment()
        caught_up = [tp for tp in assignment
                     if consumer.highwater(tp) is not None and await consumer.position(tp) >= consumer.highwater(tp)]
        if assignment and len(caught_up) == len(assignment):
            return
        if time.monotonic() - quiet_since > timeout:
            raise WaitTimeout(f"reading {what}: no record for {timeout:.0f} s before its end")


class CommittedOffsets:
    """A consumer group's committed offsets, read by a consumer of the group
    that never joins it (Tansu answers OffsetFetch in a version aiokafka's
    admin client cannot decode). `options`: aiokafka security settings."""

    def __init__(self, bootstrap: str, group: str, options: Optional[dict] = None):
        self._reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False,
                                        **(options or {}))

    async def __aenter__(self) -> "CommittedOffsets":
        await start_client(self._reader)
        return self

    async def __aexit__(self, *exc) -> None:
        await self._reader.stop()

    async def of(self, partitions: Iterable[TopicPartition]) -> dict[TopicPartition, int]:
        """The committed offset of each partition that has one; none while
        the group does not exist. One OffsetFetch for all of them (aiokafka's
        public committed() asks per partition)."""
        partitions = list(partitions)
        try:
            committed = await self._reader._coordinator.fetch_committed_offsets(partitions)
        except KafkaError:
            return {}
        return {tp: meta.offset for tp, meta in committed.items() if meta.offset >= 0}

    async def done(self, ends: dict[TopicPartition, int]) -> int:
        """Records committed up to the end offsets, summed over the partitions."""
        committed = await self.of(ends)
        return sum(min(committed.get(tp, 0), end) for tp, end in ends.items())
