"""A worker restored after a crash does not send again what the one before
sent since the state it restores (streams/already_sent.py), with the broker
played by lists: each record written is acknowledged at once."""
from __future__ import annotations

import asyncio
from collections import defaultdict

import orjson
import pytest

from standards.engine import ALERTS, BADGES, EVALUATIONS, VIOLATIONS
from standards.policy import Policy
from streams import metrics
from streams.already_sent import TOPICS, AlreadySent
from streams.output_json import dumps_sorted
from streams.processor import Processor, Record
from streams.topics import DEADLETTER, MESSAGES, ORDERS

from scenario import Scenario

STATE = "state"


class Log:
    """Kafka's logs of partition 0: every record written lands at once, and
    `ends` are the writer's acknowledged ends."""

    def __init__(self):
        self.records: dict[str, list[tuple[bytes, bytes]]] = defaultdict(list)
        self.ends: dict[tuple[str, int], int] = {}

    def write(self, topic, partition, key, value):
        assert partition == 0
        self.records[topic].append((key, value))
        self.ends[(topic, 0)] = len(self.records[topic])

    def values(self, topic: str) -> list[dict]:
        return [orjson.loads(value) for _, value in self.records[topic]]

    def outputs_from(self) -> dict:
        """What the partition's clocks record, as last written."""
        return next(orjson.loads(value) for key, value in reversed(self.records[STATE]) if key == b"[0]")[
            "outputs_from"]

    def started(self) -> Processor:
        """A worker that restores partition 0 from the state written (none
        at a first start), reads its outputs' tails from where that state
        says (from their ends where it says nothing), and installs it."""
        processor = Processor(Policy(), self.write, STATE, acknowledged_ends=self.ends)
        loaded = processor.load({0}, list(self.records[STATE]))
        starts = loaded[0].outputs_from
        tails = {topic: [value for _, value in self.records[topic][starts.get(topic, len(self.records[topic])):]]
                 for topic in TOPICS}
        processor.install(loaded, {0: tails}, {0: {topic: len(self.records[topic]) for topic in TOPICS}})
        return processor


def _feed(processor: Processor, events: list[tuple[str, int, bytes]]) -> None:
    for topic, offset, raw in events:
        processor.handle_batch(topic, 0, [Record(offset, b"s", raw, None)])
    processor.refresh(10**9)


def _commit(processor: Processor) -> None:
    """As the worker's: take the input offsets, then write the state."""
    processor.offsets_taken()
    asyncio.run(processor.flush_in_slices(1000))


def _events(scenario: Scenario) -> list[tuple[str, int, bytes]]:
    """The scenario's raw events with offsets in their topics, as read from Kafka."""
    offsets: dict[str, int] = defaultdict(int)
    events = []
    for topic, raw in scenario.sent:
        events.append((topic, offsets[topic], raw))
        offsets[topic] += 1
    return events


def _not_sent_again(topic: str) -> float:
    return metrics.NOT_SENT_AGAIN.labels(topic)._value.get()


def test_outputs_decided_again_after_a_crash_are_not_sent_again_and_the_window_closes_at_the_end():
    # Seller s: 5 digital sales on 2026-01-05 (a sale, so February is
    # evaluated), a buyer's message on 2026-01-10T10:00 never answered. Its
    # 24 h deadline is 2026-01-11T10:00, warned from 06:00 (4 h before): the
    # clock stops at 07:00, so one alert (window 24). The 48 h deadline is
    # passed by the jump to February's E (2026-02-02): no alert for it. One
    # evaluation and one monthly award for s and 2026-02. A record that is
    # not JSON: one dead letter.
    scenario = Scenario().heartbeat("2026-01-01T00:00:00Z").digital_sales("s", 5, "2026-01-05T10:00:00Z")
    scenario.buyer("s", "t1", "2026-01-10T10:00:00Z")
    committed = len(scenario.sent)
    scenario.heartbeat("2026-01-11T07:00:00Z").heartbeat("2026-02-02T00:00:00Z")
    events = _events(scenario)
    events.append((MESSAGES, sum(topic == MESSAGES for topic, _, _ in events), b"{not json"))

    log = Log()
    first = log.started()
    _feed(first, events[:committed])
    _commit(first)
    assert log.outputs_from() == {topic: len(log.records[topic]) for topic in TOPICS}
    _feed(first, events[committed:])  # then killed: no commit covers these
    sent_before = {topic: len(log.records[topic]) for topic in (ALERTS, EVALUATIONS, BADGES, DEADLETTER)}
    assert sent_before[ALERTS] == 1 and sent_before[EVALUATIONS] == 1 and sent_before[DEADLETTER] == 1
    counted = {topic: _not_sent_again(topic) for topic in (ALERTS, EVALUATIONS, DEADLETTER)}

    second = log.started()
    _feed(second, events[committed:])  # read again from the committed offsets
    assert {topic: len(log.records[topic]) for topic in sent_before} == sent_before
    assert [(a["item"]["id"], a["deadline"], a["window_hours"]) for a in log.values(ALERTS)] == [
        ("t1", "2026-01-11T10:00:00Z", 24)]
    assert [(e["seller_id"], e["month"]) for e in log.values(EVALUATIONS)] == [("s", "2026-02")]
    monthly = [b["month"] for b in log.values(BADGES) if b["type"] == "badges.monthly"]
    days = [b["day"] for b in log.values(BADGES) if b["type"] == "badges.daily_progress"]
    assert monthly == ["2026-02"] and days and len(days) == len(set(days))
    assert {topic: _not_sent_again(topic) - n for topic, n in counted.items()} == {
        ALERTS: 1, EVALUATIONS: 1, DEADLETTER: 1}

    # The window stays open, and the state says where it began, until the
    # input the worker before could have read is applied. The dead letters'
    # tail starts there until a commit has taken offsets past that input,
    # and another one after it (the offsets committed may be the first's).
    began = log.outputs_from()
    _commit(second)
    assert log.outputs_from() == began and 0 in second.already_sent
    second.windows_read({0})
    _commit(second)
    ends = {topic: len(log.records[topic]) for topic in TOPICS}
    assert second.already_sent == {}
    assert log.outputs_from() == {**ends, DEADLETTER: began[DEADLETTER]}
    _commit(second)
    assert log.outputs_from() == ends


def test_a_window_reads_its_input_as_applied_at_the_first_high_watermark_seen():
    # The worker before read no message beyond offset 10, the high
    # watermark when the window's first fetch came. Input keeps coming
    # (later fetches see 25, then 40): applied up to 10, the window's
    # messages are read, though the worker is behind the input's end.
    # Each topic has its own mark; a topic not fetched yet is not read.
    window = AlreadySent({}, {})
    assert not window.input_applied(MESSAGES, 0, None)
    assert not window.input_applied(MESSAGES, 4, 10)
    assert not window.input_applied(MESSAGES, 9, 25)
    assert window.input_applied(MESSAGES, 10, 40)
    assert not window.input_applied(ORDERS, 10, 30)
    assert window.input_applied(ORDERS, 30, 31)


def _opened_and_held() -> tuple[Log, Processor]:
    """Seller s: 5 sales and 10 threads of 2026-03-02, 7 answered within the
    hour: 7 of 10, 100 * 7 = 700 < 80 * 10, so message_response opens a
    violation, held in the state the commit writes."""
    scenario = Scenario().heartbeat("2026-03-01T00:00:00Z").digital_sales("s", 5, "2026-03-01T10:00:00Z")
    for i in range(10):
        scenario.buyer("s", f"t{i}", "2026-03-02T10:00:00Z")
        if i >= 3:
            scenario.seller_msg("s", f"t{i}", "2026-03-02T11:00:00Z")
    scenario.heartbeat("2026-03-10T00:00:00Z")
    log = Log()
    first = log.started()
    _feed(first, _events(scenario))
    _commit(first)
    assert log.records[VIOLATIONS] == []  # held until the state is acknowledged
    return log, first


@pytest.mark.parametrize("sent_before_the_crash", [True, False])
def test_a_held_violation_is_sent_once_whether_or_not_the_worker_sent_it_before_it_was_killed(sent_before_the_crash):
    log, first = _opened_and_held()
    if sent_before_the_crash:
        first.release()  # the state was acknowledged; killed before writing it again without the violation
    log.started()
    (opened,) = log.values(VIOLATIONS)
    assert (opened["violation_id"], opened["type"], opened["numerator"], opened["denominator"]) == (
        "s/message_response/1", "violation.opened", 7, 10)


def _change(n: int, eligible: bool) -> tuple[str, str, dict]:
    return BADGES, "s", {"type": "badge.eligibility_changed", "seller_id": "s", "badge": "star_seller",
                         "eligible": eligible, "as_of": f"2026-03-0{n}T00:00:00Z"}


def test_of_held_transitions_those_the_tail_ends_with_are_the_ones_sent():
    # Held for s's Star Seller: eligible (1), not (2), eligible (3). The
    # worker before sent the first two (its tail ends with them), after an
    # older change of the same badge (0): only the third is left to send.
    held = [_change(1, True), _change(2, False), _change(3, True)]
    tail = [dumps_sorted(record) for _, _, record in [_change(0, False), *held[:2]]]
    window = AlreadySent({BADGES: 0}, {BADGES: tail})
    assert window.held_not_sent(held) == held[2:]
    # A tail that ends with the older change only: all three are to send.
    assert AlreadySent({BADGES: 0}, {BADGES: tail[:1]}).held_not_sent(held) == held


def test_records_of_other_shapes_in_a_tail_are_passed_over():
    # Another producer's records on an output topic: not JSON, not an
    # object, a field missing. The alert after them is still known as sent.
    alert = {"type": "thread.deadline_approaching", "seller_id": "s", "item": {"kind": "thread", "id": "t1"},
             "deadline": "2026-01-11T10:00:00Z", "window_hours": 24}
    window = AlreadySent({ALERTS: 0}, {ALERTS: [b"{", b"[1]", b'{"seller_id": "s"}', dumps_sorted(alert)],
                                       VIOLATIONS: [b'"x"', b'{"type": "violation.opened"}']})
    assert window.sent(ALERTS, alert)
    assert not window.sent(ALERTS, {**alert, "window_hours": 48})


def test_a_dead_letter_of_a_record_applied_during_the_last_commit_is_not_sent_again():
    # Commit 1 takes its offsets and writes its state; a record that is not
    # JSON is then applied and dead-lettered; commit 2 takes its offsets
    # (covering that record) and writes its state, and the worker is killed
    # before the broker has those offsets. The next worker reads the record
    # again from commit 1's offsets: the state of commit 2 must send it to
    # a tail holding that dead letter.
    scenario = Scenario().heartbeat("2026-01-01T00:00:00Z").digital_sales("s", 5, "2026-01-05T10:00:00Z")
    events = _events(scenario)
    bad = (MESSAGES, sum(topic == MESSAGES for topic, _, _ in events), b"{not json")
    log = Log()
    first = log.started()
    _feed(first, events)
    _commit(first)
    _feed(first, [bad])
    _commit(first)
    assert len(log.records[DEADLETTER]) == 1
    counted = _not_sent_again(DEADLETTER)

    second = log.started()
    _feed(second, [bad])
    assert len(log.records[DEADLETTER]) == 1
    assert _not_sent_again(DEADLETTER) - counted == 1
