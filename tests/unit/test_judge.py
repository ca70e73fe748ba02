"""Judging (SPEC sections 1 and 5): thresholds at their exact boundaries, in
integers; statuses; Star Seller criteria; per-area badges."""
import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import standards.judge as judge_module
from schemas.validate import parse_timestamp
from scenario import Scenario, plus_days
from standards.judge import (Criterion, area_badges, evaluation_standards, judge_standards, quality_card,
                             quality_criteria, scorecard_standards, shown_rate, tenure_holds, volume_holds)
from standards.numbers import Numbers
from standards.policy import Policy


def judge_star_seller(n: Numbers, tenure_cutoff: int, policy: Policy) -> dict[str, Criterion]:
    """The six Star Seller criteria, as the records combine them (quality
    criteria, volume, tenure); tenure_cutoff is the first instant of the
    evaluated month: the first sale must be at least min_tenure before it."""
    return {
        **quality_criteria(n, policy),
        "volume": Criterion({"orders": n.sales_orders, "amount": n.sales_cents}, volume_holds(n, policy)),
        "tenure": Criterion({"first_sale_at": n.first_sale_at}, tenure_holds(n, tenure_cutoff, policy)),
    }

POLICY = Policy()
CUTOFF = parse_timestamp("2026-04-01T00:00:00Z")  # first instant of the evaluated month
# 90 days before 2026-04-01: 31 (March) + 28 (February) + 31 (January) days
NINETY_DAYS_BEFORE = parse_timestamp("2026-01-01T00:00:00Z")


def numbers(sales=5, **kw) -> Numbers:
    return Numbers(sales_orders=sales, **kw)


# (numbers, standard, expected status)
STANDARDS = {
    "response 8/10 = 80 %": (dict(answered=[8, 0], threads=[10, 0]), "message_response", "met"),
    "response 19/24 = 79.16 %": (dict(answered=[19, 0], threads=[24, 0]), "message_response", "not_met"),
    "shipping 8/10 = 80 %": (dict(orders_on_time=8, orders_counted=10), "on_time_shipping", "met"),
    "shipping 159/200 = 79.5 %": (dict(orders_on_time=159, orders_counted=200), "on_time_shipping", "not_met"),
    "4 low of 39": (dict(reviews_low=4, reviews=39), "review_rating", "met"),
    "5 low of 39": (dict(reviews_low=5, reviews=39), "review_rating", "not_met"),
    "4 low of 40 = 10 %": (dict(reviews_low=4, reviews=40), "review_rating", "met"),
    "5 low of 40 = 12.5 %": (dict(reviews_low=5, reviews=40), "review_rating", "not_met"),
    "5 low of 50 = 10 %": (dict(reviews_low=5, reviews=50), "review_rating", "met"),
    "3 cases of 10": (dict(cases=3, completed_orders=10), "case_rate", "met"),
    "4 cases of 10": (dict(cases=4, completed_orders=10), "case_rate", "not_met"),
    "3 cases of 299": (dict(cases=3, completed_orders=299), "case_rate", "met"),
    "4 cases of 299": (dict(cases=4, completed_orders=299), "case_rate", "not_met"),
    "3 cases of 300 = 1 %": (dict(cases=3, completed_orders=300), "case_rate", "met"),
    "4 cases of 300 = 1.33 %": (dict(cases=4, completed_orders=300), "case_rate", "not_met"),
    "4 cases of 400 = 1 %": (dict(cases=4, completed_orders=400), "case_rate", "met"),
    "no threads": (dict(), "message_response", "not_applicable"),
    "no counted orders": (dict(), "on_time_shipping", "not_applicable"),
    "no reviews": (dict(), "review_rating", "not_applicable"),
    "no completed orders, even with a case": (dict(cases=1), "case_rate", "not_applicable"),
}


@pytest.mark.parametrize("fields, name, status", STANDARDS.values(), ids=STANDARDS.keys())
def test_standard_status(fields, name, status):
    assert judge_standards(numbers(**fields), POLICY)[name].status == status


def test_fewer_than_5_sales_is_not_enough_data_for_every_standard():
    fields = dict(answered=[0, 0], threads=[10, 10], orders_counted=10, reviews=5, reviews_low=5,
                  cases=9, completed_orders=10)
    assert {s.status for s in judge_standards(numbers(4, **fields), POLICY).values()} == {"not_enough_data"}
    assert {s.status for s in judge_standards(numbers(5, **fields), POLICY).values()} == {"not_met"}
    assert {s.status for s in judge_standards(numbers(4), POLICY).values()} == {"not_enough_data"}


# (numbers, criterion, expected holds)
CRITERIA = {
    "24 h response 19/20 = 95 %": (dict(answered=[0, 19], threads=[0, 20]), "message_response", True),
    "24 h response 18/19 = 94.7 %": (dict(answered=[0, 18], threads=[0, 19]), "message_response", False),
    "no threads: skipped": (dict(), "message_response", True),
    "tracked 19/20": (dict(orders_tracked=19, orders_counted=20), "shipping", True),
    "tracked 18/19": (dict(orders_tracked=18, orders_counted=19), "shipping", False),
    "no orders: skipped": (dict(), "shipping", True),
    "average 48/10 = 4.8": (dict(rating_sum=48, reviews=10), "reviews", True),
    "average 479/100 = 4.79": (dict(rating_sum=479, reviews=100), "reviews", False),
    "no reviews: skipped": (dict(), "reviews", True),
    "3 cases of 299": (dict(cases=3, completed_orders=299), "case_rate", True),
    "4 cases of 299": (dict(cases=4, completed_orders=299), "case_rate", False),
    "3 cases of 300": (dict(cases=3, completed_orders=300), "case_rate", True),
    "4 cases of 300": (dict(cases=4, completed_orders=300), "case_rate", False),
    "5 orders, 300.00": (dict(sales_cents=30000), "volume", True),
    "5 orders, 299.99": (dict(sales_cents=29999), "volume", False),
    "4 orders, 400.00": (dict(sales=4, sales_cents=40000), "volume", False),
    "first sale 90 days before": (dict(first_sale_at=NINETY_DAYS_BEFORE), "tenure", True),
    "first sale 1 us less": (dict(first_sale_at=NINETY_DAYS_BEFORE + 1), "tenure", False),
    "no first sale": (dict(), "tenure", False),
}


@pytest.mark.parametrize("fields, name, holds", CRITERIA.values(), ids=CRITERIA.keys())
def test_star_seller_criterion(fields, name, holds):
    assert judge_star_seller(numbers(**fields), CUTOFF, POLICY)[name].holds is holds


def test_case_criterion_applies_the_rule_whatever_the_status():
    n = numbers(4, cases=4, completed_orders=10)  # not_enough_data, but 4 > 3 cases
    assert judge_standards(n, POLICY)["case_rate"].status == "not_enough_data"
    assert judge_star_seller(n, CUTOFF, POLICY)["case_rate"].holds is False


ALL_HOLD = dict(answered=[1, 1], threads=[1, 1], orders_on_time=1, orders_tracked=1, orders_counted=1,
                reviews=1, rating_sum=5)
# (numbers, expected badges, in the SPEC's order)
BADGES = {
    "all three": (ALL_HOLD, ["speedy_replies", "smooth_shipping", "rave_reviews"]),
    "4 sales: none": ({**ALL_HOLD, "sales": 4}, []),
    "no 24 h thread: criterion skipped, no badge": ({**ALL_HOLD, "answered": [1, 0], "threads": [1, 0]},
                                                    ["smooth_shipping", "rave_reviews"]),
    "no counted order": ({**ALL_HOLD, "orders_on_time": 0, "orders_tracked": 0, "orders_counted": 0},
                         ["speedy_replies", "rave_reviews"]),
    "no review": ({**ALL_HOLD, "reviews": 0, "rating_sum": 0}, ["speedy_replies", "smooth_shipping"]),
    "shipping without tracking": ({**ALL_HOLD, "orders_tracked": 0}, ["speedy_replies", "rave_reviews"]),
    "average 4": ({**ALL_HOLD, "rating_sum": 4}, ["speedy_replies", "smooth_shipping"]),
}


@pytest.mark.parametrize("fields, badges", BADGES.values(), ids=BADGES.keys())
def test_area_badges(fields, badges):
    n = numbers(**fields)
    assert area_badges(n, judge_star_seller(n, CUTOFF, POLICY), POLICY) == badges


@pytest.mark.parametrize("numerator, denominator, shown", [
    (18, 19, "94.7"),  # 94.736...
    (2, 3, "66.6"),  # 66.666... rounded down, not 66.7
    (8, 10, "80.0"), (0, 7, "0.0"), (1, 1, "100.0"), (1, 0, None)])
def test_shown_rate_rounded_down(numerator, denominator, shown):
    assert shown_rate(numerator, denominator) == shown


# -- the same boundaries through the engine -------------------------------------------

S = "s-1"


@pytest.mark.parametrize("answered, threads, status", [(8, 10, "met"), (19, 24, "not_met")])
def test_message_response_boundary_end_to_end(answered, threads, status):
    sc = Scenario().digital_sales(S, 5, "2026-02-01T00:00:00Z")
    for i in range(threads):
        sc.buyer(S, f"t{i}", "2026-02-10T12:00:00Z")
        if i < answered:
            sc.seller_msg(S, f"t{i}", "2026-02-10T13:00:00Z")
    sc.evaluate("2026-04")
    # February items are also in March's period (Dec-Feb): a second month not met
    assert sc.standard(S, "message_response") == {
        "numerator": answered, "denominator": threads, "status": status,
        "consecutive_months_not_met": 2 if status == "not_met" else 0}


def star_seller(first_sale="2026-01-01T00:00:00Z", last_total="60.00") -> Scenario:
    """5 physical orders shipped on time with tracking, one thread answered in
    1 h, one 5-star review; the first order is the first sale."""
    sc = Scenario()
    feb = "2026-02-01T10:00:00Z"
    for i, (at, total) in enumerate([(first_sale, "60.00"), (feb, "60.00"), (feb, "60.00"), (feb, "60.00"),
                                     (feb, last_total)]):
        sc.order(S, f"o{i}", at, total=total)  # ship-by 2 days later
        sc.ship(S, f"o{i}", plus_days(at, 1))
    sc.buyer(S, "t1", "2026-02-10T12:00:00Z").seller_msg(S, "t1", "2026-02-10T13:00:00Z")
    sc.review(S, "r1", "2026-02-12T12:00:00Z", 5)
    return sc.evaluate("2026-04")


@pytest.mark.parametrize("first_sale, last_total, failing", [
    ("2026-01-01T00:00:00Z", "60.00", None),  # 5 x 60.00 = 300.00; exactly 90 days before April
    ("2025-12-31T21:00:00-03:00", "60.00", None),  # the same instant with an offset
    ("2026-01-01T00:00:00.000001Z", "60.00", "tenure"),  # 1 us less than 90 days
    ("2026-01-01T00:00:00Z", "59.99", "volume"),  # 4 x 60.00 + 59.99 = 299.99
])
def test_star_seller_end_to_end(first_sale, last_total, failing):
    sc = star_seller(first_sale, last_total)
    record = sc.record(S)
    held = {name: c["holds"] for name, c in record["star_seller"]["criteria"].items()}
    names = ("message_response", "shipping", "reviews", "case_rate", "volume", "tenure")
    assert held == {name: name != failing for name in names}
    assert record["star_seller"]["eligible"] is (failing is None)
    # the area badges need neither tenure nor volume
    assert record["badges"] == ["speedy_replies", "smooth_shipping", "rave_reviews"]


# Judgements are memoized per policy by the numbers they read: a judgement
# made first for other numbers must never leak into the one asked for.
small = st.integers(0, 6)
generated_numbers = st.builds(
    Numbers, sales_orders=small, sales_cents=st.sampled_from([0, 29_999, 30_000]),
    first_sale_at=st.sampled_from([None, NINETY_DAYS_BEFORE, NINETY_DAYS_BEFORE + 1]),
    answered=st.lists(small, min_size=2, max_size=2), threads=st.lists(small, min_size=2, max_size=2),
    orders_on_time=small, orders_tracked=small, orders_counted=small, reviews=small, reviews_low=small,
    rating_sum=st.integers(0, 30), cases=small, completed_orders=small)


def _judged(n, policy):
    return (scorecard_standards(n, policy), evaluation_standards(n, (0, 2, 0, 1), policy),
            evaluation_standards(n, (1, 0, 3, 0), policy), judge_star_seller(n, CUTOFF, policy),
            quality_card(n, policy))


NUMBER_FIELDS = ("sales_orders", "sales_cents", "first_sale_at", "answered", "threads", "orders_on_time",
                 "orders_tracked", "orders_counted", "reviews", "reviews_low", "rating_sum", "cases",
                 "completed_orders")


@settings(max_examples=300, deadline=None)
@given(generated_numbers, st.lists(st.tuples(st.sampled_from(NUMBER_FIELDS), generated_numbers), max_size=8),
       st.sampled_from([2, 5, 100]))
def test_memoized_judgements_are_those_of_the_numbers_asked(base, changes, limit):
    # Each next numbers differ from the ones before in one field: what a
    # memo key that misses a field would confuse.
    shared = Policy()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(judge_module, "MEMO_LIMIT", limit)
        n = base
        for name, other in [(None, base), *changes]:
            if name is not None:
                n = dataclasses.replace(n, **{name: getattr(other, name)})
            assert _judged(n, shared) == _judged(n, Policy())  # a new policy: nothing memoized
        assert len(shared.memo) <= limit  # both generations


def test_scorecard_standards_as_shown():
    n = numbers(answered=[19, 0], threads=[24, 0], reviews_low=5, reviews=40)
    shown = scorecard_standards(n, POLICY)
    assert list(shown) == ["message_response", "on_time_shipping", "review_rating", "case_rate"]  # STANDARDS' order
    assert shown["message_response"] == {"numerator": 19, "denominator": 24, "rate": "79.1", "status": "not_met",
                                         "threshold": {"min_percent": "80"}}
    assert shown["review_rating"] == {"numerator": 5, "denominator": 40, "rate": "12.5", "status": "not_met",
                                      "threshold": {"max_low_percent": "10"}}
    assert shown["case_rate"]["rate"] is None and shown["case_rate"]["status"] == "not_applicable"
    assert quality_card(n, POLICY).shown["reviews"] == {"rating_sum": 0, "count": 40, "holds": False}


def test_evaluation_standards_continue_the_runs_of_standards_not_met():
    # 19/24 answered (79.1 % < 80 %) and 5 low of 40 reviews (12.5 % > 10 %) are not
    # met; no orders counted and no completed orders make the other two not applicable.
    n = numbers(answered=[19, 0], threads=[24, 0], reviews_low=5, reviews=40)
    runs, shown = evaluation_standards(n, (2, 7, 0, 3), POLICY)
    assert runs == (3, 0, 1, 0)
    assert shown["message_response"] == {"numerator": 19, "denominator": 24, "status": "not_met",
                                         "consecutive_months_not_met": 3}
    assert shown["on_time_shipping"] == {"numerator": 0, "denominator": 0, "status": "not_applicable",
                                         "consecutive_months_not_met": 0}
    assert [shown[name]["consecutive_months_not_met"] for name in ("review_rating", "case_rate")] == [1, 0]
    assert list(shown) == ["message_response", "on_time_shipping", "review_rating", "case_rate"]
    # the same numbers after other runs: another entry, not the memoized one
    assert evaluation_standards(n, (0, 0, 0, 0), POLICY)[0] == (1, 0, 1, 0)


def test_a_judgement_in_use_stays_memoized_while_others_come_and_go(monkeypatch):
    # A seller asked about between many others keeps its judgement object
    # (the memo drops what is not asked for); clearing the memo whenever it
    # was full made it anew, and every other seller's too, once per fill.
    monkeypatch.setattr(judge_module, "MEMO_LIMIT", 4)
    policy = Policy()
    in_use = scorecard_standards(numbers(reviews=40), policy)
    for reviews in range(41, 61):
        scorecard_standards(numbers(reviews=reviews), policy)
        assert scorecard_standards(numbers(reviews=40), policy) is in_use
        assert len(policy.memo) <= 4  # both generations
    # One not asked for since is made anew, equal to what it was.
    assert scorecard_standards(numbers(reviews=41), policy) == scorecard_standards(numbers(reviews=41), Policy())
