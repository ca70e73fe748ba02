"""`streams.backfill`: an events file (or topic records) through the engines in
one process gives the evaluation records a worker makes (SPEC sections 2, 3, 6.1)."""
from __future__ import annotations

import asyncio
import base64
import gc
import gzip
import os
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings, strategies as st
from scenario import published

from schemas.validate import parse_timestamp
from standards.engine import EVALUATIONS
from standards.policy import Policy
from streams.backfill import backfill, backfill_records
from streams.partitioning import partition_for
from streams.evaluation_records import EvaluationRecords
from streams.processor import Processor
from streams.replay import event_lines, latest_evaluations, route
from streams.simulate import simulate
from streams.topics import INPUT_TOPICS, MESSAGES, ORDERS, REVIEWS, SHIPMENTS

POLICY = Policy()
PARTITIONS = 4
E = "2026-02-02T00:00:00Z"  # evaluation instant of month 2026-02 (first instant + 24 h)


def hand_made_file() -> list[bytes]:
    """Two sellers on two partitions; month 2026-02 covers 2025-11-01 .. 2026-01-31."""
    n = iter(range(1, 1000))

    def ev(seller, type_, at, topic=None, **fields):
        event = {"event_id": f"ev-{next(n):03d}", "type": type_, "seller_id": seller, "occurred_at": at, **fields}
        return orjson.dumps({**event, "_topic": topic} if topic else event)

    def order(oid, day, total, seller="s-1", digital=False):
        return ev(seller, "order.placed", f"2026-01-{day:02d}T10:00:00Z", order_id=oid, total=total,
                  currency="EUR", ship_by=f"2026-01-{day + 2:02d}T10:00:00Z", digital=digital,
                  purchase_protected=False, tracking_required=True, buyer_id="b-9")

    def ship(oid, at, tracking, label=False):
        return ev("s-1", "shipment.shipped", at, order_id=oid, tracking_number=tracking, label_purchased=label)

    def msg(thread, at, role):
        return ev("s-1", "message.sent", at, thread_id=thread, message_id=f"{thread}-{at}", sender_role=role,
                  body="not part of the contract")

    o1 = order("o1", 5, "100.00")
    return [
        o1, order("o2", 6, "50.5"), order("o3", 7, "20"), order("o4", 8, "30.25"), order("o5", 9, "99.25"),
        o1,  # an exact duplicate changes nothing
        b"",
        b"  \t",
        ship("o1", "2026-01-06T10:00:00Z", "1Z"),  # on time, tracked
        ship("o2", "2026-01-08T11:00:00+01:00", None, label=True),  # 10:00Z = ship-by: on time; label: tracked
        ship("o3", "2026-01-08t10:00:00.5z", ""),  # on time; "" is no tracking
        ship("o4", "2026-01-10T10:00:00.000001Z", "1Z"),  # 1 us after ship-by: late
        # o5 never ships: late once the clock passes 2026-01-11T10:00Z
        msg("t1", "2026-01-10T10:00:00Z", "buyer"), msg("t1", "2026-01-10T12:00:00Z", "seller"),  # 2 h
        msg("t2", "2026-01-11T10:00:00Z", "buyer"), msg("t2", "2026-01-12T20:00:00Z", "seller"),  # 34 h
        ev("s-1", "review.posted", "2026-01-15T00:00:00Z", review_id="r1", order_id="o1", rating=5),
        ev("s-1", "review.posted", "2026-01-16T00:00:00Z", review_id="r2", order_id="o2", rating=2),
        ev("s-1", "review.posted", "2026-01-17T00:00:00Z", review_id="r2", order_id="o2", rating=5),  # edit
        ev("s-1", "review.posted", "2026-01-18T00:00:00Z", review_id="r3", order_id="o3", rating=6),  # invalid
        b'{"event_id": "ev-x", "type": "order.placed", ',  # not JSON
        order("d1", 20, "12.34", seller="s-3", digital=True),
        # one heartbeat, on one topic: the backfill closes every topic of every partition at its time
        ev("any", "clock.heartbeat", "2026-02-02T01:00:00+01:00", topic=ORDERS),  # = E
    ]


# Computed by hand from SPEC sections 4 to 6.1 for hand_made_file():
# s-1: sales o1..o5 = 5 orders, 100 + 50.50 + 20 + 30.25 + 99.25 = 300.00 (volume holds: >= 5 and >= 300.00).
# threads at 48 h: t1 (2 h), t2 (34 h) answered -> 2/2 met; at 24 h: t1 only -> 1/2.
# orders o1..o5 physical: on time o1, o2, o3 -> 3/5 = 60 % < 80 %: not_met; tracked too: o1, o2 -> 2/5.
# reviews r1 = 5, r2 = 5 (the latest posting wins), r3 invalid -> 0 low of 2, sum 10: avg 5 >= 4.8.
# completed: o1..o4 shipped = 4, no case -> 0/4 met. Tenure: first sale 2026-01-05, not 90 days before M.
# Badges: rave_reviews only (its criterion holds over 2 reviews with >= 5 sales).
S1 = {
    "seller_id": "s-1", "month": "2026-02", "period": {"start": "2025-11-01", "end": "2026-01-31"},
    "policy": "service-standards",
    "sales": {"orders": 5, "amount": "300.00", "first_sale_at": "2026-01-05T10:00:00Z"},
    "standards": {
        "message_response": {"numerator": 2, "denominator": 2, "status": "met", "consecutive_months_not_met": 0},
        "on_time_shipping": {"numerator": 3, "denominator": 5, "status": "not_met", "consecutive_months_not_met": 1},
        "review_rating": {"numerator": 0, "denominator": 2, "status": "met", "consecutive_months_not_met": 0},
        "case_rate": {"numerator": 0, "denominator": 4, "status": "met", "consecutive_months_not_met": 0},
    },
    "star_seller": {"eligible": False, "criteria": {
        "message_response": {"numerator": 1, "denominator": 2, "holds": False},
        "shipping": {"numerator": 2, "denominator": 5, "holds": False},
        "reviews": {"rating_sum": 10, "count": 2, "holds": True},
        "case_rate": {"holds": True},
        "volume": {"orders": 5, "amount": "300.00", "holds": True},
        "tenure": {"first_sale_at": "2026-01-05T10:00:00Z", "holds": False},
    }},
    "badges": ["rave_reviews"],
}
# s-3: one digital order -> 1 sale (< 5: not_enough_data everywhere), 1 completed order (the day placed);
# skipped Star Seller criteria hold, volume and tenure do not.
S3 = {
    "seller_id": "s-3", "month": "2026-02", "period": {"start": "2025-11-01", "end": "2026-01-31"},
    "policy": "service-standards",
    "sales": {"orders": 1, "amount": "12.34", "first_sale_at": "2026-01-20T10:00:00Z"},
    "standards": {
        "message_response": {"numerator": 0, "denominator": 0, "status": "not_enough_data",
                             "consecutive_months_not_met": 0},
        "on_time_shipping": {"numerator": 0, "denominator": 0, "status": "not_enough_data",
                             "consecutive_months_not_met": 0},
        "review_rating": {"numerator": 0, "denominator": 0, "status": "not_enough_data",
                          "consecutive_months_not_met": 0},
        "case_rate": {"numerator": 0, "denominator": 1, "status": "not_enough_data", "consecutive_months_not_met": 0},
    },
    "star_seller": {"eligible": False, "criteria": {
        "message_response": {"numerator": 0, "denominator": 0, "holds": True},
        "shipping": {"numerator": 0, "denominator": 0, "holds": True},
        "reviews": {"rating_sum": 0, "count": 0, "holds": True},
        "case_rate": {"holds": True},
        "volume": {"orders": 1, "amount": "12.34", "holds": False},
        "tenure": {"first_sale_at": "2026-01-20T10:00:00Z", "holds": False},
    }},
    "badges": [],
}


def listed(result: tuple) -> tuple[list[bytes], int]:
    """A backfill's (records, dead letters), its records as a list."""
    records, dead_letters = result
    return list(records), dead_letters


def test_the_sellers_are_on_two_partitions():
    assert partition_for(b"s-1", PARTITIONS) != partition_for(b"s-3", PARTITIONS)


def test_backfill_of_a_hand_made_file_gives_the_hand_computed_records():
    records, dead_letters = listed(backfill(hand_made_file(), PARTITIONS, POLICY))
    assert [orjson.loads(r) for r in records] == [S1, S3]
    assert dead_letters == 2  # the rating 6 and the line that is not JSON; blank lines are skipped
    # as `replay --evaluations` writes them: sorted keys, sorted by (seller_id, month)
    assert records == [orjson.dumps(S1, option=orjson.OPT_SORT_KEYS), orjson.dumps(S3, option=orjson.OPT_SORT_KEYS)]


def test_a_file_read_a_chunk_at_a_time_gives_the_hand_computed_records(tmp_path):
    """The file as the command reads it: lines ending in \\n, \\r\\n or \\r,
    in chunks of 100 bytes (so that lines and "\\r\\n" are cut between chunks)."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"".join(line + (b"\n", b"\r\n", b"\r")[i % 3] for i, line in enumerate(hand_made_file())))
    records, dead_letters = listed(backfill(event_lines(path, "backfill", chunk_bytes=100), PARTITIONS, POLICY))
    assert ([orjson.loads(r) for r in records], dead_letters) == ([S1, S3], 2)


def test_a_gzip_file_gives_the_records_of_the_file_it_holds_and_one_cut_short_says_so(tmp_path):
    """Months of history are kept compressed: read through gzip (known by its
    first bytes, not its name), in chunks of 100 bytes as above."""
    path = tmp_path / "events.jsonl.gz"
    path.write_bytes(gzip.compress(b"\n".join(hand_made_file()) + b"\n"))
    records, dead_letters = listed(backfill(event_lines(path, "backfill", chunk_bytes=100), PARTITIONS, POLICY))
    assert ([orjson.loads(r) for r in records], dead_letters) == ([S1, S3], 2)

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(path.read_bytes()[:-20])  # a copy stopped before its end
    shown = subprocess.run([str(Path(sys.executable).with_name("seller-standards")), "backfill", str(cut),
                            "--evaluations", str(tmp_path / "evaluations.jsonl")],
                           capture_output=True, text=True, timeout=120)
    assert shown.returncode == 1
    assert f"Error: {cut} is not a whole gzip file: " in shown.stderr and "Traceback" not in shown.stderr, shown.stderr
    assert not (tmp_path / "evaluations.jsonl").exists()


def test_the_command_writes_each_invalid_line_with_its_number_and_why(tmp_path):
    """Lines 20 (rating 6: the schema's maximum is 5) and 21 (cut JSON) of
    the hand-made file, counted from 1 with its two blank lines (7 and 8)."""
    lines = hand_made_file()
    (tmp_path / "events.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    shown = subprocess.run([str(Path(sys.executable).with_name("seller-standards")), "backfill",
                            str(tmp_path / "events.jsonl"), "--evaluations", str(tmp_path / "evaluations.jsonl"),
                            "--dead-letters", str(tmp_path / "dead.jsonl")],
                           capture_output=True, text=True, timeout=120, env={**os.environ, "PARTITIONS": "4"})
    assert shown.returncode == 0, shown.stderr
    assert [orjson.loads(line) for line in (tmp_path / "evaluations.jsonl").read_bytes().splitlines()] == [S1, S3]
    dead = [orjson.loads(line) for line in (tmp_path / "dead.jsonl").read_bytes().splitlines()]
    assert [(d["line"], d["code"]) for d in dead] == [(20, "bad_value"), (21, "not_json")]
    assert [base64.b64decode(d["original_base64"]) for d in dead] == [lines[19], lines[20]]
    assert "field 'rating' must be a JSON integer from 1 to 5, got 6" in dead[0]["reason"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from([b"a", b"{}", b" ", b"\n", b"\r", b"\r\n"]), max_size=40), st.integers(1, 9))
def test_the_lines_of_a_file_read_in_chunks_are_those_of_the_whole(tmp_path_factory, parts, chunk_bytes):
    data = b"".join(parts)
    path = tmp_path_factory.mktemp("lines") / "events.jsonl"
    path.write_bytes(data)
    assert list(event_lines(path, "test", chunk_bytes)) == data.splitlines()


def test_records_past_the_memory_limit_go_to_sorted_runs_and_come_back_sorted():
    """One record held in memory: each goes to a run of its own, two runs are
    merged into one; the records are the hand-computed ones, in order."""
    with EvaluationRecords(in_memory=1, merged_runs=2) as records:
        _, dead_letters = backfill(hand_made_file(), PARTITIONS, POLICY, records=records)
        assert records._runs  # on disk
        assert ([orjson.loads(r) for r in records], dead_letters) == ([S1, S3], 2)
        directory = Path(records._directory.name)
    assert not directory.exists()


@pytest.mark.parametrize("in_memory", [1, 2, 3, 100])
def test_a_later_record_of_a_seller_and_month_replaces_an_earlier_one_in_any_run(in_memory):
    added = [("s-2", "2026-02", b"A"), ("s-1", "2026-03", b"B"), ("s-2", "2026-02", b"C"), ("s-1", "2026-02", b"D"),
             ("s-1", "2026-03", b"E"), ("s-10", "2026-01", b"F"), ("s-2", "2026-02", b"G")]
    with EvaluationRecords(in_memory=in_memory, merged_runs=2) as records:
        for seller_id, month, record in added:
            records.add(seller_id, month, record)
        # s-1 2026-02, s-1 2026-03 (E replaced B), s-10, s-2 2026-02 (G replaced A and C)
        assert list(records) == [b"D", b"E", b"F", b"G"]
        assert list(records) == [b"D", b"E", b"F", b"G"]  # read again


def test_without_a_heartbeat_nothing_is_evaluated():
    lines = [line for line in hand_made_file() if b"clock.heartbeat" not in line]
    assert listed(backfill(lines, PARTITIONS, POLICY)) == ([], 2)


def test_backfill_leaves_the_garbage_collector_as_it_found_it():
    assert gc.isenabled()
    backfill(hand_made_file(), PARTITIONS, POLICY)
    assert gc.isenabled()
    gc.disable()
    try:
        backfill(hand_made_file(), PARTITIONS, POLICY)
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_topic_records_as_replay_publishes_them_give_the_same_records():
    lines = hand_made_file()
    expected = listed(backfill(lines, PARTITIONS, POLICY))
    assert listed(backfill_records(published(lines, PARTITIONS), POLICY)) == expected


def test_topic_records_are_not_closed_by_a_heartbeat_of_their_own():
    """From topics, a partition is evaluated only as far as its own records
    take its clock (a worker sees no closing heartbeat either)."""
    records = [(topic, partition, value) for topic, partition, value in published(hand_made_file(), PARTITIONS)
               if partition != partition_for(b"s-3", PARTITIONS) or b"replay-end" not in value]
    assert [orjson.loads(r)["seller_id"] for r in backfill_records(records, POLICY)[0]] == ["s-1"]


def test_topic_records_keep_the_partition_kafka_gave_them():
    """A record is processed on the partition it came from, not on the one its key hashes to."""
    lines = hand_made_file()
    moved = [(topic, 3 - partition, value) for topic, partition, value in published(lines, PARTITIONS)]
    assert listed(backfill_records(moved, POLICY)) == listed(backfill(lines, PARTITIONS, POLICY))
    # s-3's order on s-1's partition, whose clock reaches E; s-3's own partition is never closed
    s1, s3 = partition_for(b"s-1", PARTITIONS), partition_for(b"s-3", PARTITIONS)
    records = [(topic, s1 if b'"seller_id":"s-3"' in value else partition, value)
               for topic, partition, value in published(lines, PARTITIONS)
               if partition != s3 or b"replay-end" not in value]
    assert [orjson.loads(r)["seller_id"] for r in backfill_records(records, POLICY)[0]] == ["s-1", "s-3"]


def late_order_file(o2_topic) -> list[bytes]:
    """o2 at E + 1 h is the event that takes the partition clock past E, if it
    is on marketplace.orders (every other topic is past E already): then o3,
    placed before E but arriving after, is too late for the evaluation."""
    def line(obj, topic=None):
        return orjson.dumps({**obj, "_topic": topic} if topic else obj)

    def order(oid, at, topic=None):
        return line({"event_id": oid, "type": "order.placed", "seller_id": "s-1", "occurred_at": at,
                     "order_id": oid, "total": "10.00", "currency": "EUR", "ship_by": at, "digital": True,
                     "purchase_protected": False, "tracking_required": False}, topic)

    beats = [line({"event_id": f"hb-{topic}", "type": "clock.heartbeat", "seller_id": "s-1",
                   "occurred_at": "2026-02-03T00:00:00Z"}, topic)
             for topic in INPUT_TOPICS if topic != ORDERS]
    return [order("o1", "2026-01-05T00:00:00Z"), *beats, order("o2", "2026-02-02T01:00:00Z", o2_topic),
            order("o3", "2026-01-10T00:00:00Z", ORDERS)]


@pytest.mark.parametrize(("o2_topic", "orders"), [
    (None, 1),  # no _topic: its type's topic, marketplace.orders; o3 is late
    (ORDERS, 1),
    (MESSAGES, 2),  # the line's _topic wins: the orders topic stays before E until the closing heartbeat
    (["marketplace.messages"], 1),  # a _topic that is no string names no topic: its type's topic
    ({"topic": "marketplace.messages"}, 1),
    (7, 1),
])
def test_a_line_goes_to_its_topic_field_else_its_types_topic(o2_topic, orders):
    lines = late_order_file(o2_topic)
    records, _ = listed(backfill(lines, PARTITIONS, POLICY))
    assert [orjson.loads(r)["sales"]["orders"] for r in records] == [orders]
    assert listed(backfill_records(published(lines, PARTITIONS), POLICY)) == (records, 0)


def test_route_does_not_fail_on_a_type_that_is_not_a_string():
    assert route(b'{"type": [], "seller_id": "s-1"}') == (MESSAGES, b"s-1", None)
    assert route(b'{"type": {"a": 1}}') == (MESSAGES, None, None)
    hb = b'{"event_id": "h", "type": "clock.heartbeat", "seller_id": "x", "occurred_at": "2026-01-01T00:00:00Z"}'
    assert route(hb) == (MESSAGES, b"x", parse_timestamp("2026-01-01T00:00:00Z"))
    assert route(hb[:-1] + b', "_topic": "marketplace.reviews"}')[0] == REVIEWS


def test_line_topics_come_from_topic_field_else_the_type():
    lines = hand_made_file()
    topics = {route(line)[0] for line in lines if line.strip()}
    assert topics == {MESSAGES, ORDERS, SHIPMENTS, REVIEWS}


@pytest.mark.parametrize("seed", [5, 17])
def test_backfill_equals_the_workers_processor_on_a_simulated_marketplace(seed):
    """The live worker's Processor (live engines) over the records `replay`
    publishes gives, per seller and month, the latest records the backfill
    gives. As in the worker, sellers are evaluated a few at a time between
    batches (here 3 every 20 events: most of a month's evaluations are made
    after events of other sellers, or when an event of their own arrives),
    and the rest before state is written."""
    lines = [orjson.dumps(e) for e in simulate(30, parse_timestamp("2026-01-01T00:00:00Z"), days=120, seed=seed,
                                               heartbeat_every=24 * 3600 * 1_000_000)]
    lines.insert(len(lines) // 3, b'{"type": "order.placed", "seller_id": "seller-00001"}')  # a dead letter
    written = []
    processor = Processor(POLICY, lambda topic, partition, key, value: written.append((topic, value)), "state")
    settled_by_events = 0
    for offset, (topic, partition, value) in enumerate(published(lines, PARTITIONS)):
        engine = processor.engine(partition)
        pending = engine.pending_evaluations
        processor.handle(topic, partition, offset, None, value)
        settled_by_events += pending - engine.pending_evaluations if pending else 0
        if offset % 20 == 19:
            processor.refresh(3)
    asyncio.run(processor.flush_in_slices(3))
    assert settled_by_events > 0
    expected = latest_evaluations([(None, value) for topic, value in written if topic == EVALUATIONS])
    records, dead_letters = listed(backfill(lines, PARTITIONS, POLICY))
    assert len(records) > 30
    assert records == expected
    assert dead_letters == 1


def test_a_backfill_engine_keeps_nothing_to_write_of_what_it_drops():
    # Months of history: items dropped at each evaluation must not pile up as
    # "to be written" in an engine that writes nothing.
    from schemas.validate import decode_event
    from standards.engine import PartitionEngine

    engine = PartitionEngine(0, INPUT_TOPICS, POLICY, live=False)

    def send(topic, type_, at, seller="s-1", **fields):
        raw = {"event_id": f"{type_}-{at}", "type": type_, "seller_id": seller, "occurred_at": at, **fields}
        return engine.process(topic, decode_event(orjson.dumps(raw)))

    send(MESSAGES, "message.sent", "2025-01-10T10:00:00Z", thread_id="t1", message_id="m1", sender_role="buyer")
    send(ORDERS, "order.placed", "2025-01-10T10:00:00Z", seller="s-2", order_id="o1", total="10", currency="EUR",
         ship_by="2025-01-12T10:00:00Z", digital=False, purchase_protected=False, tracking_required=False)
    evaluations = []

    def heartbeats_to(year, month):
        for topic in INPUT_TOPICS:
            outputs = send(topic, "clock.heartbeat", f"{year}-{month:02d}-03T00:00:00Z", seller="-")
            assert all(o[0] == EVALUATIONS for o in outputs)  # a backfill keeps no badges records either
            evaluations.extend(outputs)

    for month in range(2, 10):  # month by month to 2025-09
        heartbeats_to(2025, month)
    # 2025-02 .. 2025-04 cover the thread of January (s-1) and the order (s-2)
    assert sorted((key, record["month"]) for _, key, record in evaluations) == [
        ("s-1", "2025-02"), ("s-1", "2025-03"), ("s-1", "2025-04"),
        ("s-2", "2025-02"), ("s-2", "2025-03"), ("s-2", "2025-04")]
    assert engine.unsaved == set() and engine._dropped == []
    assert all(seller.dirty is None for seller in engine.sellers.values())
    # The thread left at 2025-04's evaluation; its id stays 12 months (FORGET_MONTHS)
    seller = engine.sellers["s-1"]
    assert not seller.threads and list(seller.gone) == ["threads/t1"]
    heartbeats_to(2026, 3)
    assert "s-1" in engine.sellers
    heartbeats_to(2026, 4)  # 2025-04 + 12 months: nothing left that a later record could need
    assert "s-1" not in engine.sellers and engine.unsaved == set()
