"""Item state is kept until the last evaluation that covers it (SPEC section 3)."""
from __future__ import annotations

import orjson
import pytest
from scenario import Scenario

from standards.engine import ALERTS
from standards.policy import Policy
from standards.seller import encode
from streams.backfill import backfill_records

S = "s-1"


def test_a_thread_counts_in_the_three_evaluations_that_cover_it_then_leaves_state():
    # Buyer message 2026-01-10T10:00Z, never answered: its 48 h deadline (Jan 12) is
    # attributed to January, so the evaluations of February, March and April cover it.
    # A spam mark on March 15 (weeks after the deadline, before April's E) removes it
    # from April's record only: February's and March's were made before it.
    sc = Scenario().digital_sales(S, 5, "2026-01-05T10:00:00Z").buyer(S, "t", "2026-01-10T10:00:00Z")
    sc.evaluate("2026-02").evaluate("2026-03")
    sc.spam(S, "t", "2026-03-15T00:00:00Z")
    sc.evaluate("2026-04")
    assert [sc.standard(S, "message_response", m)["denominator"] for m in ("2026-02", "2026-03", "2026-04")] == [1, 1, 0]
    # After April's evaluation nothing can cover January again: deadline Jan 12 plus the
    # 7 days of allowed lateness is still January, and January + 3 = April.
    assert "t" not in sc.engine.sellers[S].threads


def test_first_sale_survives_the_expiry_of_its_order():
    # The first sale, 2026-01-05, is kept 400 days (until 2027-02-09), plus 7 days of
    # lateness: February 2027, dropped after the evaluation of May 2027. A sale in
    # May 2027 then makes a June 2027 record whose first_sale_at is still 2026-01-05.
    sc = Scenario().order(S, "first", "2026-01-05T10:00:00Z", digital=True)
    sc.evaluate("2027-05")
    assert sc.engine.sellers[S].item("orders", "first") is None
    sc.order(S, "later", "2027-05-10T10:00:00Z", digital=True).evaluate("2027-06")
    record = sc.record(S, "2027-06")
    assert record["sales"] == {"orders": 1, "amount": "60.00", "first_sale_at": "2026-01-05T10:00:00Z"}
    assert record["star_seller"]["criteria"]["tenure"]["holds"] is True


def test_a_sale_cancelled_after_later_instants_stays_the_first_sale_for_them_after_its_order_left_state():
    # Order "first" placed 2026-01-05, cancelled 2027-07-10. The cancellation
    # arrives early on the orders topic, while the partition clock is still
    # in May 2027; May's evaluation then drops the order (placed + 400 days =
    # 2027-02-09, February + 3 = May) with the cancellation in state.
    # "Not cancelled as of E" (SPEC 6.1): June's E (2027-06-02) and July's
    # (2027-07-02) are before the cancellation, so "first" is their first
    # sale, 2026-01-05, at least 90 days before June 1 and July 1 (tenure
    # holds); August's E (2027-08-02) is after it, so the first sale is
    # "later", 2027-05-10, less than 90 days before August 1 (from May 3).
    sc = Scenario().order(S, "first", "2026-01-05T10:00:00Z", digital=True)
    sc.cancel(S, "first", "2027-07-10T00:00:00Z").order(S, "later", "2027-05-10T10:00:00Z", digital=True)
    sc.evaluate("2027-05")
    assert sc.engine.sellers[S].item("orders", "first") is None
    sc = sc.restarted({})
    for month in ("2027-06", "2027-07", "2027-08"):
        sc.evaluate(month)
    assert [sc.criterion(S, "tenure", month) for month in ("2027-06", "2027-07", "2027-08")] == [
        {"first_sale_at": "2026-01-05T10:00:00Z", "holds": True},
        {"first_sale_at": "2026-01-05T10:00:00Z", "holds": True},
        {"first_sale_at": "2027-05-10T10:00:00Z", "holds": False}]
    # Past the cancellation, once a commit has written that August was made
    # (before, a crash could have June made again), nothing needs the dropped sale.
    assert sc.engine.sellers[S].cancelled_sales != ()
    sc.engine.take_unsaved()
    sc.evaluate("2027-09")
    assert sc.engine.sellers[S].cancelled_sales == ()


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
def test_orders_no_evaluation_counts_are_set_apart_and_come_back_with_their_next_event(restart):
    # "first" (digital, 2026-01-05) and "late" (physical, 2026-01-10, ship-by 2026-01-12, not
    # shipped) are attributed to January: January + 3 = April, so after April's evaluation
    # (and a commit before it) no evaluation still to make counts them, and they are set
    # apart. In April: 5 digital sales (m0-m4, 60.00 each), "late" shipped on the 20th,
    # "first" cancelled on the 25th: each event brings its order back. May's record
    # (February-April) counts the 5 sales (300.00); 6 completed orders (the 5, and "late"
    # in the month of its shipment); no physical order attributed to the period (ship-by
    # January): on-time shipping not applicable; first sale "late", 2026-01-10 ("first" is
    # cancelled as of May 2), 111 days before May 1: tenure holds. A restart after April
    # (every order back among the others) gives the same record, and so does a backfill of
    # the same events (its sellers keep their orders as objects).
    sc = Scenario().order(S, "first", "2026-01-05T10:00:00Z", digital=True)
    sc.order(S, "late", "2026-01-10T10:00:00Z").evaluate("2026-02").evaluate("2026-03")
    changelog = sc.commit()
    sc.evaluate("2026-04")
    seller = sc.engine.sellers[S]
    assert sorted(seller.past_orders) == ["first", "late"] and not seller.orders
    sent_before = []
    if restart:
        sent_before, sc = sc.sent, sc.restarted(changelog)
    sc.digital_sales(S, 5, "2026-04-10T10:00:00Z", prefix="m")
    sc.ship(S, "late", "2026-04-20T10:00:00Z").cancel(S, "first", "2026-04-25T10:00:00Z")
    seller = sc.engine.sellers[S]
    assert {"first", "late"} <= set(seller.orders) and not seller.past_orders
    sc.evaluate("2026-05")
    assert sc.record(S, "2026-05")["sales"] == {"orders": 5, "amount": "300.00",
                                                "first_sale_at": "2026-01-10T10:00:00Z"}
    assert sc.criterion(S, "tenure", "2026-05")["holds"] is True
    assert sc.standard(S, "case_rate", "2026-05")["denominator"] == 6
    assert sc.standard(S, "on_time_shipping", "2026-05")["status"] == "not_applicable"
    backfilled = backfill_records([(topic, 0, raw) for topic, raw in sent_before + sc.sent], sc.policy)[0]
    assert [orjson.loads(record) for record in backfilled][-1] == sc.record(S, "2026-05")


@pytest.mark.parametrize("restart", [False, True], ids=["running", "restarted"])
def test_a_seller_with_only_past_orders_and_ids_is_idle_until_one_is_due(restart):
    # Digital order "d" (2026-01-05) and thread "t" (buyer 2026-01-10, never answered),
    # both January's: after April's evaluation "t" leaves state (its id forgotten at April
    # 2027's, twelve months on) and "d" is set apart (kept 400 days: 2027-02-09, plus 7 days
    # of lateness, February 2027 + 3 = May 2027). Nothing counts for the records of May 2026
    # to March 2027 (none is made) and nothing is due, so none of them goes through the
    # seller's items; April 2027's forgets "t", May 2027's drops "d", whose sale stays the
    # first: a sale on 2027-05-10 makes June 2027's record with first_sale_at 2026-01-05.
    # Restarted after April 2026's: "d" is among the orders again and May's sets it apart;
    # the id of "t" is read from state, and still forgotten at April 2027's.
    sc = Scenario().order(S, "d", "2026-01-05T10:00:00Z", digital=True).buyer(S, "t", "2026-01-10T10:00:00Z")
    sc.evaluate("2026-02").evaluate("2026-03")
    changelog = sc.commit()
    sc.evaluate("2026-04")
    seller = sc.engine.sellers[S]
    assert "threads/t" in seller.gone and list(seller.past_orders) == ["d"] and not seller.orders
    if restart:
        sc = sc.restarted(changelog)
        seller = sc.engine.sellers[S]
        assert "threads/t" in seller.gone and list(seller.orders) == ["d"] and not seller.past_orders
    months = [f"{year}-{month:02d}" for year, month in [(2026, m) for m in range(5, 13)] + [(2027, 1), (2027, 2), (2027, 3)]]
    for month in months:
        sc.evaluate(month)
        assert seller.idle_through(sc.engine.evaluated_through)
    assert not any(sc.record(S, month) for month in months)
    assert "threads/t" in seller.gone and seller.item("orders", "d") is not None
    sc.evaluate("2027-04")
    assert "threads/t" not in seller.gone and seller.item("orders", "d") is not None
    sc.evaluate("2027-05")
    assert seller.item("orders", "d") is None
    sc.order(S, "later", "2027-05-10T10:00:00Z", digital=True).evaluate("2027-06")
    assert sc.record(S, "2027-06")["sales"] == {"orders": 1, "amount": "60.00", "first_sale_at": "2026-01-05T10:00:00Z"}


def test_a_case_closed_again_months_after_its_first_close_moves_to_the_month_of_that_close():
    # Case c on order d0 (digital, 60.00) opened January 6 and closed
    # no_refund January 8 (not counted), then closed refunded_by_seller on
    # May 7: the latest close gives the resolution and the attribution day
    # (SPEC 4), so June's record (period March-May) counts it, against the
    # 5 orders completed in May: 1 case of 5, at most 3 under 300 (met).
    sc = Scenario().digital_sales(S, 5, "2026-01-05T10:00:00Z")
    sc.case_opened(S, "c", "d0", "2026-01-06T10:00:00Z").case_closed(S, "c", "2026-01-08T10:00:00Z", "no_refund")
    for month in ("2026-02", "2026-03", "2026-04", "2026-05"):
        sc.evaluate(month)
    assert sc.standard(S, "case_rate", "2026-02") == {
        "numerator": 0, "denominator": 5, "status": "met", "consecutive_months_not_met": 0}
    sc = sc.restarted({})
    sc.digital_sales(S, 5, "2026-05-05T10:00:00Z", prefix="m").case_closed(S, "c", "2026-05-07T10:00:00Z")
    sc.evaluate("2026-06")
    assert sc.standard(S, "case_rate", "2026-06") == {
        "numerator": 1, "denominator": 5, "status": "met", "consecutive_months_not_met": 0}
    # The case stays 12 months after its latest close (May 7, plus the 7 days
    # of lateness: May): it leaves at the evaluation of May 2027.
    sc.evaluate("2027-04")
    assert "c" in sc.engine.sellers[S].cases
    sc.evaluate("2027-05")
    assert "c" not in sc.engine.sellers[S].cases


def test_an_order_stays_while_a_case_names_it():
    # Order o (digital, 60.00) placed 2026-01-05; case c on it opened 2026-01-06, closed
    # no_refund 2026-04-01, closed again refunded_by_seller 2027-03-10: the latest close
    # attributes it to March 2027 (SPEC 4), and it counts (o known, not protected, not above
    # 250.00, no seller refund). The order's own 400 days end 2027-02-09 (February + 3: May),
    # but the case still reads its total: April's, May's and June's records (periods
    # January-March to March-May) each count 1 case of the 5 orders completed on 2027-03-01,
    # and so does the live card after a restart (period March-May; a review brings it).
    sc = Scenario().order(S, "o", "2026-01-05T10:00:00Z", digital=True)
    sc.case_opened(S, "c", "o", "2026-01-06T10:00:00Z").case_closed(S, "c", "2026-04-01T10:00:00Z", "no_refund")
    sc.digital_sales(S, 5, "2027-03-01T10:00:00Z", prefix="m").heartbeat("2027-03-05T00:00:00Z")
    sc.case_closed(S, "c", "2027-03-10T10:00:00Z")
    sc.evaluate("2027-04").evaluate("2027-05")
    assert sc.engine.sellers[S].item("orders", "o") is not None
    records = {month: sc.standard(S, "case_rate", month) for month in ("2027-04", "2027-05")}
    sc = sc.restarted({})
    sc.review(S, "r", "2027-05-20T10:00:00Z").heartbeat("2027-05-21T00:00:00Z")  # a card after the restart
    assert sc.scorecards[S]["standards"]["case_rate"]["numerator"] == 1
    sc.evaluate("2027-06")
    records["2027-06"] = sc.standard(S, "case_rate", "2027-06")
    assert records == {month: {"numerator": 1, "denominator": 5, "status": "met", "consecutive_months_not_met": 0}
                       for month in ("2027-04", "2027-05", "2027-06")}


def test_an_order_set_apart_stays_while_a_case_opened_later_names_it_then_leaves():
    # Order o (digital, 60.00) placed 2026-01-05 is set apart after April 2026's evaluation
    # (January + 3; a commit before it). Its 400 days end 2027-02-09, plus 7 days of
    # lateness: February 2027 + 3 = May 2027. Case c on o is opened 2027-03-10, before May
    # 2027's E (05-02), and closed refunded_by_seller 2027-05-20: attributed to May 2027, it
    # counts (o known, not protected, not above 250.00, no seller refund): June 2027's record
    # (period March-May) reads 1 case of the 5 orders completed on 2027-03-01. July's period
    # (April-June) holds no sale and no completed order: no record. The case stays until the
    # evaluation of May 2028 (May 2027 + 12), which still finds it naming o; o leaves at
    # June 2028's.
    sc = Scenario().order(S, "o", "2026-01-05T10:00:00Z", digital=True).evaluate("2026-02").evaluate("2026-03")
    sc.engine.take_unsaved()  # a commit
    sc.evaluate("2026-04")
    seller = sc.engine.sellers[S]
    assert list(seller.past_orders) == ["o"]
    before = {
        "2027-04": lambda: sc.digital_sales(S, 5, "2027-03-01T10:00:00Z", prefix="m").case_opened(
            S, "c", "o", "2027-03-10T10:00:00Z"),
        "2027-06": lambda: sc.case_closed(S, "c", "2027-05-20T10:00:00Z"),
    }
    months = [f"{year}-{month:02d}" for year, month in
              [(2026, m) for m in range(5, 13)] + [(2027, m) for m in range(1, 13)] + [(2028, m) for m in range(1, 7)]]
    kept = {}
    for month in months:
        if month in before:
            before[month]()
        sc.evaluate(month)
        kept[month] = seller.item("orders", "o") is not None
    assert sc.standard(S, "case_rate", "2027-06") == {
        "numerator": 1, "denominator": 5, "status": "met", "consecutive_months_not_met": 0}
    assert sc.record(S, "2027-07") is None
    assert [month for month, present in kept.items() if not present] == ["2028-06"]
    assert "c" not in seller.cases


def test_a_case_opened_after_the_instant_that_drops_its_order_does_not_keep_it_whatever_its_arrival():
    # Order o (digital) placed 2026-01-05 leaves state at May 2027's evaluation (400 days:
    # February, + 3). Case c on o is opened 2027-05-10 and closed refunded 2027-05-20, after
    # May's E (05-02), so May's record cannot depend on when they arrive (SPEC 6); neither may
    # June's. Arriving before May's evaluation or after it, the opening does not keep the
    # order (docs/design.md, Expiry: a case opened after its order left state finds none).
    def june_case_rate(case_first: bool) -> dict:
        sc = Scenario().order(S, "o", "2026-01-05T10:00:00Z", digital=True)
        sc.digital_sales(S, 5, "2027-04-05T10:00:00Z", prefix="m").heartbeat("2027-04-20T00:00:00Z")

        def case(sc):
            sc.case_opened(S, "c", "o", "2027-05-10T10:00:00Z").case_closed(S, "c", "2027-05-20T10:00:00Z")
        if case_first:
            case(sc)
        sc.evaluate("2027-05")
        if not case_first:
            case(sc)
        return sc.evaluate("2027-06").standard(S, "case_rate", "2027-06")

    assert june_case_rate(True) == june_case_rate(False) == {
        "numerator": 0, "denominator": 5, "status": "met", "consecutive_months_not_met": 0}


def test_an_item_that_left_state_leaves_its_id_and_later_events_of_it_change_nothing():
    # Thread t: buyer 2026-01-10, answered in 2 h; it leaves state at April's
    # evaluation (its deadline month January + 3). The buyer writes in it again
    # on May 20: a follow-up, never counted (SPEC 4), also after a restart.
    # Review r, posted January 10, leaves with it; its exact duplicate on May 21
    # changes nothing (SPEC 2), nor does an edit to 1 star (its first posting
    # stays in January).
    sc = Scenario().digital_sales(S, 5, "2026-01-05T10:00:00Z").buyer(S, "t", "2026-01-10T10:00:00Z")
    sc.seller_msg(S, "t", "2026-01-10T12:00:00Z").review(S, "r", "2026-01-10T10:00:00Z", event_id="post-r")
    sc.digital_sales(S, 5, "2026-05-05T10:00:00Z", prefix="m").evaluate("2026-04")
    changelog: dict = {}
    sc = sc.restarted(changelog)
    seller = sc.engine.sellers[S]
    assert not seller.threads and not seller.reviews
    assert sorted(seller.gone) == ["reviews/r", "threads/t"]
    sc.buyer(S, "t", "2026-05-20T10:00:00Z").review(S, "r", "2026-01-10T10:00:00Z", event_id="post-r")
    sc.review(S, "r", "2026-05-21T10:00:00Z", rating=1).evaluate("2026-06")
    assert sc.standard(S, "message_response", "2026-06")["denominator"] == 0
    assert sc.standard(S, "review_rating", "2026-06")["denominator"] == 0
    # Twelve months after they left (April 2027's evaluation) the ids go too.
    sc = sc.restarted(changelog)
    sc.evaluate("2027-03")
    assert sorted(sc.engine.sellers[S].gone) == ["reviews/r", "threads/t"]
    sc.evaluate("2027-04")
    records = dict(sc.engine.take_unsaved())
    assert records[encode([0, S, "gone", "threads/t"])] is None
    assert records[encode([0, S, "gone", "reviews/r"])] is None


def test_a_seller_with_nothing_left_leaves_the_state_topic_too_and_a_restart_does_not_bring_it_back():
    # A seller with no sale ever (nothing to remember for tenure): thread t,
    # buyer 2026-01-08T10:00Z answered at 12:00 (deadline January 10), and
    # review r posted January 9 with 2 stars. Both count in the records of
    # February, March and April 2026 (periods holding January), leave state
    # at April's evaluation and their ids at April 2027's, twelve months on:
    # the seller then holds nothing, and the commit deletes every key it had
    # on the compacted state topic (its header too), or a restart would load
    # it again.
    sc = Scenario().buyer(S, "t", "2026-01-08T10:00:00Z").seller_msg(S, "t", "2026-01-08T12:00:00Z")
    sc.review(S, "r", "2026-01-09T10:00:00Z", rating=2)
    changelog: dict = {}

    def kept_keys() -> list:
        return sorted(key[2:] for key, value in changelog.items() if key[1:2] == (S,) and value is not None)

    for month in ("2026-02", "2026-03", "2026-04", "2026-05", "2027-03"):
        sc.evaluate(month).commit(changelog)
    assert sorted(month for seller, month in sc.evaluations if seller == S) == ["2026-02", "2026-03", "2026-04"]
    assert S in sc.engine.sellers
    assert kept_keys() == [(), ("gone", "reviews/r"), ("gone", "threads/t")]
    sc.evaluate("2027-04").commit(changelog)
    assert S not in sc.engine.sellers
    assert kept_keys() == []
    restarted = sc.restarted(changelog)
    assert S not in restarted.engine.sellers
    # Its next event starts it anew, the same with or without the restart: a
    # thread never answered, its 48 h deadline May 5, counted (missed) in June
    # 2027's record; no sale in March-May, so every status is not_enough_data.
    for scenario in (sc, restarted):
        scenario.buyer(S, "t2", "2027-05-03T10:00:00Z").evaluate("2027-06")
    assert restarted.record(S, "2027-06") == sc.record(S, "2027-06")
    assert sc.standard(S, "message_response", "2027-06") == {
        "numerator": 0, "denominator": 1, "status": "not_enough_data", "consecutive_months_not_met": 0}


def test_a_case_not_closed_stays_a_year_for_its_close():
    # Opened 2026-01-20 on a 60.00 order, closed refunded by the seller on
    # 2026-06-25: counted in July's evaluation (June is in its period), as
    # SPEC 4 attributes a case to the day it was closed.
    sc = Scenario().digital_sales(S, 5, "2026-06-05T10:00:00Z").order(S, "o", "2026-01-10T10:00:00Z", digital=True)
    sc.case_opened(S, "c", "o", "2026-01-20T10:00:00Z").evaluate("2026-06")
    assert "c" in sc.engine.sellers[S].cases
    sc.case_closed(S, "c", "2026-06-25T10:00:00Z").evaluate("2026-07")
    assert sc.standard(S, "case_rate", "2026-07")["numerator"] == 1


@pytest.mark.parametrize("policy", [
    Policy(),
    # the longest windows and lateness a policy may set (ten years), in a zone east of UTC
    Policy(time_zone="Pacific/Kiritimati", allowed_lateness_hours=87_840,
           message_response={"window_hours": 87_840}, alerts={"response_lead_hours": 87_840}),
], ids=["default", "ten-year-windows-in-a-zone"])
def test_items_of_the_last_valid_year_whose_horizons_pass_year_9999_are_kept_and_evaluations_go_on(policy):
    # SPEC 2: a UTC year up to 9998 is valid. An order placed 9998-12-01 is kept
    # 400 days plus the lateness, into year 10000 or beyond, and a thread whose
    # first buyer message comes on the last valid instant has its deadline there
    # too with a ten-year window. Both come after the evaluation instants of
    # 2026-02 and 2026-03 (February 2 and March 2, 00:00 local), so neither
    # record counts them: each holds the five digital sales of January 5
    # (5 x 60.00 = 300.00).
    sc = Scenario(policy).digital_sales(S, 5, "2026-01-05T10:00:00Z")
    sc.order(S, "far", "9998-12-01T00:00:00Z").buyer(S, "far-t", "9998-12-31T23:59:59.999999Z")
    sc.evaluate("2026-02").evaluate("2026-03")
    for month in ("2026-02", "2026-03"):
        assert sc.record(S, month)["sales"] == {"orders": 5, "amount": "300.00",
                                                "first_sale_at": "2026-01-05T10:00:00Z"}
        assert sc.standard(S, "message_response", month)["denominator"] == 0
    assert sc.engine.sellers[S].item("orders", "far") is not None and "far-t" in sc.engine.sellers[S].threads


def test_an_alert_on_a_deadline_past_year_9999_names_it():
    # A ten-year window and lead (87,840 h = 3,660 days): the thread of the last
    # valid instant has its deadline 3,660 days later, 10009-01-07 (10000, 10004
    # and 10008 are leap years), and is warned about once the clock reaches it.
    policy = Policy(message_response={"window_hours": 87_840}, alerts={"response_lead_hours": 87_840},
                    star_seller={"response_window_hours": 87_840})
    last = "9998-12-31T23:59:59.999999Z"
    sc = Scenario(policy).heartbeat("9998-12-01T00:00:00Z").buyer(S, "t", last)
    alerts = sc.made(ALERTS, lambda: sc.heartbeat(last))
    assert [(a["deadline"], a["time_left_seconds"], a["as_of"]) for a in alerts] == [
        ("10009-01-07T23:59:59.999999Z", 3_660 * 86_400, last)]


def _cut_at_every_record(sc: Scenario, months: tuple[str, ...], made_before, arriving=lambda sc: None) -> None:
    """Evaluate `months` in one commit, after the events `arriving` sends,
    and cut it short after each of its records: the restart reads the input
    again from the commit before, and a record of those months made again
    must be the one sent (SPEC 6: a crash changes nothing). `made_before`
    checks the records sent."""
    committed = [(tuple(orjson.loads(key)), value) for key, value in sc.engine.take_unsaved()]
    read_again_from = len(sc.sent)
    arriving(sc)
    for month in months:
        sc.evaluate(month)
    sent = {month: sc.record(S, month) for month in months}
    made_before(sent)
    writes = [(tuple(orjson.loads(key)), value) for key, value in sc.engine.take_unsaved()]
    for cut in range(len(writes) + 1):
        again = Scenario()
        again.engine.restore(dict(committed + writes[:cut]))
        for topic, raw in sc.sent[read_again_from:]:
            again.feed(topic, raw)
        again._collect(again.engine.catch_up())
        for month in months:  # None: the partition's record said it was made
            assert again.record(S, month) in (None, sent[month]), (cut, month)


def test_a_commit_cut_short_at_any_record_gives_the_same_evaluation_when_the_month_is_made_again():
    # A thread answered in 1 h (2025-09-05) and 5 digital sales (2025-10-10): December's record
    # (E 2025-12-02) counts it, 1 of 1 answered, then expiry drops it (September + 3 is
    # December), in the commit that is cut short.
    sc = Scenario().buyer(S, "t1", "2025-09-05T00:00:00Z").seller_msg(S, "t1", "2025-09-05T01:00:00Z")
    sc.digital_sales(S, 5, "2025-10-10T00:00:00Z").heartbeat("2025-11-15T00:00:00Z")

    def made_before(sent):
        assert sent["2025-12"]["standards"]["message_response"]["numerator"] == 1
        assert "t1" not in sc.engine.sellers[S].threads  # dropped by expiry in this commit

    _cut_at_every_record(sc, ("2025-12",), made_before)


def test_a_commit_cut_short_keeps_an_item_that_came_and_left_in_it():
    # As above, but the thread (2025-09-05, answered in 1 h) arrives after the commit before,
    # late and before December's E: it is counted (1 of 1, met) and dropped in the commit
    # that is cut short, which never wrote it. Its id noted gone must not be written before
    # the partition's record: December made again would find no thread, and its events,
    # read again, would change nothing (a gone id).
    sc = Scenario().digital_sales(S, 5, "2025-10-10T00:00:00Z").heartbeat("2025-11-15T00:00:00Z")

    def arriving(sc):
        sc.buyer(S, "t1", "2025-09-05T00:00:00Z").seller_msg(S, "t1", "2025-09-05T01:00:00Z")

    def made_before(sent):
        assert sent["2025-12"]["standards"]["message_response"] == {
            "numerator": 1, "denominator": 1, "status": "met", "consecutive_months_not_met": 0}
        assert "threads/t1" in sc.engine.sellers[S].gone

    _cut_at_every_record(sc, ("2025-12",), made_before, arriving)


def test_a_commit_of_two_months_cut_short_keeps_a_dropped_sale_for_both():
    # As in the test of a sale cancelled after later instants: "first" (2026-01-05, cancelled
    # 2027-06-20, the cancellation arriving early) left state at May 2027's evaluation. June's
    # E (2027-06-02) is before the cancellation: first_sale_at 2026-01-05, tenure holds; July's
    # (2027-07-02) is after it: "later", 2027-04-10, less than 90 days before July 1 (from
    # April 2). One commit makes both (a backlog), and is cut short: each made again says the same.
    sc = Scenario().order(S, "first", "2026-01-05T10:00:00Z", digital=True)
    sc.cancel(S, "first", "2027-06-20T00:00:00Z").order(S, "later", "2027-04-10T10:00:00Z", digital=True)
    sc.evaluate("2027-05")
    assert sc.engine.sellers[S].item("orders", "first") is None

    def made_before(sent):
        assert [sent[m]["star_seller"]["criteria"]["tenure"] for m in ("2027-06", "2027-07")] == [
            {"first_sale_at": "2026-01-05T10:00:00Z", "holds": True},
            {"first_sale_at": "2027-04-10T10:00:00Z", "holds": False}]

    _cut_at_every_record(sc, ("2027-06", "2027-07"), made_before)


def test_a_commit_of_two_months_cut_short_keeps_the_runs_of_months_not_met():
    # Each month of January-June 2027: 5 digital sales and 5 one-star reviews. Every record
    # from February counts 5 to 15 low reviews of at most 4 allowed under 40 (SPEC 1): not
    # met, so the run is 1 in February ... 5 in June, 6 in July. One commit makes June and
    # July and is cut short: June made again must read May's run, not start again at 1.
    sc = Scenario()
    for month in ("2027-01", "2027-02", "2027-03", "2027-04", "2027-05", "2027-06"):
        sc.digital_sales(S, 5, f"{month}-05T10:00:00Z", prefix=f"d{month}-")
        for i in range(5):
            sc.review(S, f"r{month}-{i}", f"{month}-06T10:00:00Z", rating=1)
    sc.evaluate("2027-05")

    def made_before(sent):
        assert [(sent[m]["standards"]["review_rating"]["status"],
                 sent[m]["standards"]["review_rating"]["consecutive_months_not_met"])
                for m in ("2027-06", "2027-07")] == [("not_met", 5), ("not_met", 6)]

    _cut_at_every_record(sc, ("2027-06", "2027-07"), made_before)
