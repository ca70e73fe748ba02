"""Real worker processes on the embedded broker: a kill -9 and a rebalance
mid-replay give the evaluations of an uninterrupted run (SPEC section 6:
a crash, a restart or a rebalance changes nothing)."""
from __future__ import annotations

import asyncio
import os
import signal
import time

import orjson
from aiokafka import AIOKafkaConsumer

from schemas.validate import parse_timestamp
from standards.policy import Policy
from streams import replay
from streams.backfill import backfill
from streams.broker import EmbeddedBroker, create_topics
from streams.cli import start_worker, stop_worker
from streams.reading import read_topic
from streams.simulate import simulate
from streams.topics import COMPACTED, EVALUATIONS, INPUT_TOPICS, OUTPUT_TOPICS

PARTITIONS = 4
LINES = [orjson.dumps(e) for e in simulate(40, parse_timestamp("2026-01-01T00:00:00Z"), days=130, seed=5,
                                           heartbeat_every=24 * 3600 * 1_000_000)]
EXPECTED, _ = backfill(LINES, PARTITIONS, Policy())


async def _committed(bootstrap: str, group: str, ends) -> int:
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        return sum([(await reader.committed(tp)) or 0 for tp in ends])
    finally:
        await reader.stop()


def _wait_committed(bootstrap, group, ends, fraction, timeout=120):
    deadline = time.monotonic() + timeout
    while asyncio.run(_committed(bootstrap, group, ends)) < fraction * sum(ends.values()):
        assert time.monotonic() < deadline, f"the worker did not reach {fraction:.0%} of the input"
        time.sleep(0.05)


def _run(tmp_path, group: str, steps) -> list:
    """Publish the workload to one worker; at each (fraction of input
    committed, action) step: "crash" kills the oldest running worker with
    SIGKILL and starts a new one, "add" starts one more worker, "kill" kills
    the oldest with SIGKILL and leaves the rest to take over. Returns the raw
    evaluation records once every input offset is committed."""
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(LINES) + b"\n")
    workers = []
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, PARTITIONS, compacted=COMPACTED))

        def start():
            workers.append(start_worker(broker.bootstrap, group, str(tmp_path / f"w{len(workers)}"),
                                        {"PARTITIONS": str(PARTITIONS), "COMMIT_INTERVAL": "0.5"}))

        def kill_oldest():
            oldest = next(w for w in workers if w.poll() is None)
            os.kill(oldest.pid, signal.SIGKILL)
            oldest.wait()

        try:
            start()
            ends = asyncio.run(replay.publish(events, broker.bootstrap, PARTITIONS))
            for fraction, action in steps:
                _wait_committed(broker.bootstrap, group, ends, fraction)
                if action in ("crash", "kill"):
                    kill_oldest()
                if action in ("crash", "add"):
                    start()
            asyncio.run(replay.wait_processed(broker.bootstrap, group, ends, 180,
                                              alive=lambda: any(w.poll() is None for w in workers)))
            return asyncio.run(read_topic(broker.bootstrap, EVALUATIONS))
        finally:
            for worker in workers:
                stop_worker(worker)


def _assert_same_evaluations(raw) -> None:
    # A record made again after a crash (outputs are at least once) must be the same record.
    first = {}
    for _, value in raw:
        record = orjson.loads(value)
        assert first.setdefault((record["seller_id"], record["month"]), record) == record
    assert replay.latest_evaluations(raw) == EXPECTED


def test_the_workload_spans_several_evaluated_months():
    assert len({orjson.loads(line)["month"] for line in EXPECTED}) == 4


def test_kill_9_twice_mid_replay_with_restarts_gives_the_uninterrupted_evaluations(tmp_path):
    _assert_same_evaluations(_run(tmp_path, "crash", [(0.3, "crash"), (0.7, "crash")]))


def test_a_worker_added_and_a_worker_killed_mid_replay_give_the_uninterrupted_evaluations(tmp_path):
    _assert_same_evaluations(_run(tmp_path, "rebalance", [(0.2, "add"), (0.6, "kill")]))
