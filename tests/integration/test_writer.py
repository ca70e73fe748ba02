"""The worker's batch writer against the embedded broker, under steady
load: a commit returns with what was added before it on the broker, and
every record reaches its partition once, in the order added."""
from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer

from streams.broker import EmbeddedBroker, create_topics
from streams.reading import read_topic
from streams.writer import BatchWriter

TOPIC = "writer-test"
PARTITIONS = 2


async def _scenario(bootstrap: str) -> tuple[list[dict], dict, dict]:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    writer = BatchWriter()
    added: dict[int, list[bytes]] = {p: [] for p in range(PARTITIONS)}
    stop = asyncio.Event()

    async def keep_adding() -> None:  # as the worker under steady load: records every millisecond
        n = 0
        while not stop.is_set():
            for _ in range(20):
                partition = n % PARTITIONS
                value = f"{n:07d}".encode()
                writer.add(TOPIC, partition, b"k", value)
                added[partition].append(value)
                n += 1
            writer.send_soon(producer)
            await asyncio.sleep(0.001)

    adder = asyncio.create_task(keep_adding())
    commits = []
    try:
        for _ in range(3):
            await asyncio.sleep(0.3)
            before = {p: len(values) for p, values in added.items()}
            await asyncio.wait_for(writer.acknowledged(producer), timeout=20)
            written = await read_topic(bootstrap, TOPIC, partitions=range(PARTITIONS))
            commits.append({"before": before, "written": len(written)})
    finally:
        stop.set()
        await adder
    await writer.acknowledged(producer)
    await producer.stop()
    by_partition = {}
    for partition in range(PARTITIONS):
        by_partition[partition] = [value for _, value in
                                   await read_topic(bootstrap, TOPIC, partitions=[partition])]
    return commits, added, by_partition


def test_a_commit_waits_for_what_was_handed_over_before_it_and_returns_under_steady_load():
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, [TOPIC], PARTITIONS))
        commits, added, written = asyncio.run(_scenario(broker.bootstrap))
    assert len(commits) == 3
    for commit in commits:
        assert commit["written"] >= sum(commit["before"].values()) > 0  # acknowledged = on the broker
    assert written == added  # once each, in the order added
