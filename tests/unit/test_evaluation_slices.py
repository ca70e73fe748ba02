"""The worker makes a month's evaluations a slice of sellers at a time
between batches (PartitionEngine(evaluate_in_slices=True)); a seller's record
must still be the one it had when the partition clock reached E."""
from __future__ import annotations

import asyncio

import orjson
import pytest

from schemas.validate import decode_event
from standards.engine import BADGES, EVALUATIONS, SCORECARDS, PartitionEngine
from standards.policy import Policy
from streams.processor import Processor
from streams.topics import INPUT_TOPICS, ORDERS

from scenario import Scenario

E_FEBRUARY = "2026-02-02T00:00:00Z"  # evaluation instant of 2026-02 (first instant + 24 h)


def _sliced() -> Scenario:
    scenario = Scenario()
    scenario.engine = PartitionEngine(0, INPUT_TOPICS, Policy(), evaluate_in_slices=True)
    return scenario


def _january(scenario: Scenario) -> Scenario:
    scenario.digital_sales("s-1", 5, "2026-01-10T10:00:00Z", prefix="a")
    scenario.digital_sales("s-2", 1, "2026-01-10T10:00:00Z", prefix="b")
    scenario.heartbeat("2026-02-01T12:00:00Z")  # the month changes: every card is recounted here
    return scenario


def test_an_event_for_a_seller_not_yet_evaluated_is_applied_after_its_evaluation():
    scenario = _january(_sliced()).heartbeat(E_FEBRUARY)
    assert scenario.engine.pending_evaluations == 2 and scenario.evaluations == {}
    # Late: an order placed before E arrives after the clock passed E. At E the
    # seller had 5 sales of 60.00; the record must not count the sixth.
    outputs = scenario.engine.process(ORDERS, _decoded(
        "order.placed", "s-1", "2026-01-20T10:00:00Z", order_id="late", total="60.00", currency="USD",
        ship_by="2026-01-22T10:00:00Z", digital=True, purchase_protected=False, tracking_required=False))
    (record,) = [value for topic, _, value in outputs if topic == EVALUATIONS]
    assert record["seller_id"] == "s-1" and record["month"] == "2026-02"
    assert record["sales"] == {"orders": 5, "amount": "300.00", "first_sale_at": "2026-01-10T10:00:00Z"}
    assert scenario.engine.pending_evaluations == 1
    (other,) = [value for topic, _, value in scenario.engine.evaluate_pending() if topic == EVALUATIONS]
    assert other["seller_id"] == "s-2" and other["sales"]["orders"] == 1
    assert scenario.engine.pending_evaluations == 0 and scenario.engine.evaluate_pending() == []


def test_evaluations_in_slices_are_the_records_made_at_once():
    at_once = _january(Scenario()).heartbeat(E_FEBRUARY)
    sliced = _january(_sliced()).heartbeat(E_FEBRUARY)
    first = sliced.engine.evaluate_pending(1)
    assert [topic for topic, _, _ in first] == [EVALUATIONS, BADGES]  # one seller: its record and award
    rest = sliced.engine.evaluate_pending(10)
    made = {(key, value["month"]): value for topic, key, value in first + rest if topic == EVALUATIONS}
    assert made == at_once.evaluations and len(made) == 2


def test_the_next_evaluation_instant_first_makes_what_is_left_of_the_last():
    scenario = _january(_sliced()).heartbeat(E_FEBRUARY)
    scenario.heartbeat("2026-03-02T00:00:00Z")  # E of March: February's records are made first
    scenario._collect(scenario.engine.evaluate_pending())
    assert sorted(scenario.evaluations) == [("s-1", "2026-02"), ("s-1", "2026-03"),
                                            ("s-2", "2026-02"), ("s-2", "2026-03")]


def test_a_catch_up_spends_its_limit_on_the_evaluations_first_then_on_the_scorecards():
    scenario = _january(_sliced()).heartbeat(E_FEBRUARY)
    scenario.digital_sales("s-3", 1, "2026-02-02T10:00:00Z", prefix="c")  # a new seller: a card to make
    engine = scenario.engine
    assert (engine.pending_evaluations, len(engine.changed), engine.pending_sellers) == (2, 1, 3)
    first = engine.catch_up(2)
    assert sorted((topic, key) for topic, key, _ in first) == [
        (BADGES, "s-1"), (BADGES, "s-2"), (EVALUATIONS, "s-1"), (EVALUATIONS, "s-2")]
    assert engine.pending_sellers == 1
    second = engine.catch_up(2)
    assert {key for _, key, _ in second} == {"s-3"}  # its card and daily progress
    (card,) = [value for topic, _, value in second if topic == SCORECARDS]
    assert card["sales"]["orders"] == 1
    assert engine.pending_sellers == 0 and engine.catch_up(2) == []


def _processor_fed_january(write, partitions) -> Processor:
    """A worker's Processor that applied `_january`'s events on each of `partitions`."""
    processor = Processor(Policy(), write, "state")
    for partition in partitions:
        for topic, raw in _january(Scenario()).sent:
            processor.handle(topic, partition, 0, None, raw)
    return processor


def test_state_is_written_only_after_every_pending_evaluation():
    written = []
    processor = _processor_fed_january(lambda topic, partition, key, value: written.append((topic, key, value)), (0,))
    for topic in INPUT_TOPICS:
        processor.handle(topic, 0, 0, None, orjson.dumps(
            {"event_id": f"hb-{topic}", "type": "clock.heartbeat", "seller_id": "hb", "occurred_at": E_FEBRUARY}))
    engine = processor.engines[0]
    assert engine.pending_evaluations == 2
    with pytest.raises(RuntimeError):
        engine.take_unsaved()
    asyncio.run(processor.flush_in_slices(1))
    months = sorted(orjson.loads(value)["seller_id"] for topic, _, value in written if topic == EVALUATIONS)
    assert months == ["s-1", "s-2"]
    (partition_record,) = [orjson.loads(value) for topic, key, value in written if topic == "state" and key == b"[0]"]
    assert partition_record["evaluated_through"] == engine.evaluated_through


def test_the_consumer_is_told_while_a_commit_writes_state_and_only_then():
    """The worker's consumer applies longer slices of input while a commit
    writes the partitions' state (streams/app.py): `writing_state` holds for
    those steps, not for the cards' slices before them, nor after."""
    processor = _processor_fed_january(lambda topic, partition, key, value: None, (0, 1))
    seen = []  # at each send(): after each slice of cards, then after each partition's state
    asyncio.run(processor.flush_in_slices(1, send=lambda: seen.append(processor.writing_state)))
    assert seen[-2:] == [True, True] and seen[:-2] and not any(seen[:-2])
    assert processor.writing_state is False


def test_a_state_write_that_fails_leaves_the_consumer_in_its_usual_slices():
    def write(topic, partition, key, value):
        if topic == "state":
            raise RuntimeError("the producer is gone")
    processor = _processor_fed_january(write, (0, 1))
    with pytest.raises(RuntimeError):
        asyncio.run(processor.flush_in_slices(1))
    assert processor.writing_state is False


def _decoded(type_: str, seller: str, at: str, **fields) -> dict:
    return decode_event(orjson.dumps({"event_id": f"{type_}-{at}", "type": type_, "seller_id": seller,
                                      "occurred_at": at, **fields}))
