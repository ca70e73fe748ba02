"""The monthly evaluation (SPEC sections 3 and 6.1): the whole record, when it
is made, which events it uses, which sellers get one, and the run of months
not met."""
import copy

from scenario import Scenario
from standards.policy import Policy
from streams.topics import INPUT_TOPICS

S = "s-42"


def whole_record_events(sc: Scenario) -> Scenario:
    # First sale: 2025-12-15T08:30:00.250+02:00 = 2025-12-15T06:30:00.25Z, before the period.
    sc.order(S, "o-dec", "2025-12-15T08:30:00.250+02:00", total="20.00", digital=True)
    for i, total in enumerate(["60.00", "60.00", "60.00", "60.00", "45.5", "100.25"], 1):
        sc.order(S, f"o{i}", "2026-02-02T10:00:00Z", total=total, ship_by="2026-02-05T23:59:59Z")
    for i in range(1, 5):
        sc.ship(S, f"o{i}", "2026-02-03T09:00:00Z", tracking="TRK")
    sc.ship(S, "o5", "2026-02-04T09:00:00Z", tracking=None)  # on time, no tracking
    sc.ship(S, "o6", "2026-02-06T09:00:00Z", tracking="TRK")  # late
    for t in ("t1", "t2", "t3"):
        sc.buyer(S, t, "2026-03-10T12:00:00Z")
    sc.seller_msg(S, "t1", "2026-03-10T13:00:00Z")  # 1 h: answered at 48 h and 24 h
    sc.seller_msg(S, "t2", "2026-03-11T18:00:00Z")  # 30 h: answered at 48 h only
    for r, rating in enumerate([5, 5, 5, 5, 4], 1):
        sc.review(S, f"r{r}", "2026-03-15T10:00:00Z", rating)
    return sc


# Sales in Jan-Mar: o1..o6 = 4 * 60.00 + 45.50 + 100.25 = 385.75.
# Shipping: ship-by in February for o1..o6; on time o1..o5 (5 of 6: 500 >= 480, met),
# with tracking o1..o4 (4 of 6: 400 < 570). Completed: o1..o6 shipped in February.
# Threads: 48 h 2 of 3 (200 < 240: not met; March had no thread: a run of 1);
# 24 h 1 of 3. Reviews: 0 low of 5; sum 24, 10 * 24 = 240 >= 48 * 5 = 240: holds.
WHOLE_RECORD = {
    "seller_id": "s-42",
    "month": "2026-04",
    "period": {"start": "2026-01-01", "end": "2026-03-31"},
    "policy": "service-standards",
    "sales": {"orders": 6, "amount": "385.75", "first_sale_at": "2025-12-15T06:30:00.25Z"},
    "standards": {
        "message_response": {"numerator": 2, "denominator": 3, "status": "not_met", "consecutive_months_not_met": 1},
        "on_time_shipping": {"numerator": 5, "denominator": 6, "status": "met", "consecutive_months_not_met": 0},
        "review_rating": {"numerator": 0, "denominator": 5, "status": "met", "consecutive_months_not_met": 0},
        "case_rate": {"numerator": 0, "denominator": 6, "status": "met", "consecutive_months_not_met": 0},
    },
    "star_seller": {
        "eligible": False,
        "criteria": {
            "message_response": {"numerator": 1, "denominator": 3, "holds": False},
            "shipping": {"numerator": 4, "denominator": 6, "holds": False},
            "reviews": {"rating_sum": 24, "count": 5, "holds": True},
            "case_rate": {"holds": True},
            "volume": {"orders": 6, "amount": "385.75", "holds": True},
            "tenure": {"first_sale_at": "2025-12-15T06:30:00.25Z", "holds": True},
        },
    },
    "badges": ["rave_reviews"],
}


def test_whole_record():
    sc = whole_record_events(Scenario()).evaluate("2026-04")
    assert sc.record(S) == WHOLE_RECORD
    march = sc.record(S, "2026-03")
    assert march["period"] == {"start": "2025-12-01", "end": "2026-02-28"}
    # o-dec + o1..o6: 20.00 + 385.75
    assert march["sales"] == {"orders": 7, "amount": "405.75", "first_sale_at": "2025-12-15T06:30:00.25Z"}
    assert sorted(month for seller, month in sc.evaluations) == ["2026-01", "2026-02", "2026-03", "2026-04"]


def test_whole_record_under_a_policy_of_other_numbers():
    """SPEC 1: every number is a policy parameter. The events of the whole
    record, judged by other numbers, worked out by hand below."""
    policy = Policy(
        name="custom", min_sales_for_data=6, evaluation_delay_hours=6,
        message_response={"window_hours": 36, "min_percent": 60}, on_time_shipping={"min_percent": 90},
        review_rating={"low_rating_at_most": 4, "percent_regime_from_reviews": 5, "max_low_percent": 20},
        case_rate={"percent_regime_from_orders": 6},
        star_seller={"response_window_hours": 12, "min_response_percent": 30, "min_shipping_percent": 60,
                     "min_average_rating": "4.9", "min_orders": 6, "min_sales": "385.75", "min_tenure_days": 120})
    sc = whole_record_events(Scenario(policy)).evaluate("2026-04")  # E: April 1, 06:00
    # Threads (buyer March 10 12:00; answers after 1 h and 30 h, one none): at 36 h 2 of 3,
    # 200 >= 60 * 3 = 180: met; at 12 h 1 of 3, 100 >= 30 * 3 = 90: holds.
    # Shipping 5 of 6 on time, 500 < 90 * 6 = 540: not met, as in March's record (Dec-Feb,
    # 7 sales >= 6): a run of 2; February's (Nov-Jan) had 1 sale: not_enough_data.
    # With tracking 4 of 6, 400 >= 60 * 6 = 360: holds.
    # Reviews 5, 5, 5, 5, 4: low at <= 4 is 1 of 5, percent regime from 5, 100 * 1 <= 20 * 5: met;
    # average 24 / 5 = 4.8, 10 * 24 = 240 < 49 * 5 = 245: does not hold.
    # Cases 0 of 6 completed (percent regime from 6): met. Volume 6 orders >= 6, 385.75 >= 385.75.
    # Tenure: 2025-12-15T06:30 is after 2026-04-01 - 120 days = 2025-12-02: does not hold.
    expected = copy.deepcopy(WHOLE_RECORD)  # the same numbers but for the low reviews, judged otherwise
    expected["policy"] = "custom"
    standards, criteria = expected["standards"], expected["star_seller"]["criteria"]
    standards["message_response"].update(status="met", consecutive_months_not_met=0)
    standards["on_time_shipping"].update(status="not_met", consecutive_months_not_met=2)
    standards["review_rating"].update(numerator=1)
    criteria["message_response"]["holds"] = criteria["shipping"]["holds"] = True
    criteria["reviews"]["holds"] = criteria["tenure"]["holds"] = False
    expected["badges"] = ["speedy_replies", "smooth_shipping"]
    assert sc.record(S) == expected
    assert sc.standard(S, "on_time_shipping", "2026-02")["status"] == "not_enough_data"


def test_whole_record_whatever_the_arrival_order_and_duplicates():
    events = whole_record_events(Scenario()).sent
    sc = Scenario()
    for topic, raw in reversed(events + events):  # reversed, every event delivered twice
        sc.feed(topic, raw)
    sc.evaluate("2026-04")
    assert sc.record(S) == WHOLE_RECORD


def test_made_when_the_clock_reaches_e_and_uses_only_events_before_e():
    E, JUST_BEFORE = "2026-04-02T00:00:00Z", "2026-04-01T23:59:59.999999Z"
    sc = Scenario().digital_sales(S, 6, "2026-02-01T10:00:00Z")  # d0..d5, 60.00 each
    sc.review(S, "r1", "2026-03-10T10:00:00Z", 5).review(S, "r2", "2026-03-11T10:00:00Z", 5)
    sc.heartbeat("2026-04-01T12:00:00Z")
    # These arrive while the partition clock is still before E:
    sc.review(S, "r1", E, 1)  # at E: not part of the evaluation
    sc.review(S, "r2", JUST_BEFORE, 2)  # 1 us before E: part of it
    sc.cancel(S, "d0", E)  # still a sale
    sc.cancel(S, "d1", JUST_BEFORE)  # no longer a sale
    sc.heartbeat(JUST_BEFORE)
    assert sc.record(S) is None
    sc.heartbeat(E, topics=INPUT_TOPICS[:4])  # one topic still holds the clock back
    assert sc.record(S) is None
    sc.heartbeat(E, topics=INPUT_TOPICS[4:])
    record = sc.record(S)
    assert record["sales"]["orders"] == 5 and record["sales"]["amount"] == "300.00"  # d0, d2..d5
    assert record["standards"]["review_rating"]["numerator"] == 1  # r2 rated 2
    assert record["star_seller"]["criteria"]["reviews"] == {"rating_sum": 7, "count": 2, "holds": False}  # 5 + 2


def test_no_record_for_a_seller_with_only_a_counted_case():
    sc = Scenario()
    for seller in ("s-case", "s-case-and-review"):
        # sold (and completed) in September 2025, outside Jan-Mar 2026
        sc.order(seller, "o1", "2025-09-01T10:00:00Z", digital=True)
        sc.case_opened(seller, "c1", "o1", "2026-02-01T00:00:00Z")
        sc.case_closed(seller, "c1", "2026-02-10T00:00:00Z")
    sc.review("s-case-and-review", "r1", "2026-02-15T00:00:00Z", 5)
    sc.evaluate("2026-04")
    assert sc.record("s-case") is None
    # the case does count: the review gives a record that shows it
    assert sc.standard("s-case-and-review", "case_rate") == {
        "numerator": 1, "denominator": 0, "status": "not_enough_data", "consecutive_months_not_met": 0}


def test_consecutive_months_not_met_and_reset_by_a_month_without_record():
    sc = Scenario()
    # January: 5 sales and one unanswered thread -> records for Feb, Mar, Apr (periods
    # Nov-Jan, Dec-Feb, Jan-Mar), all not met; May and June have no record.
    sc.digital_sales(S, 5, "2026-01-15T10:00:00Z", prefix="jan")
    sc.buyer(S, "t-jan", "2026-01-10T10:00:00Z")
    sc.evaluate("2026-05")
    # June: the same again -> records for Jul, Aug, Sep; the run restarts at 1.
    sc.digital_sales(S, 5, "2026-06-15T10:00:00Z", prefix="jun")
    sc.buyer(S, "t-jun", "2026-06-10T10:00:00Z")
    sc.evaluate("2026-09")
    runs = {month: r["standards"]["message_response"]["consecutive_months_not_met"]
            for (seller, month), r in sc.evaluations.items()}
    assert runs == {"2026-02": 1, "2026-03": 2, "2026-04": 3, "2026-07": 1, "2026-08": 2, "2026-09": 3}
    # the other standards are not_applicable or met: never a run
    assert {r["standards"]["case_rate"]["consecutive_months_not_met"] for r in sc.evaluations.values()} == {0}


def test_a_clock_that_jumps_years_ahead_gives_the_records_of_every_month_whose_period_holds_something():
    """Months are evaluated up to three after the latest an item could be
    attributed to (a thread's deadline day, a first shipment's day), not
    one by one up to the clock; the records are those of each month."""
    sc = Scenario()
    # S1: an unanswered thread of January 31, 23:00; its deadlines (24 h and 48 h) are in February.
    sc.buyer("s1", "t1", "2026-01-31T23:00:00Z")
    # S2: an order placed in January, ship-by January 8, shipped (late) on June 10: a sale and a late
    # order in January, a completed order in June.
    sc.order("s2", "o1", "2026-01-05T10:00:00Z", ship_by="2026-01-08T10:00:00Z")
    sc.ship("s2", "o1", "2026-06-10T09:00:00Z")
    sc.heartbeat("2031-01-01T00:00:00Z")
    assert sorted(sc.evaluations) == [
        ("s1", "2026-03"), ("s1", "2026-04"), ("s1", "2026-05"),  # periods holding February
        ("s2", "2026-02"), ("s2", "2026-03"), ("s2", "2026-04"),  # ... January
        ("s2", "2026-07"), ("s2", "2026-08"), ("s2", "2026-09"),  # ... June
    ]
    # Fewer than 5 sales: not_enough_data, with the numbers counted.
    may = sc.record("s1", "2026-05")
    assert may["period"] == {"start": "2026-02-01", "end": "2026-04-30"}
    assert may["standards"]["message_response"] == {
        "numerator": 0, "denominator": 1, "status": "not_enough_data", "consecutive_months_not_met": 0}
    april = sc.record("s2", "2026-04")
    assert april["sales"] == {"orders": 1, "amount": "60.00", "first_sale_at": "2026-01-05T10:00:00Z"}
    assert april["standards"]["on_time_shipping"]["numerator"] == 0
    assert april["standards"]["on_time_shipping"]["denominator"] == 1
    assert april["standards"]["case_rate"]["denominator"] == 0  # shipped in June: not completed in Jan-Mar
    september = sc.record("s2", "2026-09")
    assert september["sales"] == {"orders": 0, "amount": "0.00", "first_sale_at": "2026-01-05T10:00:00Z"}
    assert september["standards"]["case_rate"]["denominator"] == 1
    assert september["standards"]["on_time_shipping"]["denominator"] == 0


def test_events_dated_before_the_instant_of_the_last_month_evaluated_are_counted_as_after_it():
    """SPEC 6: an event that arrives after its partition clock passed the
    evaluation instant it would change is not in that evaluation. The worker
    counts such events (seller_standards_events_after_evaluation_total)."""
    sc = Scenario()
    sc.heartbeat("2026-02-01T12:00:00Z")  # the last instant reached: January's, 2026-01-02T00:00Z
    sc.order(S, "o1", "2026-01-01T23:59:59.999999Z")  # before it
    sc.order(S, "o2", "2026-01-02T00:00:00Z")  # at it: not before
    sc.heartbeat("2025-12-01T00:00:00Z")  # a heartbeat is no event of a seller
    assert sc.engine.events_after_evaluation == 1
    sc.heartbeat("2026-02-02T00:00:00Z")  # February's instant
    sc.ship(S, "o2", "2026-02-01T23:59:59Z")
    sc.buyer(S, "t1", "2026-01-20T10:00:00Z")
    sc.review(S, "r1", "2026-02-02T00:00:01Z")
    assert sc.engine.events_after_evaluation == 3
    # restored, the partition knows the month it evaluated last
    again = sc.restarted({})
    again.cancel(S, "o1", "2026-02-01T00:00:00Z")
    again.cancel(S, "o2", "2026-02-02T00:00:00Z")
    assert again.engine.events_after_evaluation == 1
