"""A violation is held in its seller's state until the state holding it is
written (docs/reliability.md): a real worker sends it after its last commit
on SIGTERM, and writes the state again without it, so the worker that
resumes does not send it a second time."""
from __future__ import annotations

import asyncio
import time

import orjson

from streams import replay
from streams.broker import EmbeddedBroker, create_topics
from streams.cli import start_worker, stop_worker
from streams.reading import read_topic
from streams.topics import COMPACTED, INPUT_TOPICS, OUTPUT_TOPICS, SCORECARDS, VIOLATIONS

GROUP = "held"


def _event(n: int, type_: str, at: str, **fields) -> dict:
    return {"event_id": f"e{n}", "type": type_, "seller_id": "s", "occurred_at": at, **fields}


# A seller with 5 sales (its standards are judged) and a buyer's thread of
# 2026-01-10 10:00 still unanswered when the clock reaches 2026-01-12
# 10:00:01, past its 48 h deadline: message response 0 of 1, not met.
EVENTS = [
    _event(0, "clock.heartbeat", "2026-01-01T00:00:00Z"),
    *(_event(1 + i, "order.placed", f"2026-01-0{i + 2}T10:00:00Z", order_id=f"o{i}", total="10.00",
             currency="EUR", ship_by="2026-03-01T00:00:00Z", digital=True, purchase_protected=False,
             tracking_required=False) for i in range(5)),
    _event(6, "message.sent", "2026-01-10T10:00:00Z", thread_id="t", message_id="m1", sender_role="buyer"),
    _event(7, "clock.heartbeat", "2026-01-12T10:00:01Z"),  # replay.publish repeats it on every topic
]
LATER = [_event(8, "clock.heartbeat", "2026-01-12T11:00:00Z")]


def _publish(broker, path, events):
    path.write_bytes(b"\n".join(orjson.dumps(e) for e in events) + b"\n")
    return asyncio.run(replay.publish(path, broker.bootstrap, 1))


def _records(broker, topic):
    return [orjson.loads(value) for _, value in asyncio.run(read_topic(broker.bootstrap, topic))]


def _start(broker, tmp_path, name, commit_interval):
    with open(tmp_path / f"{name}.log", "wb") as log:  # the worker writes to its own copy
        return start_worker(broker.bootstrap, GROUP, str(tmp_path / name),
                            {"PARTITIONS": "1", "COMMIT_INTERVAL": commit_interval,
                             "BACKLOG_COMMIT_INTERVAL": commit_interval}, log_file=log)


def test_a_violation_held_at_a_graceful_stop_is_sent_once_and_not_again_by_the_next_worker(tmp_path):
    with EmbeddedBroker() as broker:
        asyncio.run(create_topics(broker.bootstrap, INPUT_TOPICS + OUTPUT_TOPICS, 1, compacted=COMPACTED))
        # No commit before the stop: the violation is still held when it comes.
        first = _start(broker, tmp_path, "first", "600")
        second = None
        try:
            _publish(broker, tmp_path / "events.jsonl", EVENTS)
            deadline = time.monotonic() + 90
            while not any(card["standards"]["message_response"]["status"] == "not_met"
                          for card in _records(broker, SCORECARDS)):
                assert first.poll() is None and time.monotonic() < deadline, "no card says not met"
                time.sleep(0.2)
            assert _records(broker, VIOLATIONS) == []  # found by the recount, not yet written: held

            first.terminate()
            assert first.wait(60) == 0
            (opened,) = _records(broker, VIOLATIONS)
            assert (opened["violation_id"], opened["type"], opened["numerator"], opened["denominator"]) == (
                "s/message_response/1", "violation.opened", 0, 1)

            # The next worker reads the state back, then applies one more hour of clock.
            second = _start(broker, tmp_path, "second", "0.5")
            ends = _publish(broker, tmp_path / "later.jsonl", LATER)
            asyncio.run(replay.wait_processed(broker.bootstrap, GROUP, ends, 90, alive=lambda: second.poll() is None))
            assert _records(broker, VIOLATIONS) == [opened]
        finally:
            stop_worker(first)
            if second is not None:
                stop_worker(second)
