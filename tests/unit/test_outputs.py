"""Alerts, violations and scorecards of the live engine (SPEC section 6)."""
from __future__ import annotations

import itertools

import orjson
import pytest
from msgspec import msgpack

from schemas.validate import decode_event, format_timestamp, parse_timestamp
from standards.engine import ALERTS, SCORECARDS, VIOLATIONS, PartitionEngine
from standards.policy import Policy
from standards.seller import encode
from streams.processor import Processor, Record, StateUnreadable
from streams.topics import INPUT_TOPICS

from scenario import Scenario

_ids = itertools.count()


def _engine():
    return PartitionEngine(0, INPUT_TOPICS, Policy())


def _send(engine, topic, type_, at, **fields):
    raw = {"event_id": f"e{next(_ids):06d}", "type": type_, "seller_id": "s", "occurred_at": at, **fields}
    return engine.process(topic, decode_event(orjson.dumps(raw)))


def _clock(engine, at):
    out = []
    for topic in INPUT_TOPICS:
        out += _send(engine, topic, "clock.heartbeat", at)
    return out


def _of(outputs, topic):
    return [value for t, _, value in outputs if t == topic]


def _written(engine):
    """The state written (a commit) and acknowledged: the transitions it holds, sent now."""
    engine.take_unsaved()
    return engine.release()


def test_a_thread_unanswered_4_hours_before_each_deadline_is_warned_once_per_deadline():
    engine = _engine()
    _clock(engine, "2026-01-10T00:00:00Z")
    _send(engine, "marketplace.messages", "message.sent", "2026-01-10T10:00:00Z",
          thread_id="t", message_id="m1", sender_role="buyer")
    assert _of(_clock(engine, "2026-01-11T05:59:59Z"), ALERTS) == []
    alerts = _of(_clock(engine, "2026-01-11T06:00:00Z"), ALERTS)  # 24 h deadline 2026-01-11T10:00Z - 4 h
    assert [(a["item"], a["window_hours"], a["time_left_seconds"]) for a in alerts] == [
        ({"kind": "thread", "id": "t"}, 24, 4 * 3600)]
    assert _of(_clock(engine, "2026-01-11T07:00:00Z"), ALERTS) == []  # once per deadline
    alerts = _of(_clock(engine, "2026-01-12T07:00:00Z"), ALERTS)  # 48 h deadline - 3 h: still warned
    assert [(a["window_hours"], a["time_left_seconds"]) for a in alerts] == [(48, 3 * 3600)]


def test_an_answered_thread_gets_no_warning():
    engine = _engine()
    _clock(engine, "2026-01-10T00:00:00Z")
    _send(engine, "marketplace.messages", "message.sent", "2026-01-10T10:00:00Z",
          thread_id="t", message_id="m1", sender_role="buyer")
    _send(engine, "marketplace.messages", "message.sent", "2026-01-10T11:00:00Z",
          thread_id="t", message_id="m2", sender_role="auto_reply")
    assert engine.first_response_seconds == [3600.0]  # the histogram's observation
    assert _of(_clock(engine, "2026-01-13T00:00:00Z"), ALERTS) == []


def test_an_unshipped_order_is_warned_at_the_start_of_its_ship_by_day():
    engine = _engine()
    _clock(engine, "2026-01-10T00:00:00Z")
    for order, shipped in (("o1", False), ("o2", True)):
        _send(engine, "marketplace.orders", "order.placed", "2026-01-10T10:00:00Z", order_id=order,
              total="10.00", currency="EUR", ship_by="2026-01-12T15:00:00Z", digital=False,
              purchase_protected=False, tracking_required=False)
        if shipped:
            _send(engine, "marketplace.shipments", "shipment.shipped", "2026-01-11T10:00:00Z",
                  order_id=order, tracking_number=None, label_purchased=False)
    assert _of(_clock(engine, "2026-01-11T23:59:59Z"), ALERTS) == []
    alerts = _of(_clock(engine, "2026-01-12T00:00:00Z"), ALERTS)
    assert [(a["item"]["id"], a["time_left_seconds"]) for a in alerts] == [("o1", 15 * 3600)]
    assert [(a["type"], a["item"]["kind"]) for a in alerts] == [("order.deadline_approaching", "order")]
    assert _of(_clock(engine, "2026-01-12T01:00:00Z"), ALERTS) == []


def _alerts(outputs):
    """(deadline, window_hours or None, time_left_seconds) of each alert."""
    return [(a["deadline"], a.get("window_hours"), a["time_left_seconds"]) for a in _of(outputs, ALERTS)]


def _buyer(engine, at, message):
    return _send(engine, "marketplace.messages", "message.sent", at, thread_id="t", message_id=message,
                 sender_role="buyer")


def _placed(engine, at, ship_by, order_id="o1", total="10.00"):
    return _send(engine, "marketplace.orders", "order.placed", at, order_id=order_id, total=total, currency="EUR",
                 ship_by=ship_by, digital=False, purchase_protected=False, tracking_required=False)


def test_an_earlier_buyer_message_arriving_late_moves_the_deadlines_and_each_new_one_is_warned():
    # Initial 01-05 10:00: 24 h deadline 01-06 10:00, warned at 06:30 with 3 h 30 min (12,600 s) left.
    # A buyer message of 01-05 08:00 arrives after: initial 08:00, deadlines 01-06 08:00 and 01-07 08:00.
    # The clock (06:30) is within 4 h of the first: warned at once, 1 h 30 min (5,400 s) left. The
    # second is warned when the clock reaches its alert time, 01-07 04:00 (4 h, 14,400 s, left), not the
    # 06:00 of the deadline it replaced.
    engine = _engine()
    _clock(engine, "2026-01-05T00:00:00Z")
    _buyer(engine, "2026-01-05T10:00:00Z", "m1")
    assert _alerts(_clock(engine, "2026-01-06T06:30:00Z")) == [("2026-01-06T10:00:00Z", 24, 12_600)]
    assert _alerts(_buyer(engine, "2026-01-05T08:00:00Z", "m0")) == [("2026-01-06T08:00:00Z", 24, 5_400)]
    assert _alerts(_clock(engine, "2026-01-07T03:59:59Z")) == []
    assert _alerts(_clock(engine, "2026-01-07T04:00:00Z")) == [("2026-01-07T08:00:00Z", 48, 14_400)]
    assert _alerts(_clock(engine, "2026-01-07T08:00:00Z")) == []  # each deadline once


def test_a_deadline_moved_to_before_the_clock_is_not_warned():
    # Initial 01-05 10:00, warned at 06:30 for 01-06 10:00. A buyer message of 01-05 02:00 arrives:
    # the 24 h deadline is now 01-06 02:00, passed at 06:30 (missed, not warned); the 48 h one,
    # 01-07 02:00, is warned when its lead starts, 01-06 22:00, with 4 h (14,400 s) left.
    engine = _engine()
    _clock(engine, "2026-01-05T00:00:00Z")
    _buyer(engine, "2026-01-05T10:00:00Z", "m1")
    assert _alerts(_clock(engine, "2026-01-06T06:30:00Z")) == [("2026-01-06T10:00:00Z", 24, 12_600)]
    assert _alerts(_buyer(engine, "2026-01-05T02:00:00Z", "m0")) == []
    assert _alerts(_clock(engine, "2026-01-06T21:59:59Z")) == []
    assert _alerts(_clock(engine, "2026-01-06T22:00:00Z")) == [("2026-01-07T02:00:00Z", 48, 14_400)]


def test_a_48_hour_deadline_moved_onto_the_instant_warned_for_24_hours_is_warned_too():
    # Initial 04-24 23:00: 24 h deadline 04-25 23:00, warned at 04-25 20:00 with 3 h (10,800 s)
    # left. A buyer message of 04-23 23:00 arrives: the 24 h deadline is now 04-24 23:00 (passed,
    # not warned) and the 48 h one 04-25 23:00, the same instant as the one warned, but another
    # window's deadline (SPEC 6: once per item and deadline): warned at once, 3 h left. Also after
    # a restart from the state written then: 48 h not warned again.
    engine = _engine()
    _clock(engine, "2026-04-24T00:00:00Z")
    _buyer(engine, "2026-04-24T23:00:00Z", "m1")
    assert _alerts(_clock(engine, "2026-04-25T20:00:00Z")) == [("2026-04-25T23:00:00Z", 24, 10_800)]
    assert _alerts(_buyer(engine, "2026-04-23T23:00:00Z", "m0")) == [("2026-04-25T23:00:00Z", 48, 10_800)]
    restored = _engine()
    restored.restore({tuple(orjson.loads(key)): value for key, value in engine.take_unsaved()})
    assert _alerts(_clock(restored, "2026-04-25T21:00:00Z")) == []
    assert _alerts(_buyer(restored, "2026-04-23T23:00:00Z", "m0")) == []


def _clock_but_messages(engine, at):
    out = []
    for topic in INPUT_TOPICS:
        if topic != "marketplace.messages":
            out += _send(engine, topic, "clock.heartbeat", at)
    return out


def _unmarked(engine, at):
    return _send(engine, "marketplace.messages", "thread.spam_unmarked", at, thread_id="t")


@pytest.mark.parametrize("messages_at, unmarked_at, warned", [
    # The thread counts again with its unmark, and the unmark moves the clock (the messages topic
    # held it back) to min(unmark, 12:00 of the other topics). Initial 01-06 11:00: deadlines
    # 01-07 11:00 (24 h, passed while the thread was spam) and 01-08 11:00 (48 h, lead from 07:00).
    # Clock 09:00 -> 10:00: warned as of 10:00, 1 h (3,600 s) left, not as of 09:00 with 7,200 s.
    ("2026-01-08T09:00:00Z", "2026-01-08T10:00:00Z", [("2026-01-08T11:00:00Z", 48, 3_600, "2026-01-08T10:00:00Z")]),
    # Clock 10:00 -> 11:30: the 48 h deadline passed with the unmark itself: missed, not warned.
    ("2026-01-08T10:00:00Z", "2026-01-08T11:30:00Z", []),
])
def test_a_thread_unmarked_as_spam_is_warned_at_the_clock_its_unmark_brings(messages_at, unmarked_at, warned):
    engine = _engine()
    _clock(engine, "2026-01-05T00:00:00Z")
    _buyer(engine, "2026-01-06T11:00:00Z", "m1")
    _send(engine, "marketplace.messages", "thread.spam_marked", "2026-01-06T12:00:00Z", thread_id="t")
    assert _alerts(_clock_but_messages(engine, "2026-01-08T12:00:00Z")) == []
    assert _alerts(_send(engine, "marketplace.messages", "clock.heartbeat", messages_at)) == []  # spam
    outputs = _unmarked(engine, unmarked_at)
    assert [(a["deadline"], a["window_hours"], a["time_left_seconds"], a["as_of"])
            for a in _of(outputs, ALERTS)] == warned
    assert engine.clock == parse_timestamp(unmarked_at)


def test_an_earlier_placing_arriving_late_moves_the_ship_by_day_and_the_new_day_is_warned():
    # Placed 01-04 12:00, ship-by 01-06 18:00: warned at 01-06 01:00 with 17 h (61,200 s) left. An
    # earlier order.placed (01-04 11:00) with ship-by 01-08 18:00 arrives: the order, still not
    # shipped, is warned at the start of 01-08 with 18 h (64,800 s) left.
    engine = _engine()
    _clock(engine, "2026-01-05T00:00:00Z")
    _placed(engine, "2026-01-04T12:00:00Z", "2026-01-06T18:00:00Z")
    assert _alerts(_clock(engine, "2026-01-06T01:00:00Z")) == [("2026-01-06T18:00:00Z", None, 61_200)]
    assert _alerts(_placed(engine, "2026-01-04T11:00:00Z", "2026-01-08T18:00:00Z")) == []
    assert _alerts(_clock(engine, "2026-01-07T23:59:59Z")) == []
    assert _alerts(_clock(engine, "2026-01-08T00:00:00Z")) == [("2026-01-08T18:00:00Z", None, 64_800)]
    assert _alerts(_clock(engine, "2026-01-08T01:00:00Z")) == []


def test_a_ship_by_moved_earlier_is_warned_at_once_unless_it_has_passed():
    # Warned at 01-06 01:00 for ship-by 01-06 18:00. An earlier placing with ship-by 01-06 12:00:
    # its day has begun, 11 h (39,600 s) left, warned at once. Then one with ship-by 01-06 00:30,
    # passed at 01:00: not warned.
    engine = _engine()
    _clock(engine, "2026-01-05T00:00:00Z")
    _placed(engine, "2026-01-04T12:00:00Z", "2026-01-06T18:00:00Z")
    assert _alerts(_clock(engine, "2026-01-06T01:00:00Z")) == [("2026-01-06T18:00:00Z", None, 61_200)]
    assert _alerts(_placed(engine, "2026-01-04T11:00:00Z", "2026-01-06T12:00:00Z")) == [
        ("2026-01-06T12:00:00Z", None, 39_600)]
    assert _alerts(_placed(engine, "2026-01-04T10:00:00Z", "2026-01-06T00:30:00Z")) == []


def test_an_order_placed_on_its_ship_by_day_is_warned_once_the_clock_reaches_its_placing():
    # Placed 01-05 10:00 with ship-by 01-05 18:00, arriving while the partition clock is at 01-05 00:30
    # (its other topics behind): the ship-by day has begun but the order does not exist yet at that
    # clock, so it is warned when the clock reaches 10:00, with 8 h (28,800 s) left.
    engine = _engine()
    _clock(engine, "2026-01-05T00:30:00Z")
    assert _alerts(_placed(engine, "2026-01-05T10:00:00Z", "2026-01-05T18:00:00Z")) == []
    assert _alerts(_clock(engine, "2026-01-05T09:59:59Z")) == []
    assert _alerts(_clock(engine, "2026-01-05T10:00:00Z")) == [("2026-01-05T18:00:00Z", None, 28_800)]


def test_a_thread_whose_lead_is_longer_than_its_window_is_warned_once_the_clock_reaches_its_message():
    # A 30 h lead: the 24 h deadline's would begin 6 h before the buyer message (01-10 10:00).
    # It arrives while the partition clock is at 05:00 (its other topics behind): not warned
    # before the message exists at that clock, then at 10:00 with 24 h (86,400 s) left. The
    # 48 h deadline (01-12 10:00) is warned 30 h before it, at 01-11 04:00, with 108,000 s left.
    engine = PartitionEngine(0, INPUT_TOPICS, Policy(alerts={"response_lead_hours": 30}))
    _clock(engine, "2026-01-10T05:00:00Z")
    assert _alerts(_buyer(engine, "2026-01-10T10:00:00Z", "m1")) == []
    assert _alerts(_clock(engine, "2026-01-10T09:59:59Z")) == []
    assert _alerts(_clock(engine, "2026-01-10T10:00:00Z")) == [("2026-01-11T10:00:00Z", 24, 86_400)]
    assert _alerts(_clock(engine, "2026-01-11T03:59:59Z")) == []
    assert _alerts(_clock(engine, "2026-01-11T04:00:00Z")) == [("2026-01-12T10:00:00Z", 48, 108_000)]


@pytest.mark.parametrize("thread_warned", [2, [parse_timestamp("2026-01-11T10:00:00Z")]], ids=["bit", "deadline"])
def test_state_written_with_a_bit_per_window_or_a_flag_per_order_still_reads(thread_warned):
    # Thread t (buyer 01-10 10:00) and order o1 (ship-by 01-11 15:00) stored as versions before
    # wrote them once they had warned about t's 24 h deadline (bit 1: Policy.windows is (48 h, 24 h);
    # or that deadline, 01-11 10:00, with no window) and about o1 (flag 1). Restored at 01-10 00:00,
    # the clock at 01-11 06:00 is 4 h before t's 24 h deadline and on o1's ship-by day: neither is
    # warned again. t's 48 h deadline (01-12 10:00) is, at 01-12 06:00 with 4 h (14,400 s) left; then
    # only it stays in t's state, as (48 h, 01-12 10:00), 01-11 10:00 having passed.
    engine = _engine()
    _clock(engine, "2026-01-10T00:00:00Z")
    _buyer(engine, "2026-01-10T10:00:00Z", "m1")
    _placed(engine, "2026-01-10T10:00:00Z", "2026-01-11T15:00:00Z")
    written = {tuple(orjson.loads(key)): value for key, value in engine.take_unsaved()}
    for key, warned in (((0, "s", "threads", "t"), thread_warned), ((0, "s", "orders", "o1"), 1)):
        fields = msgpack.decode(written[key])
        assert fields[-1] is None  # never warned: one byte, as the 0 written before
        written[key] = msgpack.encode([*fields[:-1], warned])
    restored = _engine()
    restored.restore(written)
    assert _alerts(_clock(restored, "2026-01-11T06:00:00Z")) == []
    assert _alerts(_clock(restored, "2026-01-12T06:00:00Z")) == [("2026-01-12T10:00:00Z", 48, 14_400)]
    thread = msgpack.decode(dict(restored.take_unsaved())[encode([0, "s", "threads", "t"])])
    assert thread == [parse_timestamp("2026-01-10T10:00:00Z"), None, None, [[48, parse_timestamp("2026-01-12T10:00:00Z")]]]


def _unanswered_thread_of_a_seller_with_5_sales():
    """An engine whose seller has 5 sales (its standards are judged) and a
    buyer's thread of 2026-01-10 10:00 still unanswered."""
    engine = _engine()
    _clock(engine, "2026-01-01T00:00:00Z")
    for i in range(5):  # 5 sales: standards are judged
        _send(engine, "marketplace.orders", "order.placed", f"2026-01-0{i + 2}T10:00:00Z", order_id=f"o{i}",
              total="10.00", currency="EUR", ship_by="2026-03-01T00:00:00Z", digital=True,
              purchase_protected=False, tracking_required=False)
    _send(engine, "marketplace.messages", "message.sent", "2026-01-10T10:00:00Z",
          thread_id="t", message_id="m1", sender_role="buyer")
    return engine


def test_a_violation_opens_once_and_resolves_when_a_late_reply_proves_the_thread_answered():
    engine = _unanswered_thread_of_a_seller_with_5_sales()
    _clock(engine, "2026-01-12T10:00:01Z")  # past the 48 h deadline with no reply: 0 of 1 answered
    out = engine.refresh()
    assert _of(out, VIOLATIONS) == []  # held until the state that holds it is written
    out += _written(engine)
    (opened,) = _of(out, VIOLATIONS)
    assert (opened["type"], opened["standard"], opened["numerator"], opened["denominator"],
            opened["evidence"]) == ("violation.opened", "message_response", 0, 1, {"answered": 0, "missed": 1})
    assert _of(out, SCORECARDS)[0]["standards"]["message_response"]["rate"] == "0.0"
    _clock(engine, "2026-01-12T11:00:00Z")
    assert _of(engine.refresh() + _written(engine), VIOLATIONS) == []  # nothing changed: not repeated
    # The reply, sent within 48 h, arrives late (within allowed lateness).
    _send(engine, "marketplace.messages", "message.sent", "2026-01-12T09:00:00Z",
          thread_id="t", message_id="m2", sender_role="seller")
    (resolved,) = _of(engine.refresh() + _written(engine), VIOLATIONS)
    assert (resolved["type"], resolved["numerator"], resolved["denominator"]) == ("violation.resolved", 1, 1)
    assert resolved["violation_id"] != opened["violation_id"]


def test_a_card_with_new_numbers_and_the_same_statuses_opens_no_second_violation():
    engine = _unanswered_thread_of_a_seller_with_5_sales()
    _clock(engine, "2026-01-12T10:00:01Z")  # 0 of 1 answered: not met, a violation opens
    (opened,) = _of(engine.refresh() + _written(engine), VIOLATIONS)
    assert opened["type"] == "violation.opened"
    # A second buyer's thread of 2026-01-10 12:00, unanswered past its 48 h deadline (2026-01-12 12:00).
    _send(engine, "marketplace.messages", "message.sent", "2026-01-10T12:00:00Z",
          thread_id="t2", message_id="m3", sender_role="buyer")
    _clock(engine, "2026-01-12T12:00:01Z")
    out = engine.refresh() + _written(engine)
    (card,) = _of(out, SCORECARDS)
    standard = card["standards"]["message_response"]
    assert (standard["numerator"], standard["denominator"], standard["status"]) == (0, 2, "not_met")
    assert _of(out, VIOLATIONS) == []  # still the one opened
    assert engine.status_counts[("message_response", "not_met")] == 1  # the one seller, counted once


def test_a_restart_after_a_commit_cut_short_after_a_header_sends_no_change_as_of_before_it():
    # A thread answered in 1 h (01-09 10:00) and one unanswered (01-10 10:00, 48 h deadline 01-12
    # 10:00), 5 sales. Committed at 01-11: 1 of 1 answered, met. Then the input moves the clock to
    # 01-12 (still 1 of 1) and 01-13: 1 of 2, 100 * 1 < 80 * 2, not met, a violation opens, held
    # in the seller's header. The commit that writes it is cut short after that header, before the
    # partition's record: the restart reads the clock of 01-11 and the header (its opening is sent
    # then), and the input since 01-11 again. Recounted at 01-12 the seller would be met again and
    # its violation resolved as of 01-12, before the opening of 01-13 already sent; it waits until
    # the clock is back at 01-13, where it is not met: the violation stays open, nothing else sent.
    engine = _unanswered_thread_of_a_seller_with_5_sales()
    _send(engine, "marketplace.messages", "message.sent", "2026-01-09T10:00:00Z",
          thread_id="t0", message_id="m0", sender_role="buyer")
    _send(engine, "marketplace.messages", "message.sent", "2026-01-09T11:00:00Z",
          thread_id="t0", message_id="m0r", sender_role="seller")
    _clock(engine, "2026-01-11T00:00:00Z")
    (card,) = _of(engine.refresh(), SCORECARDS)
    assert card["standards"]["message_response"]["status"] == "met"
    committed = [(tuple(orjson.loads(key)), value) for key, value in engine.take_unsaved()]
    engine.release()

    def input_since_the_commit(engine):
        out = []
        for at in ("2026-01-12T00:00:00Z", "2026-01-13T00:00:00Z"):
            out += _clock(engine, at) + engine.refresh()
        return out

    assert _of(input_since_the_commit(engine), VIOLATIONS) == []  # held
    writes = [(tuple(orjson.loads(key)), value) for key, value in engine.take_unsaved()]
    cut = [key for key, _ in writes].index((0, "s")) + 1
    assert (0,) in [key for key, _ in writes[cut:]]  # the partition's record is left out
    restarted = _engine()
    restarted.restore(dict(committed + writes[:cut]))
    (opened,) = _of(restarted.release(), VIOLATIONS)
    assert (opened["type"], opened["as_of"]) == ("violation.opened", "2026-01-13T00:00:00Z")
    out = input_since_the_commit(restarted) + _written(restarted)
    assert _of(out, VIOLATIONS) == []
    (card,) = _of(out, SCORECARDS)
    standard = card["standards"]["message_response"]
    assert (card["as_of"], standard["numerator"], standard["denominator"], standard["status"]) == (
        "2026-01-13T00:00:00Z", 1, 2, "not_met")


def test_daily_progress_at_most_once_per_seller_and_day_on_days_its_numbers_are_recounted():
    engine = _engine()
    _clock(engine, "2026-01-01T00:00:00Z")
    for i in range(5):  # 5 digital sales of 60.00 on Jan 2: volume holds (5 orders, 300.00)
        _send(engine, "marketplace.orders", "order.placed", "2026-01-02T10:00:00Z", order_id=f"o{i}",
              total="60.00", currency="EUR", ship_by="2026-01-05T00:00:00Z", digital=True,
              purchase_protected=False, tracking_required=False)
    _clock(engine, "2026-01-02T12:00:00Z")
    (progress,) = [v for v in _of(engine.refresh(), "standards.badges") if v["type"] == "badges.daily_progress"]
    assert (progress["day"], progress["period"]) == ("2026-01-02", {"start": "2025-11-01", "end": "2026-01-02"})
    assert progress["criteria"]["volume"] == {"orders": 5, "amount": "300.00", "holds": True}
    assert progress["star_seller"] is False  # tenure: first sale on Jan 2
    _clock(engine, "2026-01-02T20:00:00Z")
    assert [v for v in _of(engine.refresh(), "standards.badges") if v["type"] == "badges.daily_progress"] == []
    _clock(engine, "2026-01-04T01:00:00Z")  # a day on which nothing of the seller changed: no record
    assert [v for v in _of(engine.refresh(), "standards.badges") if v["type"] == "badges.daily_progress"] == []
    _send(engine, "marketplace.orders", "order.placed", "2026-01-04T02:00:00Z", order_id="o5", total="1.00",
          currency="EUR", ship_by="2026-01-05T00:00:00Z", digital=True, purchase_protected=False,
          tracking_required=False)
    (progress,) = [v for v in _of(engine.refresh(), "standards.badges") if v["type"] == "badges.daily_progress"]
    assert (progress["day"], progress["criteria"]["volume"]["amount"]) == ("2026-01-04", "301.00")
    _clock(engine, "2026-02-01T00:00:00Z")  # a new month moves the period of every seller
    days = [v["day"] for v in _of(engine.refresh(), "standards.badges") if v["type"] == "badges.daily_progress"]
    assert days == ["2026-02-01"]


def test_a_failure_in_the_rules_dead_letters_the_event_and_the_partition_goes_on(monkeypatch):
    sent = []
    processor = Processor(Policy(), lambda topic, partition, key, value: sent.append((topic, value)), "state")
    raw = orjson.dumps({"event_id": "e", "type": "review.removed", "seller_id": "s",
                        "occurred_at": "2026-01-01T00:00:00Z", "review_id": "r"})
    monkeypatch.setattr(PartitionEngine, "process", lambda self, topic, event: 1 / 0)
    processor.handle("marketplace.reviews", 3, 41, b"s", raw)
    ((topic, value),) = sent
    record = orjson.loads(value)
    assert (topic, record["code"], record["partition"], record["offset"]) == ("standards.deadletter",
                                                                            "processing_error", 3, 41)
    assert "ZeroDivisionError" in record["reason"]


def test_a_record_with_a_null_value_is_dead_lettered_and_the_rest_of_its_batch_applied():
    # A tombstone on an input topic is bad input (SPEC 2): it must neither stop
    # the worker nor hold back the records after it in the same fetch.
    sent = []
    processor = Processor(Policy(), lambda topic, partition, key, value: sent.append((topic, key, value)), "state")
    placed = orjson.dumps({"event_id": "e1", "type": "order.placed", "seller_id": "s-1",
                           "occurred_at": "2026-01-02T10:00:00Z", "order_id": "o1", "total": "60.00",
                           "currency": "EUR", "ship_by": "2026-01-05T00:00:00Z", "digital": True,
                           "purchase_protected": False, "tracking_required": False})
    processor.handle_batch("marketplace.orders", 2, [Record(6, b"s-1", None, None), Record(7, b"s-1", placed, None)])
    ((topic, key, value),) = sent
    record = orjson.loads(value)
    assert (topic, key) == ("standards.deadletter", b"s-1")
    assert (record["code"], record["topic"], record["partition"], record["offset"], record["original_base64"]) == (
        "not_json", "marketplace.orders", 2, 6, None)
    assert "null" in record["reason"]
    assert list(processor.engine(2).sellers) == ["s-1"]  # the order after it was applied


def _placed_record(n: int, seller: str) -> bytes:
    return orjson.dumps({"event_id": f"e{n}", "type": "order.placed", "seller_id": seller,
                         "occurred_at": "2026-01-02T10:00:00Z", "order_id": f"o{n}", "total": "60.00",
                         "currency": "EUR", "ship_by": "2026-01-05T00:00:00Z", "digital": True,
                         "purchase_protected": False, "tracking_required": False})


def _message_record(n: int, seller: str, at: str, role: str, offset: int = 0) -> Record:
    """Message m<n> of seller's thread t, as a record at `offset`."""
    return Record(offset, seller.encode(), orjson.dumps({
        "event_id": f"m{n}", "type": "message.sent", "seller_id": seller, "occurred_at": at, "thread_id": "t",
        "message_id": f"m{n}", "sender_role": role}), None)


def _counted(metric, *labels) -> float:
    """The value of a counter's or gauge's series in this process."""
    return metric.labels(*labels)._value.get()


def _heartbeats(processor: Processor, partition: int, at: str) -> None:
    """A heartbeat at `at` on every input topic of `partition`: its clock."""
    beat = orjson.dumps({"event_id": f"hb-{partition}-{at}", "type": "clock.heartbeat", "seller_id": "route",
                         "occurred_at": at})
    for topic in INPUT_TOPICS:
        processor.handle_batch(topic, partition, [Record(0, b"route", beat, None)])


def test_events_keyed_otherwise_than_by_their_seller_id_are_applied_counted_and_logged_once_per_topic(caplog):
    # SPEC 2: key = seller_id. A producer keying otherwise spreads a seller's
    # events over partitions (each holding part of its state); the worker
    # cannot move them, so it applies them where they are and says so.
    from streams import metrics

    beat = orjson.dumps({"event_id": "hb", "type": "clock.heartbeat", "seller_id": "route-1",
                         "occurred_at": "2026-01-02T11:00:00Z"})
    counted = {topic: metrics.KEYED_OTHERWISE.labels(topic)._value.get() for topic in INPUT_TOPICS}
    processor = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    processor.handle_batch("marketplace.orders", 1, [
        Record(0, b"s-1", _placed_record(1, "s-1"), None),  # keyed by its seller: not counted
        Record(1, b"o-2", _placed_record(2, "s-1"), None),  # keyed by its order
        Record(2, None, _placed_record(3, "s-2"), None),  # no key
        Record(3, b"any", beat, None),  # a heartbeat's seller_id is any routing key: not counted
    ])
    processor.handle_batch("marketplace.orders", 1, [Record(4, b"x", _placed_record(4, "s-3"), None)])
    after = {topic: metrics.KEYED_OTHERWISE.labels(topic)._value.get() for topic in INPUT_TOPICS}
    assert {topic: after[topic] - counted[topic] for topic in INPUT_TOPICS} == {
        topic: 3 if topic == "marketplace.orders" else 0 for topic in INPUT_TOPICS}
    engine = processor.engine(1)
    assert sorted(engine.sellers) == ["s-1", "s-2", "s-3"]  # every one applied
    assert sorted(engine.sellers["s-1"].orders) == ["o1", "o2"]
    (warned,) = [r.getMessage() for r in caplog.records if "keyed" in r.getMessage()]  # the first, once
    assert all(part in warned for part in ("marketplace.orders[1]@1", "b'o-2'", "'s-1'",
                                           "seller_standards_events_keyed_otherwise_total")), warned


def test_events_dated_before_the_last_evaluation_instant_are_counted_by_topic():
    from streams import metrics

    def counted() -> dict[str, float]:
        return {topic: _counted(metrics.EVENTS_AFTER_EVALUATION, topic) for topic in INPUT_TOPICS}

    processor = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    before = counted()
    _heartbeats(processor, 1, "2026-02-03T00:00:00Z")  # February evaluated, as of 2026-02-02T00:00Z
    # _placed_record's orders are placed on 2026-01-02, before that instant
    processor.handle_batch("marketplace.orders", 1, [Record(1, b"s-1", _placed_record(1, "s-1"), None),
                                                     Record(2, b"s-1", _placed_record(2, "s-1"), None)])
    processor.handle_batch("marketplace.messages", 1, [
        _message_record(1, "s-1", "2026-02-02T00:00:00Z", "buyer", offset=1)])  # at it: in time
    after = counted()
    assert {topic: after[topic] - before[topic] for topic in INPUT_TOPICS} == {
        topic: 2 if topic == "marketplace.orders" else 0 for topic in INPUT_TOPICS}


def test_proofs_past_the_allowed_lateness_are_counted_by_item_kind():
    # A buyer message 2026-01-05T00:00Z (deadlines 01-06 and 01-07) and the reply,
    # dated 01-05T12:00Z, arriving at clock 01-15T00:00Z: 9 and 8 days past them,
    # more than the 7 days of allowed_lateness: both left missed on the live card.
    from streams import metrics

    def counted() -> dict[str, float]:
        return {item: _counted(metrics.PROOFS_PAST_LATENESS, item) for item in ("thread", "order")}

    processor = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    before = counted()
    processor.handle_batch("marketplace.messages", 1, [_message_record(0, "s-1", "2026-01-05T00:00:00Z", "buyer")])
    _heartbeats(processor, 1, "2026-01-15T00:00:00Z")
    processor.handle_batch("marketplace.messages", 1, [
        _message_record(2, "s-1", "2026-01-05T12:00:00Z", "seller", offset=2)])
    after = counted()
    assert {item: after[item] - before[item] for item in after} == {"thread": 2, "order": 0}


def test_a_seller_on_two_partitions_of_the_worker_is_counted_and_logged_once_when_seen_and_on_restore(caplog):
    # Keys right, partitions not: a producer with another partitioner (librdkafka's
    # default hashes keys otherwise than Java's) puts a seller on another partition.
    from streams import metrics

    def split() -> float:
        return metrics.SPLIT_SELLERS._value.get()

    written = []
    processor = Processor(Policy(), lambda topic, partition, key, value: written.append((topic, key, value)), "state")
    before = split()
    processor.handle_batch("marketplace.orders", 0, [Record(0, b"s-1", _placed_record(1, "s-1"), None),
                                                     Record(1, b"s-2", _placed_record(2, "s-2"), None)])
    processor.handle_batch("marketplace.orders", 1, [Record(0, b"s-3", _placed_record(3, "s-3"), None)])
    assert split() == before  # each seller on one partition
    processor.handle_batch("marketplace.messages", 1, [Record(0, b"s-1", orjson.dumps(
        {"event_id": "m1", "type": "message.sent", "seller_id": "s-1", "occurred_at": "2026-01-02T11:00:00Z",
         "thread_id": "t1", "message_id": "m1", "sender_role": "buyer"}), None)])
    processor.handle_batch("marketplace.orders", 1, [Record(1, b"s-1", _placed_record(4, "s-1"), None)])
    assert split() == before + 1  # s-1 on partitions 0 and 1: once, at its first event on the second
    assert sorted(processor.engine(1).sellers) == ["s-1", "s-3"]  # applied all the same
    (warned,) = [r.getMessage() for r in caplog.records if "partitions 0 and 1" in r.getMessage()]
    assert "'s-1'" in warned and "seller_standards_split_sellers_total" in warned

    for partition in (0, 1):
        processor._write_state(partition, processor.engine(partition))
    restarted = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    restarted.restore({0, 1}, [(key, value) for topic, key, value in written if topic == "state"])
    assert split() == before + 2  # s-1 again, as the restored state holds it twice; s-2 and s-3 not


def test_the_wall_clock_moves_a_partition_only_once_its_input_is_read_to_the_end():
    # CLOCK=wall: a partition restored with nothing (a first start on topics
    # holding history) keeps its event clock until the worker has read its
    # input to the end; had the wall clock moved it at once, January's
    # events would all come after February's evaluation instant.
    sent = []
    processor = Processor(Policy(), lambda topic, partition, key, value: sent.append((topic, value)), "state",
                          wall_clock=True)
    processor.restore({0}, [])
    processor.advance_wall_clock()
    assert processor.engine(0).clock is None
    events = [("marketplace.orders", {"event_id": f"o{day}", "type": "order.placed", "seller_id": "s-1",
                                      "occurred_at": f"2026-01-{day:02d}T10:00:00Z", "order_id": f"o{day}",
                                      "total": "60.00", "currency": "EUR", "ship_by": f"2026-01-{day:02d}T12:00:00Z",
                                      "digital": True, "purchase_protected": False, "tracking_required": False})
              for day in range(5, 10)]
    events += [(topic, {"event_id": f"hb-{topic}", "type": "clock.heartbeat", "seller_id": "any",
                        "occurred_at": "2026-02-02T00:00:00Z"}) for topic in INPUT_TOPICS]
    for offset, (topic, event) in enumerate(events):
        processor.handle_batch(topic, 0, [Record(offset, b"s-1", orjson.dumps(event), None)])
    processor.refresh(10**9)
    (february,) = [orjson.loads(value) for topic, value in sent if topic == "standards.evaluations"]
    # 5 digital orders of 60.00 in January: 5 sales, 300.00, 5 completed orders, nothing else counted.
    assert (february["month"], february["sales"]) == (
        "2026-02", {"orders": 5, "amount": "300.00", "first_sale_at": "2026-01-05T10:00:00Z"})
    assert february["standards"]["case_rate"] == {"numerator": 0, "denominator": 5, "status": "met",
                                                  "consecutive_months_not_met": 0}
    processor.read_to_the_end({0})
    processor.advance_wall_clock()  # now: past the evaluation instants of March and April too
    processor.refresh(10**9)
    months = [orjson.loads(value)["month"] for topic, value in sent if topic == "standards.evaluations"]
    assert months == ["2026-02", "2026-03", "2026-04"]  # January is in the periods of February to April


def test_a_scorecard_is_sent_when_the_numbers_or_the_month_change_not_on_every_recount():
    engine = _engine()
    _clock(engine, "2026-01-01T00:00:00Z")
    _send(engine, "marketplace.orders", "order.placed", "2026-01-02T10:00:00Z", order_id="o1", total="60.00",
          currency="EUR", ship_by="2026-01-05T00:00:00Z", digital=True, purchase_protected=False,
          tracking_required=False)
    (card,) = _of(engine.refresh(), SCORECARDS)
    assert (card["sales"], card["period"]) == (
        {"orders": 1, "amount": "60.00", "first_sale_at": "2026-01-02T10:00:00Z"},
        {"start": "2025-11-01", "end": "2026-01-01"})
    # A buyer's initial message is pending until its deadline: the seller is
    # recounted, its numbers are the same, so no card.
    _send(engine, "marketplace.messages", "message.sent", "2026-01-02T11:00:00Z", thread_id="t1",
          message_id="m1", sender_role="buyer")
    assert _of(engine.refresh(), SCORECARDS) == []
    # The reply within 48 h makes it answered (1 of 1) and 24 h too.
    _send(engine, "marketplace.messages", "message.sent", "2026-01-02T15:00:00Z", thread_id="t1",
          message_id="m2", sender_role="seller")
    (card,) = _of(engine.refresh(), SCORECARDS)
    assert card["standards"]["message_response"]["numerator"] == 1
    assert card["standards"]["message_response"]["denominator"] == 1
    assert card["star_seller"]["criteria"]["message_response"] == {"numerator": 1, "denominator": 1, "holds": True}
    _clock(engine, "2026-01-20T00:00:00Z")  # later days, same numbers: nothing
    assert _of(engine.refresh(), SCORECARDS) == []
    _clock(engine, "2026-02-01T00:00:00Z")  # the period moves to Dec..Feb: a card for the new month
    (card,) = _of(engine.refresh(), SCORECARDS)
    assert (card["period"], card["as_of"]) == ({"start": "2025-12-01", "end": "2026-02-01"}, "2026-02-01T00:00:00Z")
    assert card["sales"]["orders"] == 1


def test_a_violation_is_sent_once_its_state_is_written_and_again_after_a_crash_before_that():
    """A transition goes out after the commit that writes the state holding
    it (else a crash could leave consumers told of a change the restored
    state never had); a worker that stopped before sending it sends the
    same record once the state is read back."""
    engine = _unanswered_thread_of_a_seller_with_5_sales()
    _clock(engine, "2026-01-12T10:00:01Z")  # 48 h passed with no reply: message_response 0 of 1, not met
    assert _of(engine.refresh(), VIOLATIONS) == []
    assert engine.release() == []  # nothing written yet
    written = dict(engine.take_unsaved())
    # The worker stops here, before the acknowledgements: nothing was sent.
    restored = _engine()
    restored.restore({tuple(orjson.loads(key)): value for key, value in written.items()})
    (again,) = _of(restored.release(), VIOLATIONS)
    assert (again["violation_id"], again["type"], again["numerator"], again["denominator"]) == (
        "s/message_response/1", "violation.opened", 0, 1)
    assert _of(restored.release(), VIOLATIONS) == []  # sent once
    # The worker that did not stop sends the same record after its acknowledgements.
    (sent,) = _of(engine.release(), VIOLATIONS)
    assert sent == again
    assert engine.holding == {"s"}  # its state written last still holds it: to be written again
    assert _of(_written(engine), VIOLATIONS) == []
    assert engine.holding == set()
    assert "held" not in orjson.loads(dict(restored.take_unsaved())[orjson.dumps([0, "s"])])["l"]


def _nine_of_ten_answered() -> Scenario:
    """Seller s: 5 sales and 10 threads of 2026-03-02, 9 answered in an hour:
    9 of 10 answered, 100 * 9 = 900 >= 80 * 10 (met by default), < 95 * 10."""
    sc = Scenario().heartbeat("2026-03-01T00:00:00Z").digital_sales("s", 5, "2026-03-01T10:00:00Z")
    for i in range(10):
        sc.buyer("s", f"t{i}", "2026-03-02T10:00:00Z")
        if i:
            sc.seller_msg("s", f"t{i}", "2026-03-02T11:00:00Z")
    return sc.heartbeat("2026-03-10T00:00:00Z")


def test_a_restart_under_another_policy_recounts_every_seller_at_once():
    """Thresholds raised from 80 % to 95 % between two runs: the seller's
    card and violation follow at the first recount, not at its next event."""
    sc = _nine_of_ten_answered()
    (card,) = _of(sc.outputs, SCORECARDS)
    assert card["standards"]["message_response"]["status"] == "met"
    state: dict = {}
    stricter = Policy.model_validate({"message_response": {"min_percent": 95}})
    restarted = sc.restarted(state, stricter).heartbeat("2026-03-10T01:00:00Z")  # no event of the seller
    (card,) = _of(restarted.outputs, SCORECARDS)
    assert card["standards"]["message_response"] == {
        "numerator": 9, "denominator": 10, "rate": "90.0", "status": "not_met", "threshold": {"min_percent": "95"}}
    again = restarted.restarted(state)  # what `restarted` wrote, acknowledged: the transitions it holds are sent
    (opened,) = _of(restarted.engine.release(), VIOLATIONS)
    assert (opened["type"], opened["standard"], opened["evidence"], opened["threshold"]) == (
        "violation.opened", "message_response", {"answered": 9, "missed": 1}, {"min_percent": "95"})
    # The state now says it was written under the stricter policy: the next restart recounts nothing.
    assert _of(again.heartbeat("2026-03-10T02:00:00Z").outputs, SCORECARDS) == []


def test_a_restart_under_the_same_policy_sends_no_card_before_the_sellers_next_change():
    restarted = _nine_of_ten_answered().restarted({})
    assert _of(restarted.heartbeat("2026-03-10T01:00:00Z").outputs, SCORECARDS) == []


def test_state_this_version_cannot_read_stops_the_restore_naming_its_partition_and_topic():
    written = _nine_of_ten_answered().engine.take_unsaved()
    header = next(key for key, _ in written if tuple(orjson.loads(key)) == (0, "s"))
    state = [(key, b"\x92not json" if key == header else value) for key, value in written]
    processor = Processor(Policy(), lambda *record: None, "app-seller-state")
    with pytest.raises(StateUnreadable) as raised:
        processor.restore({0, 1}, state)
    assert str(raised.value).startswith(
        "the state of partition 0 in app-seller-state cannot be read by this version (JSONDecodeError: ")
    assert 0 not in processor.engines  # nothing is applied to it


def test_alerts_are_counted_per_item_kind_as_they_are_sent():
    from streams import metrics

    sent = []
    processor = Processor(Policy(), lambda topic, partition, key, value: sent.append(topic), "state")
    before = {kind: _counted(metrics.ALERTS, kind) for kind in ("thread", "order")}

    offsets = itertools.count()

    def events(topic, *fields_of_events):
        records = []
        for fields in fields_of_events:
            n = next(offsets)
            records.append(Record(n, b"s-1", orjson.dumps({"event_id": f"e{n}", "seller_id": "s-1", **fields}), None))
        processor.handle_batch(topic, 0, records)

    def clock(at):
        for topic in INPUT_TOPICS:
            events(topic, {"type": "clock.heartbeat", "occurred_at": at})

    clock("2026-01-10T00:00:00Z")
    events("marketplace.messages", *({"type": "message.sent", "occurred_at": "2026-01-10T10:00:00Z",
                                      "thread_id": t, "message_id": t, "sender_role": "buyer"} for t in ("t1", "t2")))
    events("marketplace.orders", {"type": "order.placed", "occurred_at": "2026-01-10T09:00:00Z", "order_id": "o1",
                                  "total": "10.00", "currency": "EUR", "ship_by": "2026-01-11T18:00:00Z",
                                  "digital": False, "purchase_protected": False, "tracking_required": False})
    # 24 h deadlines at 01-11 10:00, warned from 06:00; the order on its ship-by day, from 00:00
    clock("2026-01-11T07:00:00Z")
    # 48 h deadlines at 01-12 10:00, warned from 06:00; the order's ship-by time has passed
    clock("2026-01-12T07:00:00Z")
    assert sent.count(ALERTS) == 5
    assert {kind: _counted(metrics.ALERTS, kind) - before[kind] for kind in before} == {"thread": 4, "order": 1}


def test_violations_are_counted_per_standard_and_change_as_they_are_sent():
    from streams import metrics

    processor = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    series = [("message_response", "opened"), ("case_rate", "opened"), ("case_rate", "resolved")]
    before = {s: _counted(metrics.VIOLATIONS, *s) for s in series}
    processor._emit(0, [
        (VIOLATIONS, "s-1", {"type": "violation.opened", "standard": "message_response"}),
        (VIOLATIONS, "s-2", {"type": "violation.opened", "standard": "message_response"}),
        (SCORECARDS, "s-2", {"seller_id": "s-2"}),
        (VIOLATIONS, "s-3", {"type": "violation.resolved", "standard": "case_rate"}),
    ])
    assert {s: _counted(metrics.VIOLATIONS, *s) - before[s] for s in series} == {
        ("message_response", "opened"): 2, ("case_rate", "opened"): 0, ("case_rate", "resolved"): 1}


def _card_numbers(engine):
    (card,) = _of(engine.refresh(), SCORECARDS)
    return ({name: (s["numerator"], s["denominator"]) for name, s in card["standards"].items()},
            card["sales"]["orders"], card["sales"]["amount"])


def test_in_a_backlog_the_card_counts_the_items_then_live_events_move_the_totals_again():
    # SPEC 6: a card whenever a seller's numbers change, coalesced. In a
    # backlog (coalesce_live) its totals are counted from the items at the
    # card; out of it they move at each event and deadline, from that count.
    engine = _engine()
    engine.coalesce_live = True
    _clock(engine, "2026-01-10T00:00:00Z")
    for thread in ("t1", "t2"):
        _send(engine, "marketplace.messages", "message.sent", "2026-01-10T10:00:00Z",
              thread_id=thread, message_id=f"{thread}-b", sender_role="buyer")
    _send(engine, "marketplace.messages", "message.sent", "2026-01-10T12:00:00Z",
          thread_id="t1", message_id="t1-s", sender_role="seller")
    _placed(engine, "2026-01-10T09:00:00Z", "2026-01-11T18:00:00Z", order_id="o1", total="40.00")
    _placed(engine, "2026-01-10T09:30:00Z", "2026-01-11T18:00:00Z", order_id="o2", total="40.00")
    _send(engine, "marketplace.shipments", "shipment.shipped", "2026-01-11T10:00:00Z",
          order_id="o1", tracking_number="T1", label_purchased=False)
    # The clock passes t2's 48 h deadline (01-12 10:00) and o2's ship-by unshipped.
    _clock(engine, "2026-01-13T00:00:00Z")
    # t1 answered of 2 threads; o1 on time of 2 orders; o1 completed, no case; 2 sales, 80.00.
    assert _card_numbers(engine) == ({"message_response": (1, 2), "on_time_shipping": (1, 2),
                                      "review_rating": (0, 0), "case_rate": (0, 1)}, 2, "80.00")
    engine.coalesce_live = False
    _placed(engine, "2026-01-13T01:00:00Z", "2026-01-14T18:00:00Z", order_id="o3", total="10.50")
    # o3 pending: a sale (3, 90.50), not yet counted for shipping.
    assert _card_numbers(engine) == ({"message_response": (1, 2), "on_time_shipping": (1, 2),
                                      "review_rating": (0, 0), "case_rate": (0, 1)}, 3, "90.50")
    _clock(engine, "2026-01-15T00:00:00Z")  # o3's ship-by passes unshipped: late
    assert _card_numbers(engine) == ({"message_response": (1, 2), "on_time_shipping": (1, 3),
                                      "review_rating": (0, 0), "case_rate": (0, 1)}, 3, "90.50")


def test_the_clock_lag_is_wall_time_minus_the_partition_clock_and_negative_for_a_clock_ahead():
    # SellerStandardsClockStalled and SellerStandardsClockAhead read this gauge.
    import time

    from streams import metrics

    processor = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    now = int(time.time())
    for partition, clock in ((2, now + 3600), (3, now - 3600)):  # a producer an hour fast; an hour behind
        _heartbeats(processor, partition, format_timestamp(clock * 1_000_000))
    before = time.time()
    processor.update_gauges()
    after = time.time()
    for partition, clock in ((2, now + 3600), (3, now - 3600)):
        lag = _counted(metrics.CLOCK_LAG, str(partition))
        assert before - clock - 1e-3 <= lag <= after - clock + 1e-3  # -3600 s and 3600 s, as time went on


def test_each_input_topics_latest_event_is_shown_against_wall_time_over_the_partitions():
    # SellerStandardsEventsDatedAhead reads this gauge: one topic's producer an hour
    # fast shows before every topic of a partition moves its clock.
    import time

    from streams import metrics

    processor = Processor(Policy(), lambda topic, partition, key, value: None, "state")
    now = int(time.time())

    def placed(n: int, partition: int, at: int) -> None:
        event = orjson.loads(_placed_record(n, f"s-{n}"))
        event["occurred_at"] = format_timestamp(at * 1_000_000)
        processor.handle_batch("marketplace.orders", partition, [Record(n, f"s-{n}".encode(), orjson.dumps(event),
                                                                        None)])

    placed(1, 2, now - 7200)
    placed(2, 3, now + 3600)  # the latest over partitions 2 and 3
    placed(3, 3, now - 60)
    processor.handle_batch("marketplace.messages", 2, [
        _message_record(1, "s-4", format_timestamp((now - 600) * 1_000_000), "buyer")])
    before = time.time()
    processor.update_gauges()
    after = time.time()
    for topic, latest in (("marketplace.orders", now + 3600), ("marketplace.messages", now - 600)):
        lag = _counted(metrics.TOPIC_EVENT_LAG, topic)
        assert before - latest - 1e-3 <= lag <= after - latest + 1e-3  # -3600 s and 600 s
    shown = {sample.labels["topic"] for family in metrics.TOPIC_EVENT_LAG.collect() for sample in family.samples}
    assert shown == {"marketplace.orders", "marketplace.messages"}  # no event yet on the others
