"""Message response (SPEC section 4): which thread counts, its initial message,
its response, spam marks, the 48 h and 24 h windows and the attribution day.

Unless said otherwise the buyer writes at B = 2026-02-10T12:00Z, so the 24 h
deadline is 2026-02-11T12:00Z and the 48 h deadline 2026-02-12T12:00Z, both in
February, inside the period Jan-Mar 2026 of the evaluation for April 2026.
"""
import pytest

from scenario import Scenario
from schemas.validate import format_timestamp

S, T = "s-1", "t-1"
B = "2026-02-10T12:00:00Z"


def numbers(sc: Scenario, seller: str = S, month: str = "2026-04") -> tuple:
    """(answered, counted) at 48 h, then (answered, counted) at 24 h."""
    standard = sc.standard(seller, "message_response", month)
    star = sc.criterion(seller, "message_response", month)
    return standard["numerator"], standard["denominator"], star["numerator"], star["denominator"]


def play(sc: Scenario, steps) -> None:
    for kind, at, *event_id in steps:
        if kind == "buyer":
            sc.buyer(S, T, at)
        elif kind in ("seller", "auto_reply", "platform"):
            sc.seller_msg(S, T, at, role=kind)
        else:  # spam / unspam
            sc.spam(S, T, at, marked=kind == "spam", event_id=event_id[0] if event_id else None)


# Steps are in arrival order; expected is (answered 48h, counted 48h, answered 24h, counted 24h).
CASES = {
    "reply after 1 h": ([("buyer", B), ("seller", "2026-02-10T13:00:00Z")], (1, 1, 1, 1)),
    "auto-reply counts": ([("buyer", B), ("auto_reply", "2026-02-10T12:00:05Z")], (1, 1, 1, 1)),
    "no reply: missed in both windows": ([("buyer", B)], (0, 1, 0, 1)),
    # neither opens the thread nor answers it
    "platform messages ignored": ([("platform", "2026-02-10T11:00:00Z"), ("buyer", B),
                                   ("platform", "2026-02-10T13:00:00Z")], (0, 1, 0, 1)),
    "platform-only thread": ([("platform", B)], (0, 0, 0, 0)),
    "seller-opened 1 us earlier": ([("seller", "2026-02-10T11:59:59.999999Z"), ("buyer", B),
                                    ("seller", "2026-02-10T13:00:00Z")], (0, 0, 0, 0)),
    "auto-reply-opened": ([("auto_reply", "2026-02-10T11:00:00Z"), ("buyer", B)], (0, 0, 0, 0)),
    "seller at the same instant is the response": ([("seller", B), ("buyer", B)], (1, 1, 1, 1)),
    # initial = B (earliest buyer message, arriving second); the reply is 30 h after it
    "earliest buyer message is the initial": ([("buyer", "2026-02-11T10:00:00Z"), ("buyer", B),
                                               ("seller", "2026-02-11T18:00:00Z")], (1, 1, 0, 1)),
    "follow-up never counts": ([("buyer", B), ("seller", "2026-02-10T13:00:00Z"),
                                ("buyer", "2026-02-11T09:00:00Z")], (1, 1, 1, 1)),
    "reply at exactly the 24 h deadline": ([("buyer", B), ("seller", "2026-02-11T12:00:00Z")], (1, 1, 1, 1)),
    "reply 1 us after 24 h": ([("buyer", B), ("seller", "2026-02-11T12:00:00.000001Z")], (1, 1, 0, 1)),
    "reply at exactly the 48 h deadline": ([("buyer", B), ("seller", "2026-02-12T12:00:00Z")], (1, 1, 0, 1)),
    "reply 1 us after 48 h": ([("buyer", B), ("seller", "2026-02-12T12:00:00.000001Z")], (0, 1, 0, 1)),
    "reply arrives before its buyer message": ([("seller", "2026-02-10T14:00:00Z"), ("buyer", B)], (1, 1, 1, 1)),
    "spam marked": ([("buyer", B), ("spam", "2026-02-10T13:00:00Z")], (0, 0, 0, 0)),
    "answered, then spam marked": ([("buyer", B), ("seller", "2026-02-10T13:00:00Z"),
                                    ("spam", "2026-02-10T15:00:00Z")], (0, 0, 0, 0)),
    "spam marked weeks after the deadline": ([("buyer", B), ("spam", "2026-03-20T00:00:00Z")], (0, 0, 0, 0)),
    "marked then unmarked": ([("buyer", B), ("spam", "2026-02-10T13:00:00Z"),
                              ("unspam", "2026-02-10T14:00:00Z")], (0, 1, 0, 1)),
    "unmarked then marked": ([("buyer", B), ("unspam", "2026-02-10T13:00:00Z"),
                              ("spam", "2026-02-10T14:00:00Z")], (0, 0, 0, 0)),
    # the later occurred_at (the mark) wins, not the later arrival (the unmark)
    "last by occurred_at, not by arrival": ([("buyer", B), ("spam", "2026-02-10T14:00:00Z"),
                                             ("unspam", "2026-02-10T13:00:00Z")], (0, 0, 0, 0)),
    # same instant: the greater event_id ("x-2") is the last
    "tie: unmark has the greater event_id": ([("buyer", B), ("unspam", "2026-02-10T13:00:00Z", "x-2"),
                                              ("spam", "2026-02-10T13:00:00Z", "x-1")], (0, 1, 0, 1)),
    "tie: mark has the greater event_id": ([("buyer", B), ("spam", "2026-02-10T13:00:00Z", "x-2"),
                                            ("unspam", "2026-02-10T13:00:00Z", "x-1")], (0, 0, 0, 0)),
}


@pytest.mark.parametrize("steps, expected", CASES.values(), ids=CASES.keys())
def test_thread_counting(steps, expected):
    sc = Scenario().digital_sales(S, 5, "2026-02-01T00:00:00Z")  # so that a record exists
    play(sc, steps)
    sc.evaluate("2026-04")
    assert numbers(sc) == expected


def test_attributed_to_the_utc_day_of_each_deadline():
    # buyer 2026-03-30T12:00Z: 24 h deadline 03-31T12:00Z (March), 48 h deadline
    # 04-01T12:00Z (April). Answered after 1 h.
    sc = Scenario().digital_sales(S, 5, "2026-03-01T00:00:00Z")
    sc.buyer(S, T, "2026-03-30T12:00:00Z").seller_msg(S, T, "2026-03-30T13:00:00Z")
    sc.evaluate("2026-05")
    assert numbers(sc, month="2026-04") == (0, 0, 1, 1)  # period Jan-Mar
    assert numbers(sc, month="2026-05") == (1, 1, 1, 1)  # period Feb-Apr


def test_thread_counted_only_at_24h_gives_a_record():
    # No sale at all; the thread (buyer 2026-03-30T12:00Z, never answered) counts
    # at 24 h in March, at 48 h in April.
    sc = Scenario().buyer(S, T, "2026-03-30T12:00:00Z").evaluate("2026-04")
    assert numbers(sc) == (0, 0, 0, 1)
    assert sc.standard(S, "message_response")["status"] == "not_enough_data"
    assert sc.record(S, "2026-03") is None


def test_a_thread_has_one_wake_up_scheduled_at_a_time():
    # The next is scheduled once the one before is due, so a thread answered
    # in time leaves at most one moot wake-up behind, not all four.
    sc = Scenario().heartbeat("2026-02-10T00:00:00Z").buyer(S, T, B)

    def scheduled():
        return [f"{format_timestamp(at)} {'deadline' if deadline else 'alert'}"
                for at, _, _, _, deadline in sorted(sc.engine._wakeups)]

    assert scheduled() == ["2026-02-11T08:00:00Z alert"]  # 24 h deadline minus the 4 h lead
    sc.heartbeat("2026-02-11T09:00:00Z")
    assert [record["deadline"] for topic, _, record in sc.outputs if topic == "standards.alerts"] == [
        "2026-02-11T12:00:00Z"]
    assert scheduled() == ["2026-02-11T12:00:00.000001Z deadline"]
    sc.seller_msg(S, T, "2026-02-11T10:00:00Z")  # answered within both windows: nothing new to wake for
    assert scheduled() == ["2026-02-11T12:00:00.000001Z deadline"]
    sc.heartbeat("2026-02-13T00:00:00Z")  # past every deadline: the moot one was popped, none follows
    assert scheduled() == []
    assert [record["deadline"] for topic, _, record in sc.outputs if topic == "standards.alerts"] == [
        "2026-02-11T12:00:00Z"]


def test_live_scorecard_pending_missed_then_corrected_by_a_late_reply():
    sc = Scenario().buyer(S, T, B)

    def live():
        card = sc.scorecards[S]
        star = card["star_seller"]["criteria"]["message_response"]
        return (card["standards"]["message_response"]["numerator"],
                card["standards"]["message_response"]["denominator"], star["numerator"], star["denominator"])

    sc.heartbeat("2026-02-12T12:00:00Z")  # clock at the 48 h deadline: pending; 24 h passed: missed
    assert live() == (0, 0, 0, 1)
    sc.heartbeat("2026-02-12T12:00:00.000001Z")  # clock passed the 48 h deadline
    assert live() == (0, 1, 0, 1)
    sc.seller_msg(S, T, "2026-02-11T00:00:00Z")  # a reply 12 h after B, arriving late
    sc.heartbeat("2026-02-12T13:00:00Z")
    assert live() == (1, 1, 1, 1)


@pytest.mark.parametrize("reply, expected", [
    # lead 4 h: alerts at 20 h and 44 h after B, outcomes decided 1 us after 24 h and 48 h
    (None, ["2026-02-11T08:00:00Z alert", "2026-02-11T12:00:00.000001Z deadline",
            "2026-02-12T08:00:00Z alert", "2026-02-12T12:00:00.000001Z deadline"]),
    ("2026-02-11T18:00:00Z", ["2026-02-11T08:00:00Z alert", "2026-02-11T12:00:00.000001Z deadline"]),  # 30 h: only 24 h missed
    ("2026-02-10T13:00:00Z", []),  # answered within both windows: the clock changes nothing
])
def test_a_thread_wakes_the_engine_only_for_windows_not_answered_in_time(reply, expected):
    sc = Scenario().buyer(S, T, B)
    if reply:
        sc.seller_msg(S, T, reply)
    seller = sc.engine.sellers[S]
    woken = [f"{format_timestamp(at)} {'deadline' if deadline else 'alert'}"
             for at, deadline in seller.wakeups("threads", seller.item("threads", T), sc.engine.policy)]
    assert sorted(woken) == expected
