"""A worker's HTTP endpoints after processing real input from the broker."""
from __future__ import annotations

import asyncio
import contextlib
import subprocess
import time
import urllib.request

import orjson

from streams import replay
from streams.broker import EmbeddedBroker, create_topics, free_port
from streams.cli import start_worker, stop_worker
from streams.reading import read_topic
from streams.topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS, state_topic_name


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as response:
        return response.read()


def _wait_ready(worker, port: int) -> None:
    deadline = time.monotonic() + 60
    while True:
        assert worker.poll() is None and time.monotonic() < deadline, "the worker never got ready"
        try:
            if orjson.loads(_get(f"http://127.0.0.1:{port}/ready"))["ready"]:
                return
        except OSError:  # not listening yet, or 503 until recovered
            pass
        time.sleep(0.2)


def _sample(metrics: str, name_and_labels: str) -> float:
    for line in metrics.splitlines():
        if line.startswith(name_and_labels + " "):
            return float(line.split()[-1])
    raise AssertionError(f"{name_and_labels} not exposed")


def test_metrics_count_processed_events_and_dead_letters_by_reason(tmp_path):
    beats = [{"event_id": f"hb-{t}", "type": "clock.heartbeat", "seller_id": "x", "_topic": t,
              "occurred_at": "2026-01-02T00:00:00Z"} for t in INPUT_TOPICS]
    orders = [{"event_id": f"o{i}", "type": "order.placed", "seller_id": f"s{i}", "occurred_at": "2026-01-01T10:00:00Z",
               "order_id": "o", "total": "12.00", "currency": "EUR", "ship_by": "2026-01-03T10:00:00Z",
               "digital": False, "purchase_protected": False, "tracking_required": True} for i in range(3)]
    bad = [b"not json at all", orjson.dumps({"event_id": "r", "type": "review.posted", "seller_id": "s0",
                                             "occurred_at": "2026-01-01T10:00:00Z", "review_id": "r",
                                             "order_id": "o", "rating": 6})]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join([orjson.dumps(e) for e in orders + beats] + bad) + b"\n")
    port = free_port()
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 2, compacted=COMPACTED))
        worker = start_worker(broker.bootstrap, "http-test", str(tmp_path),
                              {"PARTITIONS": "2", "WEB_PORT": str(port)})
        try:
            ends = asyncio.run(replay.publish(events, broker.bootstrap, 2))
            asyncio.run(replay.wait_processed(broker.bootstrap, "http-test", ends, 120,
                                              alive=lambda: worker.poll() is None))
            assert orjson.loads(_get(f"http://127.0.0.1:{port}/ready"))["ready"] is True
            time.sleep(1.5)  # gauges are set by the worker's timer (every 0.5 s)
            metrics = _get(f"http://127.0.0.1:{port}/metrics").decode()
            dead = asyncio.run(read_topic(broker.bootstrap, "standards.deadletter"))
        finally:
            stop_worker(worker)
    assert _sample(metrics, 'seller_standards_events_total{topic="marketplace.orders",type="order.placed"}') == 3
    assert _sample(metrics, "seller_standards_ready") == 1
    assert _sample(metrics, "seller_standards_assigned_partitions") == 2
    # Everything processed and committed: no lag on any input partition.
    assert [_sample(metrics, f'seller_standards_consumer_lag_records{{partition="{p}",topic="{t}"}}')
            for t in INPUT_TOPICS for p in (0, 1)] == [0] * 10
    # 3 sellers with 1 order each: fewer than 5 sales, no badge.
    assert _sample(metrics, 'seller_standards_badges{badge="star_seller"}') == 0
    assert _sample(metrics, 'seller_standards_deadletters_total{reason="not_json"}') == 1
    assert _sample(metrics, 'seller_standards_deadletters_total{reason="bad_value"}') == 1
    assert not [line for line in metrics.splitlines() if any(f'"s{i}"' in line for i in range(3))]  # no seller labels
    # Every generation's pauses are exposed, with or without a collection yet (a small run may have none).
    for generation in range(3):
        assert _sample(metrics, f'seller_standards_gc_pause_seconds_bucket{{generation="{generation}",le="+Inf"}}') \
            == _sample(metrics, f'seller_standards_gc_pause_seconds_count{{generation="{generation}"}}')
    reasons = sorted(orjson.loads(value)["code"] for _, value in dead)
    assert reasons == ["bad_value", "not_json"]
    rating = next(orjson.loads(v) for _, v in dead if orjson.loads(v)["code"] == "bad_value")
    assert "rating" in rating["reason"] and rating["topic"] == "marketplace.reviews"


def test_a_restarted_worker_reports_its_restore(tmp_path):
    """seller_standards_restored_records: every record of the state topic
    (read here from the broker; Tansu does not compact), the log of the
    worker's partitions; a first start reads none."""
    orders = [{"event_id": f"o{i}", "type": "order.placed", "seller_id": f"s{i}", "occurred_at": "2026-01-01T10:00:00Z",
               "order_id": "o", "total": "12.00", "currency": "EUR", "ship_by": "2026-01-03T10:00:00Z",
               "digital": False, "purchase_protected": False, "tracking_required": True} for i in range(20)]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(orjson.dumps(e) for e in orders) + b"\n")
    port = free_port()
    env = {"PARTITIONS": "2", "WEB_PORT": str(port)}
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 2, compacted=COMPACTED))
        worker = start_worker(broker.bootstrap, "restore-test", str(tmp_path), env)
        try:
            _wait_ready(worker, port)
            first = _get(f"http://127.0.0.1:{port}/metrics").decode()
            ends = asyncio.run(replay.publish(events, broker.bootstrap, 2))
            asyncio.run(replay.wait_processed(broker.bootstrap, "restore-test", ends, 120,
                                              alive=lambda: worker.poll() is None))
        finally:
            stop_worker(worker)
        state = asyncio.run(read_topic(broker.bootstrap, state_topic_name("restore-test")))
        worker = start_worker(broker.bootstrap, "restore-test", str(tmp_path), env)
        try:
            _wait_ready(worker, port)
            again = _get(f"http://127.0.0.1:{port}/metrics").decode()
        finally:
            stop_worker(worker)
    assert _sample(first, "seller_standards_restored_records") == 0
    assert len(state) >= 20 + 20 + 2  # at least an order and a header per seller, and each partition's record
    assert _sample(again, "seller_standards_restored_records") == len(state)
    assert 0 < _sample(again, "seller_standards_restore_seconds") < 30


def test_a_worker_stops_soon_on_sigterm_when_the_broker_is_gone(tmp_path):
    """An orchestrator stopping a worker during a broker outage: mode waited
    60 s for the consumer's thread, which kept looking for the coordinator,
    then (with a 5 s wait) 6 s, as that thread ended with a traceback."""
    port = free_port()
    log_path = tmp_path / "worker.log"
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 1, compacted=COMPACTED))
        with open(log_path, "wb") as log:
            worker = start_worker(broker.bootstrap, "stop-test", str(tmp_path), {"PARTITIONS": "1", "WEB_PORT": str(port)},
                                  log_file=log)
        try:
            _wait_ready(worker, port)
            broker.process.kill()
            broker.process.wait()
            time.sleep(3)  # the worker notices (its connections close) and tries to reconnect
            stopping = time.monotonic()
            worker.terminate()
            worker.wait(30)
            stopped_after = time.monotonic() - stopping
        finally:
            stop_worker(worker)
    assert stopped_after < 5, stopped_after  # about 1.3 s: mode's own pauses
    logged = log_path.read_text()
    # Its client tried again every 0.1 s; each error is logged once per 10 s (streams.client_logs).
    assert 1 <= logged.count("Unable connect to node") <= 2, logged[-3000:]
    # The consumer's thread stopped cleanly (a fetch's CancelledError out of aiokafka's stop ended it
    # with a traceback, and mode waited 5 s for it, then logged its TimeoutError).
    assert "Traceback" not in logged, logged[-3000:]


def test_a_worker_stops_soon_on_sigterm_while_the_broker_holds_its_group_join(tmp_path):
    """A static member restarted after a crash is held in its join by the
    broker for seconds. A SIGTERM then: mode waits 5 s for the consumer's
    thread and goes on; the join completing after that brought an
    assignment whose callback waited for the main thread's method queue,
    already stopped, and the process waited for that thread at exit for ever."""
    port = free_port()
    env = {"PARTITIONS": "1", "WEB_PORT": str(port), "GROUP_INSTANCE_ID": "worker-a"}
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 1, compacted=COMPACTED))
        crashed = start_worker(broker.bootstrap, "join-test", str(tmp_path), env)
        try:
            _wait_ready(crashed, port)
        finally:
            crashed.kill()
            crashed.wait()
        log_path = tmp_path / "restarted.log"
        with open(log_path, "wb") as log:
            restarted = start_worker(broker.bootstrap, "join-test", str(tmp_path), env, log_file=log, log_level="info")
        try:
            deadline = time.monotonic() + 60
            while b"(Re-)joining group" not in log_path.read_bytes():
                assert restarted.poll() is None and time.monotonic() < deadline, "the worker never joined"
                time.sleep(0.02)
            time.sleep(0.3)
            stopping = time.monotonic()
            restarted.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                restarted.wait(30)
            stopped_after = time.monotonic() - stopping
        finally:
            restarted.kill()
            restarted.wait()
    assert stopped_after < 15, (stopped_after, log_path.read_text()[-3000:])
