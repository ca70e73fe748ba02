"""At-least-once delivery, disorder and restarts give the same evaluations
(SPEC section 6: deterministic monthly evaluations)."""
from __future__ import annotations

import asyncio
import random

import orjson
from hypothesis import given, settings, strategies as st

from schemas.validate import decode_event, parse_timestamp
from standards.calendar import month_of, month_start
from standards.engine import EVALUATIONS, PartitionEngine
from standards.entities import ITEM_CLASSES
from standards.numbers import count
from standards.policy import Policy
from standards.seller import numbers_of
from streams.backfill import backfill
from streams.processor import Processor
from streams.simulate import simulate
from streams.topics import INPUT_TOPICS

POLICY = Policy()
START = parse_timestamp("2026-01-01T00:00:00Z")
EVENTS = list(simulate(12, START, days=160, seed=3, heartbeat_every=24 * 3600 * 1_000_000))
LINES = [orjson.dumps(e) for e in EVENTS]


def _evaluation_window(event: dict) -> int:
    """Index of the last evaluation instant at or before the event: events
    between two instants may arrive in any order without changing any
    evaluation, since no partition clock can pass the next instant first."""
    t = parse_timestamp(event["occurred_at"])
    month = month_of(t - POLICY.evaluation_delay)
    return month if month_start(month) + POLICY.evaluation_delay <= t else month - 1


BASELINE = list(backfill(LINES, 4, POLICY)[0])


def test_the_workload_gives_evaluations():
    assert len(BASELINE) > 12  # every seller over several months


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32))
def test_disorder_within_allowed_bounds_and_duplicates_give_the_same_evaluations(seed: int):
    rng = random.Random(seed)
    windows: dict[int, list[bytes]] = {}
    for event, line in zip(EVENTS, LINES):
        windows.setdefault(_evaluation_window(event), []).append(line)
    arrival = []
    for window in sorted(windows):
        lines = windows[window] + [line for line in windows[window] if rng.random() < 0.2]  # redeliveries
        rng.shuffle(lines)
        arrival += lines
    assert list(backfill(arrival, 4, POLICY)[0]) == BASELINE


def test_a_restart_from_the_changelog_gives_the_same_evaluations():
    """The processor writes its state to a changelog every 300 events (as the
    worker does before each commit); at a cut it is replaced by one restored
    from that changelog, input since an earlier offset is delivered again, and
    the run finishes. Re-made records must equal the first ones."""
    def run(cut: int | None) -> set:
        changelog, outputs = [], []

        def new_processor() -> Processor:
            def write(topic, partition, key, value):
                if topic == "state":
                    changelog.append((key, value))
                else:
                    outputs.append((topic, value))

            processor = Processor(POLICY, write, "state")
            processor.restore({0}, list(changelog))
            return processor

        processor = new_processor()
        for i, (event, line) in enumerate(zip(EVENTS, LINES)):
            if i and i % 300 == 0:
                asyncio.run(processor.flush_in_slices(100))
            if i == cut:
                processor = new_processor()
                for again_event, again in zip(EVENTS[cut - 500:cut], LINES[cut - 500:cut]):
                    processor.handle(again_event["_topic"], 0, 0, None, again)
            processor.handle(event["_topic"], 0, i, None, line)
        asyncio.run(processor.flush_in_slices(100))  # as the worker's commit on the way out
        return {value for topic, value in outputs if topic == EVALUATIONS}

    uninterrupted = run(None)
    assert uninterrupted
    for cut in (1000, len(EVENTS) // 2, len(EVENTS) - 10):
        assert run(cut) == uninterrupted


def test_a_partition_given_back_after_another_worker_held_it_is_read_again_from_the_changelog():
    """At a rebalance Faust revokes a worker's partitions before it assigns
    them anew. A worker given back a partition that another worker held in
    between takes up the state that worker wrote, not the engine it held
    before: the three owners' evaluations together are the backfill's."""
    changelog, evaluations = [], set()

    def write(topic, partition, key, value):
        if topic == "state":
            changelog.append((key, value))
        elif topic == EVALUATIONS:
            evaluations.add(orjson.dumps(orjson.loads(value), option=orjson.OPT_SORT_KEYS))

    first, second = Processor(POLICY, write, "state"), Processor(POLICY, write, "state")
    third = len(EVENTS) // 3
    owners = ((first, range(third)), (second, range(third, 2 * third)), (first, range(2 * third, len(EVENTS))))
    for owner, held in owners:
        owner.restore({0}, list(changelog))
        for i in held:
            owner.handle(EVENTS[i]["_topic"], 0, i, None, LINES[i])
        asyncio.run(owner.flush_in_slices(100))  # the commit before the partition is revoked
        owner.revoke({0})
    assert evaluations == set(BASELINE)


def test_evaluating_a_month_again_gives_the_same_record():
    """A crash can leave a seller's state ahead of its partition's last
    evaluated month; the month is then evaluated again and must not change
    consecutive_months_not_met."""
    engine = PartitionEngine(0, INPUT_TOPICS, POLICY)
    for event in EVENTS:
        engine.process(event["_topic"], decode_event(orjson.dumps(event)))
    seller = max(engine.sellers.values(), key=lambda s: len(s.orders))
    month = seller.last_evaluations[-1][0]
    assert seller.evaluation(month, POLICY) == seller.evaluation(month, POLICY)
    again = [seller.evaluation(m, POLICY) for m in (month - 1, month)]
    assert again[1] == seller.evaluation(month, POLICY)


@settings(max_examples=10, deadline=None)
@given(st.integers(0, 2**32))
def test_live_monthly_totals_always_equal_a_recount_of_the_items(seed: int):
    """The scorecard's totals are kept by difference (items changing, the
    clock passing deadlines); a recount from the items must agree at any
    point, whatever the arrival order and redeliveries."""
    rng = random.Random(seed)
    arrival = LINES + [line for line in LINES if rng.random() < 0.1]
    rng.shuffle(arrival)  # any order at all: the totals must follow the items
    engine = PartitionEngine(0, INPUT_TOPICS, POLICY)
    checked = 0
    for i, line in enumerate(arrival):
        event = orjson.loads(line)
        engine.process(event["_topic"], decode_event(line))
        if i % 1500 == 0 and engine.clock is not None:
            today = month_of(engine.clock)
            for seller in engine.sellers.values():
                assert numbers_of(seller.live_totals(today)) == count(seller, today - 2, today, None, engine.clock, POLICY)
                checked += 1
    assert checked > 50


def test_items_packed_when_written_change_no_output():
    """Items are kept as their stored bytes once written and unpacked where
    read: an engine whose state is written after every event (every item
    packed as soon as it changed) emits what one never written emits. The
    first also sets apart the orders no evaluation still to make counts (the
    other changed every item since it was written: it sets none apart)."""
    def run(write_every_event: bool):
        engine = PartitionEngine(0, INPUT_TOPICS, POLICY)
        outputs = []
        for i, event in enumerate(EVENTS):
            outputs += engine.process(event["_topic"], decode_event(orjson.dumps(event)))
            if write_every_event:
                engine.take_unsaved()
            if i % 50 == 49:
                outputs += engine.refresh()
        return outputs, engine

    packed_outputs, packed = run(True)
    objects_outputs, objects = run(False)
    assert packed_outputs == objects_outputs
    assert any(o[0] == EVALUATIONS for o in packed_outputs) and any(o[0] == "standards.alerts" for o in packed_outputs)
    assert any(seller.past_orders for seller in packed.sellers.values())
    assert not any(seller.past_orders for seller in objects.sellers.values())
    stored = [value for seller in packed.sellers.values()
              for collection in (*ITEM_CLASSES, "past_orders")
              for value in getattr(seller, collection).values()]
    assert stored and all(type(value) is bytes for value in stored)

    def items(seller, collection):
        ids = [*getattr(seller, collection), *(seller.past_orders if collection == "orders" else ())]
        return {i: seller.item(collection, i).dump() for i in ids}
    for seller_id, seller in packed.sellers.items():  # unpacked, the same items as the other engine's
        for collection in ITEM_CLASSES:
            assert items(seller, collection) == items(objects.sellers[seller_id], collection)


def test_an_item_stored_as_json_by_an_earlier_version_still_reads():
    from standards.seller import unpack

    engine = PartitionEngine(0, INPUT_TOPICS, POLICY)
    for event in EVENTS[:400]:
        engine.process(event["_topic"], decode_event(orjson.dumps(event)))
    records = dict(engine.take_unsaved())
    items = [(orjson.loads(key)[2], value) for key, value in records.items() if len(orjson.loads(key)) == 4 and value]
    assert {collection for collection, _ in items} >= {"threads", "orders"}
    for collection, value in items:
        assert not value.startswith(b"[")  # MessagePack now
        item = unpack(collection, value)
        assert unpack(collection, orjson.dumps(item.dump())).dump() == item.dump()


def test_a_restored_seller_keeps_its_items_packed_and_its_live_totals():
    """Restoring reads every item several times (live totals, first sale,
    deadlines) but keeps each at rest as its stored bytes, as written."""
    changelog = []
    processor = Processor(POLICY, lambda topic, partition, key, value: changelog.append((key, value))
                          if topic == "state" else None, "state")
    for event, line in zip(EVENTS[:2000], LINES[:2000]):
        processor.handle(event["_topic"], 0, 0, None, line)
    asyncio.run(processor.flush_in_slices(100))
    restored = Processor(POLICY, lambda *record: None, "state")
    restored.restore({0}, changelog)
    before, after = processor.engines[0], restored.engines[0]
    assert set(after.sellers) == set(before.sellers)
    for seller_id, seller in after.sellers.items():
        items = [value for collection in ITEM_CLASSES
                 for value in getattr(seller, collection).values()]
        assert items and all(type(value) is bytes for value in items)
        assert seller.live_totals(month_of(after.clock)) == before.sellers[seller_id].live_totals(month_of(before.clock))
    # The live heap also keeps the deadlines of timings since changed (skipped when due).
    assert after._wakeups and set(after._wakeups) <= {w for w in before._wakeups if w[0] > before.clock}
