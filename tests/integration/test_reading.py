"""`read_from` against the embedded broker: what a restoring worker reads
back of its output topics (streams/already_sent.py)."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer, TopicPartition

from streams.broker import EmbeddedBroker, create_topics
from streams.reading import read_from

TOPICS = ("reading-a", "reading-b")
PARTITIONS = 4
# Records per (topic, partition); the other partitions stay empty.
WRITTEN = {("reading-a", 0): 5, ("reading-a", 2): 3, ("reading-b", 1): 4}


async def _scenario(bootstrap: str, starts: dict) -> tuple[dict, dict]:
    await create_topics(bootstrap, TOPICS, PARTITIONS)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    try:
        for (topic, partition), count in WRITTEN.items():
            for n in range(count):
                await producer.send_and_wait(topic, f"{topic}/{partition}/{n}".encode(), partition=partition)
    finally:
        await producer.stop()
    return await read_from(bootstrap, starts, timeout=30)


def test_read_from_reads_each_partition_from_its_offset_or_nothing_from_its_end():
    tp = TopicPartition
    starts = {
        tp("reading-a", 0): 2,      # records 2, 3, 4
        tp("reading-a", 1): None,   # empty, from its end
        tp("reading-a", 2): None,   # 3 records, from its end: none
        tp("reading-a", 3): 0,      # empty, from its start
        tp("reading-b", 0): None,   # empty, from its end
        tp("reading-b", 1): 4,      # at its end already
        tp("reading-b", 2): None,
        tp("reading-b", 3): None,
    }
    with EmbeddedBroker() as broker:
        values, ends = asyncio.run(_scenario(broker.bootstrap, starts))
    assert values == {
        tp("reading-a", 0): [b"reading-a/0/2", b"reading-a/0/3", b"reading-a/0/4"],
        tp("reading-a", 1): [], tp("reading-a", 2): [], tp("reading-a", 3): [],
        tp("reading-b", 0): [], tp("reading-b", 1): [], tp("reading-b", 2): [], tp("reading-b", 3): [],
    }
    assert ends == {tp("reading-a", 0): 5, tp("reading-a", 1): 0, tp("reading-a", 2): 3, tp("reading-a", 3): 0,
                    tp("reading-b", 0): 0, tp("reading-b", 1): 4, tp("reading-b", 2): 0, tp("reading-b", 3): 0}
