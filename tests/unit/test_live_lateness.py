"""SPEC 3: a late event corrects the live scorecard "up to the policy's
allowed_lateness (default 7 days) after the deadline"; the monthly
evaluation, as of its instant, takes every event before it."""
from __future__ import annotations

import orjson
from scenario import Scenario

from schemas.validate import parse_timestamp

S = "s-1"


def card_numbers(sc: Scenario) -> dict:
    card = sc.scorecards[S]
    numbers = {name: (card["standards"][name]["numerator"], card["standards"][name]["denominator"])
               for name in ("message_response", "on_time_shipping")}
    for name in ("message_response", "shipping"):
        criterion = card["star_seller"]["criteria"][name]
        numbers["star_" + name] = (criterion["numerator"], criterion["denominator"])
    return numbers


def recount(sc: Scenario) -> Scenario:
    sc._collect(sc.engine.refresh())
    return sc


def restored(sc: Scenario) -> Scenario:
    """A restart from everything the scenario's engine wrote, every card recounted."""
    again = sc.restarted({})
    again.engine.changed.update(again.engine.sellers)
    return recount(again)


def test_a_reply_corrects_the_live_card_up_to_allowed_lateness_after_each_deadline():
    # Buyer message 2026-01-05T00:00Z: deadlines 01-06T00:00 (24 h, Star Seller)
    # and 01-07T00:00 (48 h). The clock reaches 01-14T00:00: 8 days past the first,
    # exactly 7 past the second. The reply, dated 01-05T12:00 (before both), comes
    # then: it still corrects the 48 h outcome, not the 24 h one.
    sc = Scenario().digital_sales(S, 5, "2026-01-02T00:00:00Z").buyer(S, "t", "2026-01-05T00:00:00Z")
    sc.heartbeat("2026-01-14T00:00:00Z")
    assert card_numbers(sc)["message_response"] == (0, 1) and card_numbers(sc)["star_message_response"] == (0, 1)
    recount(sc.seller_msg(S, "t", "2026-01-05T12:00:00Z"))
    assert card_numbers(sc)["message_response"] == (1, 1)
    assert card_numbers(sc)["star_message_response"] == (0, 1)
    assert sc.engine.proofs_past_lateness == {"threads": 1}  # the 24 h deadline, counted
    # after a restart too, and as the clock moves on
    sc = restored(sc)
    assert card_numbers(sc)["message_response"] == (1, 1) and card_numbers(sc)["star_message_response"] == (0, 1)
    # February's evaluation (E = 02-02T00:00Z) takes every event before E: answered for both.
    sc.evaluate("2026-02")
    assert sc.standard(S, "message_response", "2026-02")["numerator"] == 1
    assert sc.criterion(S, "message_response", "2026-02") == {"numerator": 1, "denominator": 1, "holds": True}


def test_a_shipment_corrects_the_live_card_up_to_allowed_lateness_after_ship_by():
    # Two physical orders placed 2026-01-03, ship-by 01-05T00:00Z, both late once
    # the clock passes it. o1's shipment (01-04T12:00Z, tracked) comes at clock
    # 01-12T00:00Z, exactly 7 days after ship-by: on time. o2's, the same, comes
    # 1 us later: it stays late on the live card (on time 1 of 2, tracked 1 of 2).
    sc = Scenario().digital_sales(S, 5, "2026-01-02T00:00:00Z")
    for order in ("o1", "o2"):
        sc.order(S, order, "2026-01-03T00:00:00Z", ship_by="2026-01-05T00:00:00Z")
    sc.heartbeat("2026-01-12T00:00:00Z")
    assert card_numbers(sc)["on_time_shipping"] == (0, 2)
    sc.ship(S, "o1", "2026-01-04T12:00:00Z").heartbeat("2026-01-12T00:00:00.000001Z")
    assert sc.engine.proofs_past_lateness == {}  # o1's came in time to correct the card
    recount(sc.ship(S, "o2", "2026-01-04T12:00:00Z"))
    assert card_numbers(sc)["on_time_shipping"] == (1, 2) and card_numbers(sc)["star_shipping"] == (1, 2)
    assert sc.engine.proofs_past_lateness == {"orders": 1}
    assert card_numbers(restored(sc))["on_time_shipping"] == (1, 2)
    # February's evaluation: both on time and tracked.
    sc.evaluate("2026-02")
    assert sc.standard(S, "on_time_shipping", "2026-02")["numerator"] == 2
    assert sc.criterion(S, "shipping", "2026-02") == {"numerator": 2, "denominator": 2, "holds": True}


def test_a_late_proof_of_a_thread_marked_spam_counts_missed_once_unmarked():
    # Judged on the thread's messages whether it counts then or not: the reply
    # comes 8 days after the 48 h deadline while the thread is marked spam
    # (not counted); unmarked later, it counts as missed on the live card.
    sc = Scenario().digital_sales(S, 5, "2026-01-02T00:00:00Z").buyer(S, "t", "2026-01-05T00:00:00Z")
    sc.spam(S, "t", "2026-01-05T01:00:00Z").heartbeat("2026-01-15T00:00:00Z")
    sc.seller_msg(S, "t", "2026-01-05T12:00:00Z").spam(S, "t", "2026-01-15T00:00:00Z", marked=False)
    recount(sc)
    assert card_numbers(sc)["message_response"] == (0, 1)
    assert sc.engine.proofs_past_lateness == {"threads": 2}  # both windows' deadlines, 8 and 9 days before


def test_a_deadline_left_missed_stays_counted_when_a_restart_brings_back_an_earlier_clock():
    # The reply comes at clock 01-13T12:00, 7.5 days after the 24 h deadline (01-06T00:00):
    # that window stays missed, 0 of 1. The commit after it is cut short: the items are
    # written, the partition's clocks record is not, so the restart comes back at the
    # commit before (01-05T01:00, before either deadline) and reads the input again.
    sc = Scenario().digital_sales(S, 5, "2026-01-02T00:00:00Z").buyer(S, "t", "2026-01-05T00:00:00Z")
    sc.heartbeat("2026-01-05T01:00:00Z")
    changelog = sc.commit()
    read_again_from = len(sc.sent)
    sc.heartbeat("2026-01-13T12:00:00Z")
    recount(sc.seller_msg(S, "t", "2026-01-05T12:00:00Z"))
    assert card_numbers(sc)["star_message_response"] == (0, 1)
    records = sc.engine.take_unsaved()
    assert orjson.loads(records[-1][0]) == [0]  # the partition's clocks, written last
    changelog.update((tuple(orjson.loads(key)), value) for key, value in records[:-1])
    again = Scenario()
    again.engine.restore(changelog)
    assert again.engine.clock == parse_timestamp("2026-01-05T01:00:00Z")
    for topic, raw in sc.sent[read_again_from:]:
        again.feed(topic, raw)
    again.engine.changed.update(again.engine.sellers)
    assert card_numbers(recount(again))["star_message_response"] == (0, 1)


def test_a_deadline_moved_onto_the_other_windows_missed_one_is_judged_on_its_own():
    # Buyer message 01-05T00:00, the reply (01-05T12:00) at clock 01-13T12:00: the 24 h
    # deadline 01-06T00:00 stays missed, the 48 h one (01-07T00:00, 6.5 days past) is
    # answered. An earlier buyer message, 01-04T00:00, moves the 48 h deadline to
    # 01-06T00:00, the instant the 24 h window was left missed at: the reply is before it,
    # so the 48 h window stays answered (a moved deadline has its own proofs). The 24 h
    # deadline is now 01-05T00:00, before the reply: missed by the rule itself.
    sc = Scenario().digital_sales(S, 5, "2026-01-02T00:00:00Z").buyer(S, "t", "2026-01-05T00:00:00Z")
    sc.heartbeat("2026-01-13T12:00:00Z")
    recount(sc.seller_msg(S, "t", "2026-01-05T12:00:00Z"))
    assert card_numbers(sc)["message_response"] == (1, 1) and card_numbers(sc)["star_message_response"] == (0, 1)
    recount(sc.buyer(S, "t", "2026-01-04T00:00:00Z"))
    assert card_numbers(sc)["message_response"] == (1, 1) and card_numbers(sc)["star_message_response"] == (0, 1)
