"""A real worker on the embedded broker, driven by `seller-standards replay`."""
from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import sys
import time

import orjson
from aiokafka import AIOKafkaProducer

from schemas.validate import parse_timestamp
from streams.backfill import read_input_topics
from streams.broker import EmbeddedBroker, create_topics
from streams.cli import running_worker
from streams.reading import MissingTopics, read_topic
from streams.replay import route
from streams.topics import EVALUATIONS, INPUT_TOPICS
from streams.simulate import simulate


E = "2026-02-02T00:00:00Z"  # evaluation instant of month 2026-02


def _run_cli(*args, cwd, env=None) -> subprocess.CompletedProcess:
    env = {**os.environ, "PARTITIONS": "4", **(env or {})}
    return subprocess.run([sys.executable, "-m", "streams.cli", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=600)


def _cli(*args, cwd, env=None):
    result = _run_cli(*args, cwd=cwd, env=env)
    assert result.returncode == 0, result.stderr[-3000:]


def _events(tmp_path, lines):
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join((line if isinstance(line, bytes) else orjson.dumps(line)) + b"\n" for line in lines))
    return path


def _read(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def hand_computed_month():
    n = iter(range(1, 1000))

    def ev(type_, at, **fields):
        return {"event_id": f"ev-{next(n):03d}", "type": type_, "seller_id": "s-1", "occurred_at": at, **fields}

    def order(oid, day, total, digital=False):
        return ev("order.placed", f"2026-01-{day:02d}T10:00:00Z", order_id=oid, total=total, currency="USD",
                  ship_by=f"2026-01-{day + 2:02d}T10:00:00Z", digital=digital, purchase_protected=False,
                  tracking_required=True)

    def ship(oid, at, tracking, label=False):
        return ev("shipment.shipped", at, order_id=oid, tracking_number=tracking, label_purchased=label)

    def msg(thread, at, role):
        return ev("message.sent", at, thread_id=thread, message_id=f"{thread}-{at}", sender_role=role)

    events = [
        order("o1", 5, "50.00"), order("o2", 6, "60.00"), order("o3", 7, "70.00"),
        order("o4", 8, "80.00"), order("o5", 9, "40.25"), order("o6", 12, "10.00", digital=True),
        order("o7", 13, "999.00"), ev("order.cancelled", "2026-01-14T00:00:00Z", order_id="o7"),
        ship("o1", "2026-01-06T10:00:00Z", "1Z"),   # on time, tracked
        ship("o2", "2026-01-08T10:00:00Z", ""),     # exactly at ship-by: on time; "" is no tracking
        ship("o3", "2026-01-10T10:00:00Z", "1Z"),   # a day late
        ship("o4", "2026-01-08T10:00:00Z", None, label=True),  # on time, label counts as tracking
        # o5 never ships: late once the clock passes 2026-01-11T10:00Z
        msg("t1", "2026-01-03T10:00:00Z", "buyer"), msg("t1", "2026-01-04T09:00:00Z", "seller"),   # 23 h
        msg("t2", "2026-01-03T10:00:00Z", "buyer"), msg("t2", "2026-01-04T12:00:00Z", "seller"),   # 26 h
        msg("t3", "2026-01-20T10:00:00Z", "buyer"), msg("t3", "2026-01-20T11:00:00Z", "platform"),  # missed
        msg("t4", "2026-01-02T08:00:00Z", "seller"), msg("t4", "2026-01-02T09:00:00Z", "buyer"),   # seller-opened
        msg("t5", "2026-01-21T10:00:00Z", "buyer"), msg("t5", "2026-01-21T10:01:00Z", "auto_reply"),
        ev("review.posted", "2026-01-15T00:00:00Z", review_id="r1", order_id="o1", rating=5),
        ev("review.posted", "2026-01-16T00:00:00Z", review_id="r2", order_id="o2", rating=2),
        ev("review.posted", "2026-01-17T00:00:00Z", review_id="r2", order_id="o2", rating=4),
        ev("review.posted", "2026-01-18T00:00:00Z", review_id="r3", order_id="o3", rating=1),
        ev("review.removed", "2026-01-19T00:00:00Z", review_id="r3"),
        ev("review.posted", E, review_id="r4", order_id="o4", rating=1),  # at E: not in the evaluation
        ev("case.opened", "2026-01-20T00:00:00Z", case_id="c1", order_id="o2"),
        ev("case.closed", "2026-01-25T00:00:00Z", case_id="c1", resolution="refunded_by_seller"),
        b"{not json",
    ]
    events += [{"_topic": topic, "event_id": f"hb-{topic}", "type": "clock.heartbeat", "seller_id": "any",
                "occurred_at": E}
               for topic in ("marketplace.messages", "marketplace.orders", "marketplace.shipments",
                             "marketplace.reviews", "marketplace.refunds")]
    return events


# Computed by hand from SPEC sections 4 to 6.1 for hand_computed_month():
# threads at 48 h: t1, t2, t5 answered, t3 missed (t4 seller-opened) -> 3/4 = 75 % < 80 %: not_met;
# at 24 h: t1 (23 h) and t5 answered, t2 (26 h) and t3 missed -> 2/4.
# orders o1..o5 physical: on time o1, o2, o4 -> 3/5 = 60 %: not_met; with tracking o1, o4 -> 2/5.
# sales: o1..o6 (o7 cancelled) -> 6 orders, 50 + 60 + 70 + 80 + 40.25 + 10 = 310.25.
# completed: o1..o4 shipped + o6 digital = 5; case c1 on o2 (60.00) refunded by seller -> 1 <= 3: met.
# reviews: r1 = 5, r2 = 4 (edit), r3 removed, r4 at E excluded -> 2 reviews, 0 low, sum 9: avg 4.5 < 4.8.
EXPECTED = {
    "seller_id": "s-1", "month": "2026-02", "period": {"start": "2025-11-01", "end": "2026-01-31"},
    "policy": "service-standards",
    "sales": {"orders": 6, "amount": "310.25", "first_sale_at": "2026-01-05T10:00:00Z"},
    "standards": {
        "message_response": {"numerator": 3, "denominator": 4, "status": "not_met", "consecutive_months_not_met": 1},
        "on_time_shipping": {"numerator": 3, "denominator": 5, "status": "not_met", "consecutive_months_not_met": 1},
        "review_rating": {"numerator": 0, "denominator": 2, "status": "met", "consecutive_months_not_met": 0},
        "case_rate": {"numerator": 1, "denominator": 5, "status": "met", "consecutive_months_not_met": 0},
    },
    "star_seller": {"eligible": False, "criteria": {
        "message_response": {"numerator": 2, "denominator": 4, "holds": False},
        "shipping": {"numerator": 2, "denominator": 5, "holds": False},
        "reviews": {"rating_sum": 9, "count": 2, "holds": False},
        "case_rate": {"holds": True},
        "volume": {"orders": 6, "amount": "310.25", "holds": True},
        "tenure": {"first_sale_at": "2026-01-05T10:00:00Z", "holds": False},
    }},
    "badges": [],
}


def test_replay_through_a_real_worker_gives_the_hand_computed_evaluation(tmp_path):
    out = tmp_path / "evaluations.jsonl"
    # CLOCK=wall in the caller's environment does not reach replay's worker,
    # which runs by event time (the wall clock would pass the whole file);
    # nor do Kafka security settings (the embedded broker is plaintext).
    _cli("replay", str(_events(tmp_path, hand_computed_month())), "--evaluations", str(out), cwd=tmp_path,
         env={"CLOCK": "wall", "KAFKA_SSL": "true", "KAFKA_SASL_MECHANISM": "PLAIN", "KAFKA_SASL_USERNAME": "svc",
              "KAFKA_SASL_PASSWORD": "s3cret"})
    assert _read(out) == [EXPECTED]


def test_replay_through_kafka_equals_in_process_backfill_on_a_simulated_marketplace(tmp_path):
    lines = list(simulate(40, parse_timestamp("2026-01-01T00:00:00Z"), days=130, seed=11,
                          heartbeat_every=24 * 3600 * 1_000_000))
    lines.insert(len(lines) // 2, b'{"type": "order.placed", "seller_id": "seller-00001"}')  # dead letter
    events = _events(tmp_path, lines)
    replayed, backfilled = tmp_path / "replay.jsonl", tmp_path / "backfill.jsonl"
    _cli("replay", str(events), "--evaluations", str(replayed), cwd=tmp_path)
    _cli("backfill", str(events), "--evaluations", str(backfilled), cwd=tmp_path)
    records = _read(replayed)
    # 130 days from 2026-01-01 end on 2026-05-10: months 2026-02 .. 2026-05 are evaluated.
    assert {r["month"] for r in records} == {"2026-02", "2026-03", "2026-04", "2026-05"}
    assert replayed.read_bytes() == backfilled.read_bytes()


def test_backfill_from_the_topics_replay_published_gives_the_hand_computed_evaluation(tmp_path):
    """`replay --bootstrap` publishes the file (and its closing heartbeats) to a
    real broker; `backfill --from-topics` reads them back to their end."""
    out = tmp_path / "evaluations.jsonl"
    with EmbeddedBroker() as broker:
        _cli("replay", str(_events(tmp_path, hand_computed_month())), "--bootstrap", broker.bootstrap, cwd=tmp_path)
        _cli("backfill", "--from-topics", "--bootstrap", broker.bootstrap, "--evaluations", str(out), cwd=tmp_path)
    assert _read(out) == [EXPECTED]


def test_a_worker_on_the_wall_clock_started_on_history_evaluates_it_by_event_time(tmp_path):
    """CLOCK=wall, the worker started once the history is in the topics (a
    first deployment, the Docker stack's simulator): the history is applied
    by its event time (the hand-computed evaluation of February), then the
    wall clock moves the partitions on (the later months). The unit test
    `test_the_wall_clock_moves_a_partition_only_once_its_input_is_read_to_the_end`
    holds the order of the two; here a history this small is applied in the
    worker's first fetch, before its first recount."""
    (tmp_path / "w").mkdir()
    with EmbeddedBroker() as broker:
        _cli("replay", str(_events(tmp_path, hand_computed_month())), "--bootstrap", broker.bootstrap, cwd=tmp_path)
        with running_worker(broker.bootstrap, "wall", str(tmp_path / "w"), {"PARTITIONS": "4", "CLOCK": "wall"}):
            deadline = time.monotonic() + 120
            records = []
            while len(records) < 4 and time.monotonic() < deadline:
                time.sleep(0.5)
                with contextlib.suppress(MissingTopics):  # until the worker has made its topics
                    records = [orjson.loads(value)
                               for _, value in asyncio.run(read_topic(broker.bootstrap, EVALUATIONS))]
            time.sleep(2)  # then no more come
            records = [orjson.loads(value) for _, value in asyncio.run(read_topic(broker.bootstrap, EVALUATIONS))]
    # January's items count for the months after it (February to April); r4,
    # posted at E of February, for March to May. The wall clock (in December
    # 2026 or later) is past the evaluation instants of all four.
    assert sorted(r["month"] for r in records) == ["2026-02", "2026-03", "2026-04", "2026-05"]
    assert next(r for r in records if r["month"] == "2026-02") == EXPECTED


def test_a_replay_whose_worker_never_processes_ends_with_how_far_it_got(tmp_path):
    """`replay --bootstrap` to a Kafka where no worker runs: the wait for the
    evaluations runs out and says how many of the events were processed."""
    lines = hand_computed_month()
    with EmbeddedBroker() as broker:
        shown = _run_cli("replay", str(_events(tmp_path, lines)), "--bootstrap", broker.bootstrap,
                         "--evaluations", str(tmp_path / "out.jsonl"), "--timeout", "3", cwd=tmp_path,
                         env={"APP_ID": "nobody-runs-this"})
    assert shown.returncode == 1
    # every line and the closing heartbeat of each of the 5 topics on each of the 4 partitions
    assert (f"Error: the workers of APP_ID 'nobody-runs-this' processed 0 of {len(lines) + 5 * 4} events in 3 s: "
            "is one running on this Kafka with that APP_ID?") in shown.stderr, shown.stderr
    assert "Traceback" not in shown.stderr, shown.stderr


async def _publish_in_small_batches(bootstrap: str, lines: list[bytes]) -> None:
    """Each line to its topic (route), keyed by seller, in batches of at most 1 KiB."""
    await create_topics(bootstrap, INPUT_TOPICS, 4)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, max_batch_size=1024, linger_ms=0)
    await producer.start()
    try:
        sent = [await producer.send(route(line)[0], line, key=route(line)[1]) for line in lines]
        await asyncio.gather(*sent)
    finally:
        await producer.stop()


def test_the_input_topics_are_read_to_their_end_each_partitions_topics_interleaved_by_progress():
    """Every record published, once, each topic's partition in offset order
    (as read_topic reads it); within a partition, the k-th of a topic's n
    records at (k + 1) / n, the topic first in INPUT_TOPICS first among equals
    (partitions are independent: their records may mix). Fetches of at most
    4 KiB: each topic's partition comes in many, some ahead of others, and
    some before others' first."""
    lines = [orjson.dumps(event) for event in simulate(40, parse_timestamp("2026-01-01T00:00:00Z"), days=20,
                                                       seed=23, heartbeat_every=24 * 3600 * 1_000_000)]
    with EmbeddedBroker() as broker:
        asyncio.run(_publish_in_small_batches(broker.bootstrap, lines))
        read = list(read_input_topics(broker.bootstrap, {"max_partition_fetch_bytes": 2048,
                                                         "fetch_max_bytes": 4096}))
        published = {(topic, partition): [value for _, value in asyncio.run(
                         read_topic(broker.bootstrap, topic, partitions=[partition]))]
                     for topic in INPUT_TOPICS for partition in range(4)}
    assert sum(map(len, published.values())) == len(read) == len(lines)
    for partition in range(4):
        expected = sorted(((k + 1) / len(values), INPUT_TOPICS.index(topic), value)
                          for (topic, p), values in published.items() if p == partition
                          for k, value in enumerate(values))
        assert [record for record in read if record[1] == partition] == [
            (INPUT_TOPICS[index], partition, value) for _, index, value in expected]
