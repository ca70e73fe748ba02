"""How often a real worker commits its input offsets: every COMMIT_INTERVAL,
but only every BACKLOG_COMMIT_INTERVAL while its input is a backlog (a fetch
brings records 5 s old or more by their Kafka timestamps and there are more
to read: streams/app.py), and at once when it has read a backlog to its end."""
from __future__ import annotations

import asyncio
import time

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition

from streams.broker import EmbeddedBroker, create_topics
from streams.cli import start_worker, stop_worker
from streams.reading import CommittedOffsets
from streams.topics import COMPACTED, INPUT_TOPICS, ORDERS, OUTPUT_TOPICS

GROUP = "cadence"
ORDERS_0 = TopicPartition(ORDERS, 0)


def _order(i: int) -> bytes:
    return orjson.dumps({"event_id": f"e{i}", "type": "order.placed", "seller_id": f"s{i % 50}",
                         "occurred_at": "2026-01-01T10:00:00Z", "order_id": f"o{i}", "total": "12.00",
                         "currency": "EUR", "ship_by": "2026-01-03T10:00:00Z", "digital": False,
                         "purchase_protected": False, "tracking_required": True})


async def _note_commit(reader: CommittedOffsets, committed: list[int]) -> None:
    """Add the group's committed offset of the partition to `committed` when it is new."""
    offset = (await reader.of([ORDERS_0])).get(ORDERS_0)
    if offset is not None and (not committed or offset != committed[-1]):
        committed.append(offset)


async def _trickle(bootstrap: str, seconds: float, age: float, first: int) -> tuple[int, list[int]]:
    """Send an order every 0.1 s for `seconds`, each with a Kafka timestamp
    `age` seconds in the past; every 0.1 s read the worker group's committed
    offset of the partition. The offset of the first order sent, and the
    offsets the worker committed, in order, each once."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    committed, first_offset = [], None
    try:
        async with CommittedOffsets(bootstrap, GROUP) as reader:
            i, end = first, time.monotonic() + seconds
            while time.monotonic() < end:
                sent = await producer.send_and_wait(ORDERS, _order(i), key=f"s{i % 50}".encode(), partition=0,
                                                    timestamp_ms=int((time.time() - age) * 1000))
                if first_offset is None:
                    first_offset = sent.offset
                i += 1
                await _note_commit(reader, committed)
                await asyncio.sleep(0.1)
    finally:
        await producer.stop()
    return first_offset, committed


async def _send_old(bootstrap: str, count: int, age: float) -> None:
    """`count` orders at once, each with a Kafka timestamp `age` seconds in the past."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20)
    await producer.start()
    try:
        stamp = int((time.time() - age) * 1000)
        sent = [await producer.send(ORDERS, _order(i), key=f"s{i % 50}".encode(), partition=0, timestamp_ms=stamp)
                for i in range(count)]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def _commits_until(bootstrap: str, offset: int, seconds: float) -> list[int]:
    """The offsets the worker group commits, in order, each once, read every
    0.05 s until one is `offset` or more (or `seconds` went by)."""
    committed: list[int] = []
    async with CommittedOffsets(bootstrap, GROUP) as reader:
        end = time.monotonic() + seconds
        while time.monotonic() < end and not (committed and committed[-1] >= offset):
            await _note_commit(reader, committed)
            await asyncio.sleep(0.05)
    return committed


BACKLOG = 40_000  # orders an hour old: a second or more of the worker's work


def test_a_backlog_is_committed_once_read_to_its_end_and_old_records_read_as_they_come_every_commit_interval(
        tmp_path):
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 1, compacted=COMPACTED))
        asyncio.run(_send_old(broker.bootstrap, BACKLOG, 3600.0))
        worker = start_worker(broker.bootstrap, GROUP, str(tmp_path),
                              {"PARTITIONS": "1", "COMMIT_INTERVAL": "0.5", "BACKLOG_COMMIT_INTERVAL": "60"},
                              log_file=open(tmp_path / "worker.log", "wb"))
        try:
            backlog = asyncio.run(_commits_until(broker.bootstrap, BACKLOG, 90.0))
            # Then an order an hour old every 0.1 s for 4 s: each fetch brings
            # one, and once it is applied the worker has read all there is.
            trickle_start, trickle = asyncio.run(_trickle(broker.bootstrap, 4.0, 3600.0, BACKLOG))
        finally:
            stop_worker(worker)
    # The backlog's records are committed once, when the worker has read
    # them all: every 0.5 s would have committed parts of them on the way.
    assert backlog == [BACKLOG]
    # Old records that the worker reads as they come are no backlog: a
    # commit every 0.5 s (about 8 in 4 s; every 60 s would make none).
    assert len([offset for offset in trickle if offset > trickle_start]) >= 4, trickle
