"""Topics whose partition counts cannot go together, on a real broker: the
worker stops with status 1 and names them, having applied nothing; replay
and backfill refuse them with the same message. The commands that read
topics make none of another count: a topic the Kafka does not have is
named, not created. A state topic made by others with settings that let
the broker delete records stops the worker the same way."""
from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import orjson
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import NewTopic

from streams.broker import EmbeddedBroker, admin_client, create_topics, free_port
from streams.cli import start_worker, stop_worker
from streams.reading import CommittedOffsets, read_topic
from streams.topics import INPUT_TOPICS, ORDERS, OUTPUT_TOPICS, state_topic_name

from .test_worker_http import _get, _wait_ready

APP = "counts"
STATE = state_topic_name(APP)
ORDER = {"event_id": "o1", "type": "order.placed", "seller_id": "s1", "occurred_at": "2026-01-01T10:00:00Z",
         "order_id": "o1", "total": "12.00", "currency": "EUR", "ship_by": "2026-01-03T10:00:00Z",
         "digital": False, "purchase_protected": False, "tracking_required": True}


async def _publish_an_order_and_heartbeats(bootstrap: str) -> None:
    """An order, and a heartbeat on every partition of every input topic
    after it: enough for a scorecard, would the worker apply them."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(ORDERS, orjson.dumps(ORDER), key=b"s1")
        for topic in INPUT_TOPICS:
            for partition in await producer.partitions_for(topic):
                beat = {"event_id": f"hb/{topic}/{partition}", "type": "clock.heartbeat", "seller_id": "hb",
                        "occurred_at": "2026-01-02T00:00:00Z"}
                await producer.send_and_wait(topic, orjson.dumps(beat), partition=partition)
    finally:
        await producer.stop()


# (input topics' count, orders' count, state topic's count; None: made by the worker) with PARTITIONS=2,
# and what the worker's error names
LAYOUTS = {
    "every input topic of another count": (3, 3, None, "marketplace.messages has 3, marketplace.orders has 3"),
    "one input topic of another count": (2, 3, None, ": marketplace.orders has 3."),
    "a state topic of more partitions": (2, 2, 3, f": {STATE} has 3."),
    "a state topic of fewer partitions": (2, 2, 1, f": {STATE} has 1."),  # a worker waited for ever for the rest
}


def _worker_stops_having_applied_nothing(broker, tmp_path, orders: int) -> str:
    """Start a worker (PARTITIONS=2) on the broker's topics, which hold an
    order and heartbeats: it must stop with status 1, having sent and
    committed nothing, with its error's one traceback; its log."""
    asyncio.run(_publish_an_order_and_heartbeats(broker.bootstrap))
    with open(tmp_path / "worker.log", "wb") as log:
        worker = start_worker(broker.bootstrap, APP, str(tmp_path), {"PARTITIONS": "2"}, log_file=log,
                              log_level="info")
        try:
            status = worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
            status = None
    outputs = {topic: asyncio.run(read_topic(broker.bootstrap, topic)) for topic in OUTPUT_TOPICS}

    async def committed():
        async with CommittedOffsets(broker.bootstrap, APP) as offsets:
            return await offsets.of([TopicPartition(ORDERS, p) for p in range(orders)])
    commits = asyncio.run(committed())
    log_text = (tmp_path / "worker.log").read_text(errors="replace")
    assert status == 1, f"the worker did not stop with status 1 ({status}):\n{log_text[-3000:]}"
    assert log_text.count("Traceback") == 1  # the error's own, nothing from the stop after it
    assert outputs == {topic: [] for topic in OUTPUT_TOPICS}
    assert commits == {}
    return log_text


@pytest.mark.parametrize("layout", LAYOUTS)
def test_a_worker_stops_naming_the_topics_of_another_count_and_applies_nothing(tmp_path, layout):
    inputs, orders, state, named = LAYOUTS[layout]
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, [ORDERS], orders))
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS, inputs))
        if state is not None:
            asyncio.run(create_topics(broker.bootstrap, [STATE], state, compacted=[STATE]))
        log_text = _worker_stops_having_applied_nothing(broker, tmp_path, orders)
    assert "must have PARTITIONS=2 partitions" in log_text and named in log_text


def test_a_worker_stops_on_a_state_topic_that_deletes_records_by_age(tmp_path):
    # As a platform's own topic tooling makes it, with Kafka's default policy: its records go after 7 days.
    async def make_state_topic(bootstrap: str) -> None:
        async with admin_client(bootstrap) as admin:
            await admin.create_topics([NewTopic(STATE, 2, 1, topic_configs={
                "cleanup.policy": "delete", "retention.ms": "604800000"})])

    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS, 2))
        asyncio.run(make_state_topic(broker.bootstrap))
        log_text = _worker_stops_having_applied_nothing(broker, tmp_path, 2)
    assert (f"the state topic {STATE} has cleanup.policy=delete and retention.ms=604800000: the broker deletes "
            "its records by age or size") in log_text


def test_a_worker_started_before_its_input_topics_exist_creates_them_with_partitions(tmp_path):
    """Not the broker's default count (4 on Tansu, 1 on Apache Kafka), which
    it gave topics it made at the subscription, and the worker stopped on."""
    port = free_port()
    with EmbeddedBroker() as broker:
        worker = start_worker(broker.bootstrap, APP, str(tmp_path), {"PARTITIONS": "3", "WEB_PORT": str(port)})
        try:
            _wait_ready(worker, port)
            shown = orjson.loads(_get(f"http://127.0.0.1:{port}/ready"))

            async def counts():
                producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap)
                await producer.start()
                try:
                    return {topic: len(await producer.partitions_for(topic)) for topic in INPUT_TOPICS}
                finally:
                    await producer.stop()
            created = asyncio.run(counts())
        finally:
            stop_worker(worker)
    assert shown == {"ready": True, "partitions": [0, 1, 2]}
    assert created == {topic: 3 for topic in INPUT_TOPICS}


def _cli(*args, partitions: int) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PARTITIONS": str(partitions)})


def test_replay_into_input_topics_of_another_count_publishes_nothing(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(orjson.dumps(ORDER) + b"\n")
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS, 3))
        result = _cli("replay", str(events), "--bootstrap", broker.bootstrap, partitions=2)
        published = {topic: asyncio.run(read_topic(broker.bootstrap, topic)) for topic in INPUT_TOPICS}
    assert result.returncode == 1
    assert "must have PARTITIONS=2 partitions" in result.stderr and "marketplace.refunds has 3" in result.stderr
    assert "Traceback" not in result.stderr
    assert published == {topic: [] for topic in INPUT_TOPICS}


def test_backfill_from_input_topics_of_different_counts_stops_naming_them(tmp_path):
    out = tmp_path / "evaluations.jsonl"
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, [ORDERS], 3))
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS, 2))
        asyncio.run(_publish_an_order_and_heartbeats(broker.bootstrap))
        result = _cli("backfill", "--from-topics", "--bootstrap", broker.bootstrap, "--evaluations", str(out),
                      partitions=2)
    assert result.returncode == 1
    assert ("the input topics must all have one partition count (a seller's events are on partition p of each): "
            "marketplace.messages has 2, marketplace.orders has 3, marketplace.shipments has 2, "
            "marketplace.reviews has 2, marketplace.refunds has 2") in result.stderr
    assert "Traceback" not in result.stderr


async def _topics(bootstrap: str) -> set[str]:
    """The topics the broker has (a metadata request for every topic, which creates none)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        return await consumer.topics()
    finally:
        await consumer.stop()


@pytest.mark.parametrize("command, present, missing", [
    (["evaluations", "--idle", "1"], (), ["standards.evaluations"]),
    (["backfill", "--from-topics", "--evaluations", "{out}"], INPUT_TOPICS[:-1], [INPUT_TOPICS[-1]]),
])
def test_reading_topics_the_kafka_does_not_have_creates_none_and_names_them(tmp_path, command, present, missing):
    # Subscribed to, a missing topic was created with the broker's own count (4 on the embedded broker),
    # which the workers then refused to start with.
    args = [arg.format(out=tmp_path / "out.jsonl") for arg in command]
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, present, 2))
        result = _cli(*args, "--bootstrap", broker.bootstrap, partitions=2)
        topics = asyncio.run(_topics(broker.bootstrap))
    assert result.returncode == 1
    assert f"has no topic {', '.join(missing)}: nothing read, nothing created" in result.stderr
    assert "Traceback" not in result.stderr
    assert not topics & set(missing)
    assert set(present) <= topics
