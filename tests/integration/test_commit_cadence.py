"""How often a real worker commits its input offsets: every COMMIT_INTERVAL,
but only every BACKLOG_COMMIT_INTERVAL while its input is a backlog (a fetch
brings records 5 s old or more by their Kafka timestamps: streams/app.py)."""
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
                offset = (await reader.of([ORDERS_0])).get(ORDERS_0)
                if offset is not None and (not committed or offset != committed[-1]):
                    committed.append(offset)
                await asyncio.sleep(0.1)
    finally:
        await producer.stop()
    return first_offset, committed


def test_a_backlog_is_committed_every_backlog_interval_and_fresh_input_every_commit_interval(tmp_path):
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 1, compacted=COMPACTED))
        worker = start_worker(broker.bootstrap, GROUP, str(tmp_path),
                              {"PARTITIONS": "1", "COMMIT_INTERVAL": "0.5", "BACKLOG_COMMIT_INTERVAL": "4"},
                              log_file=open(tmp_path / "worker.log", "wb"))
        try:
            deadline = time.monotonic() + 60
            while not asyncio.run(_trickle(broker.bootstrap, 2.0, 0.0, 0))[1]:  # until the worker commits
                assert worker.poll() is None and time.monotonic() < deadline, "the worker never committed"
            # Records an hour old, one every 0.1 s for 9 s: a backlog in every fetch.
            backlog_start, committed = asyncio.run(_trickle(broker.bootstrap, 9.0, 3600.0, 1000))
            # Then fresh ones (the first fresh fetch ends the backlog), for 4 s.
            _, fresh = asyncio.run(_trickle(broker.bootstrap, 4.0, 0.0, 2000))
        finally:
            stop_worker(worker)
    # Every 0.5 s, 9 s would make some 18 commits; every 4 s, two (or three).
    # Commits of the fresh records before the backlog do not count: a slow
    # worker may commit the last of them after the backlog's first was sent.
    backlog = [offset for offset in committed if offset > backlog_start]
    assert 1 <= len(backlog) <= 3, committed
    # Every 0.5 s again: 4 s make about 8 (each took some records).
    assert len(fresh) >= 4, fresh
