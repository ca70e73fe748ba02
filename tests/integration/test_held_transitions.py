"""A violation is held in its seller's state until the state holding it is
written (docs/reliability.md): a real worker sends it after its last commit
on SIGTERM, and writes the state again without it, so the worker that
resumes does not send it a second time."""
from __future__ import annotations

import asyncio
import time
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import orjson

from streams import replay
from streams.broker import EmbeddedBroker, create_topics
from streams.cli import start_worker, stop_worker
from streams.reading import read_topic
from streams.topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS, SCORECARDS, VIOLATIONS

GROUP = "held"


def _event(n: int, type_: str, at: datetime, **fields) -> dict:
    return {"event_id": f"e{n}", "type": type_, "seller_id": "s", "occurred_at": _text(at), **fields}


def _text(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%SZ")


def _unanswered_thread(buyer_at: datetime, clock_at: datetime) -> list[dict]:
    """A seller with 5 digital sales in the 8 days before a buyer's message
    (its standards are judged), the message unanswered, and heartbeats
    (replay.publish repeats the last on every topic) from 9 days before it
    to `clock_at`: past its 48 h deadline, message response is 0 of 1, not met."""
    return [
        _event(0, "clock.heartbeat", buyer_at - timedelta(days=9)),
        *(_event(1 + i, "order.placed", buyer_at - timedelta(days=8 - i), order_id=f"o{i}", total="10.00",
                 currency="EUR", ship_by=_text(buyer_at + timedelta(days=60)), digital=True,
                 purchase_protected=False, tracking_required=False) for i in range(5)),
        _event(6, "message.sent", buyer_at, thread_id="t", message_id="m1", sender_role="buyer"),
        _event(7, "clock.heartbeat", clock_at),
    ]


def _publish(broker, path, events):
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return asyncio.run(replay.publish(path, broker.bootstrap, 1))


def _records(broker, topic):
    return [orjson.loads(value) for _, value in asyncio.run(read_topic(broker.bootstrap, topic))]


def _wait_not_met(broker, worker):
    deadline = time.monotonic() + 90
    while not any(card["standards"]["message_response"]["status"] == "not_met"
                  for card in _records(broker, SCORECARDS)):
        assert worker.poll() is None and time.monotonic() < deadline, "no card says not met"
        time.sleep(0.2)


def _stop(worker):
    worker.terminate()
    assert worker.wait(60) == 0


def _opened_once(broker) -> dict:
    (opened,) = _records(broker, VIOLATIONS)
    assert (opened["violation_id"], opened["type"], opened["numerator"], opened["denominator"]) == (
        "s/message_response/1", "violation.opened", 0, 1)
    return opened


@contextmanager
def _workers(tmp_path):
    """A broker with the topics of one partition, and a function that starts
    a worker of the group (stopped at the end)."""
    workers = []
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 1, compacted=COMPACTED))

        def start(commit_interval: str, clock: str = "event"):
            name = f"worker-{len(workers)}"
            with open(tmp_path / f"{name}.log", "wb") as log:  # the worker writes to its own copy
                workers.append(start_worker(broker.bootstrap, GROUP, str(tmp_path / name),
                                            {"PARTITIONS": "1", "CLOCK": clock, "COMMIT_INTERVAL": commit_interval,
                                             "BACKLOG_COMMIT_INTERVAL": commit_interval}, log_file=log))
            return workers[-1]

        try:
            yield broker, start
        finally:
            for worker in workers:
                stop_worker(worker)


def _resumed_without_sending_again(broker, tmp_path, start, heartbeat_at: datetime, opened: dict, clock="event"):
    """A next worker reads the state back and applies a later heartbeat: the violation is not sent again."""
    worker = start("0.5", clock)
    ends = _publish(broker, tmp_path / "later.jsonl", [_event(8, "clock.heartbeat", heartbeat_at)])
    asyncio.run(replay.wait_processed(broker.bootstrap, GROUP, ends, 90, alive=lambda: worker.poll() is None))
    assert _records(broker, VIOLATIONS) == [opened]


def test_a_violation_held_at_a_graceful_stop_is_sent_once_and_not_again_by_the_next_worker(tmp_path):
    buyer_at = datetime(2026, 1, 10, 10, tzinfo=timezone.utc)
    with _workers(tmp_path) as (broker, start):
        first = start("600")  # no commit before the stop: the violation is still held when it comes
        _publish(broker, tmp_path / "events.jsonl",
                 _unanswered_thread(buyer_at, buyer_at + timedelta(hours=48, seconds=1)))
        _wait_not_met(broker, first)
        assert _records(broker, VIOLATIONS) == []  # found by the recount, not yet written: held
        _stop(first)
        opened = _opened_once(broker)
        _resumed_without_sending_again(broker, tmp_path, start, buyer_at + timedelta(hours=49), opened)


def test_a_violation_held_when_the_last_commit_has_nothing_to_commit_is_sent_once(tmp_path):
    """The wall clock passes the deadline of a worker with no input left:
    its last commit writes nothing, so the stop writes the state twice."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    buyer_at = now - timedelta(hours=49)
    with _workers(tmp_path) as (broker, start):
        first = start("0.5")  # event time only: the thread is pending at the last heartbeat
        ends = _publish(broker, tmp_path / "events.jsonl", _unanswered_thread(buyer_at, buyer_at + timedelta(minutes=30)))
        asyncio.run(replay.wait_processed(broker.bootstrap, GROUP, ends, 90, alive=lambda: first.poll() is None))
        _stop(first)
        second = start("600", clock="wall")  # nothing to consume; its clock passes the 48 h deadline
        _wait_not_met(broker, second)
        assert _records(broker, VIOLATIONS) == []
        _stop(second)
        opened = _opened_once(broker)
        _resumed_without_sending_again(broker, tmp_path, start, now, opened, clock="wall")
