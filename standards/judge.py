"""Judging numbers against the policy (SPEC section 5), in integers only."""
from __future__ import annotations

from decimal import Decimal
from fractions import Fraction
from functools import lru_cache
from typing import NamedTuple, Optional

from .numbers import Numbers
from .policy import Policy

STANDARDS = ("message_response", "on_time_shipping", "review_rating", "case_rate")
AREA_BADGES = ("speedy_replies", "smooth_shipping", "rave_reviews")


@lru_cache(maxsize=64)
def ratio(value: Decimal) -> tuple[int, int]:
    """A policy's decimal as an exact (numerator, denominator) of integers."""
    q = Fraction(value)
    return q.numerator, q.denominator


def at_least_percent(numerator: int, denominator: int, percent: Decimal) -> bool:
    top, bottom = ratio(percent)
    return 100 * numerator * bottom >= top * denominator


def at_most_percent(numerator: int, denominator: int, percent: Decimal) -> bool:
    top, bottom = ratio(percent)
    return 100 * numerator * bottom <= top * denominator


def shown_rate(numerator: int, denominator: int) -> Optional[str]:
    """Percentage rounded down to one decimal, as text (no float ever)."""
    if denominator == 0:
        return None
    tenths = 1000 * numerator // denominator
    return f"{tenths // 10}.{tenths % 10}"


class Standard(NamedTuple):
    numerator: int
    denominator: int
    status: str
    threshold: dict


class Criterion(NamedTuple):
    values: dict
    holds: bool


def review_rule(low: int, reviews: int, policy: Policy) -> tuple[bool, dict]:
    rule = policy.review_rating
    if reviews < rule.percent_regime_from_reviews:
        return low <= rule.max_low_reviews, {"max_low_reviews": rule.max_low_reviews}
    return at_most_percent(low, reviews, rule.max_low_percent), {"max_low_percent": str(rule.max_low_percent)}


def case_rule(cases: int, completed: int, policy: Policy) -> tuple[bool, dict]:
    rule = policy.case_rate
    if completed < rule.percent_regime_from_orders:
        return cases <= rule.max_cases, {"max_cases": rule.max_cases}
    return at_most_percent(cases, completed, rule.max_case_percent), {"max_case_percent": str(rule.max_case_percent)}


# Judgements are memoized per policy (Policy.memo) by the numbers they read:
# sparse sellers share small numbers, and a scorecard is made every time a
# seller's numbers change. What the memo hands out is shared between sellers
# and records, and never changed.
MEMO_LIMIT = 10_000  # entries of about 1.3 KB (docs/design.md, Performance choices)


def _memo(policy: Policy, key: tuple, make):
    return policy.memo.get(key, make, MEMO_LIMIT)


def _standards_key(n: Numbers, policy: Policy) -> tuple:
    """What judge_standards reads of n."""
    return (n.answered[0], n.threads[0], n.orders_on_time, n.orders_counted, n.reviews_low, n.reviews,
            n.cases, n.completed_orders, n.sales_orders >= policy.min_sales_for_data)


def judge_standards(n: Numbers, policy: Policy) -> dict[str, Standard]:
    """Each standard of numbers n judged, in STANDARDS' order (not memoized:
    the records' memoized parts below are made of it)."""
    response_min = policy.message_response.min_percent
    shipping_min = policy.on_time_shipping.min_percent
    review_passes, review_threshold = review_rule(n.reviews_low, n.reviews, policy)
    case_passes, case_threshold = case_rule(n.cases, n.completed_orders, policy)
    rows = {
        "message_response": (n.answered[0], n.threads[0],
                             at_least_percent(n.answered[0], n.threads[0], response_min),
                             {"min_percent": str(response_min)}),
        "on_time_shipping": (n.orders_on_time, n.orders_counted,
                             at_least_percent(n.orders_on_time, n.orders_counted, shipping_min),
                             {"min_percent": str(shipping_min)}),
        "review_rating": (n.reviews_low, n.reviews, review_passes, review_threshold),
        "case_rate": (n.cases, n.completed_orders, case_passes, case_threshold),
    }
    enough_data = n.sales_orders >= policy.min_sales_for_data
    judged = {}
    for name, (numerator, denominator, passes, threshold) in rows.items():
        if not enough_data:
            status = "not_enough_data"
        elif denominator == 0:
            status = "not_applicable"
        else:
            status = "met" if passes else "not_met"
        judged[name] = Standard(numerator, denominator, status, threshold)
    return judged


def scorecard_standards(n: Numbers, policy: Policy) -> dict[str, dict]:
    """The `standards` of a scorecard (SPEC section 6) of numbers n."""
    return _memo(policy, ("scorecard", *_standards_key(n, policy)), lambda: {
        name: {"numerator": s.numerator, "denominator": s.denominator, "rate": shown_rate(s.numerator, s.denominator),
               "status": s.status, "threshold": s.threshold}
        for name, s in judge_standards(n, policy).items()})


def evaluation_standards(n: Numbers, previous_runs: tuple, policy: Policy) -> tuple[tuple, dict[str, dict]]:
    """(the runs of months not met, the `standards` of a monthly evaluation
    record, SPEC 6.1) of numbers n, after a month whose runs were
    `previous_runs` (one per standard, in STANDARDS' order): a standard not
    met adds a month to its run, any other status ends it."""
    return _memo(policy, ("evaluation", *_standards_key(n, policy), previous_runs),
                 lambda: _evaluation_standards(n, previous_runs, policy))


def _evaluation_standards(n: Numbers, previous_runs: tuple, policy: Policy) -> tuple[tuple, dict[str, dict]]:
    runs, shown = [], {}
    for run, (name, s) in zip(previous_runs, judge_standards(n, policy).items()):
        runs.append(run + 1 if s.status == "not_met" else 0)
        shown[name] = {"numerator": s.numerator, "denominator": s.denominator, "status": s.status,
                       "consecutive_months_not_met": runs[-1]}
    return tuple(runs), shown


def volume_holds(n: Numbers, policy: Policy) -> bool:
    return n.sales_orders >= policy.star_seller.min_orders and n.sales_cents >= policy.min_sales_cents


def tenure_holds(n: Numbers, tenure_cutoff: int, policy: Policy) -> bool:
    return n.first_sale_at is not None and n.first_sale_at <= tenure_cutoff - policy.min_tenure


def _quality_key(n: Numbers) -> tuple:
    """What the quality criteria read of n."""
    return (n.answered[1], n.threads[1], n.orders_tracked, n.orders_counted, n.rating_sum, n.reviews,
            n.cases, n.completed_orders)


def quality_criteria(n: Numbers, policy: Policy) -> dict[str, Criterion]:
    """The Star Seller criteria that read neither sales nor the first sale."""
    star = policy.star_seller
    average_top, average_bottom = ratio(star.min_average_rating)
    return {
        "message_response": Criterion(
            {"numerator": n.answered[1], "denominator": n.threads[1]},
            n.threads[1] == 0 or at_least_percent(n.answered[1], n.threads[1], star.min_response_percent)),
        "shipping": Criterion(
            {"numerator": n.orders_tracked, "denominator": n.orders_counted},
            n.orders_counted == 0 or at_least_percent(n.orders_tracked, n.orders_counted, star.min_shipping_percent)),
        "reviews": Criterion(
            {"rating_sum": n.rating_sum, "count": n.reviews},
            n.reviews == 0 or n.rating_sum * average_bottom >= average_top * n.reviews),
        "case_rate": Criterion({}, case_rule(n.cases, n.completed_orders, policy)[0]),
    }


class QualityCard(NamedTuple):
    """What a record shows of the quality criteria, made once per numbers."""
    shown: dict[str, dict]  # each criterion's values and whether it holds
    hold: bool  # all of them
    badges: list[str]  # the area badges


def quality_card(n: Numbers, policy: Policy) -> QualityCard:
    enough_sales = n.sales_orders >= policy.min_sales_for_data  # all area_badges reads beyond the criteria
    return _memo(policy, ("card", *_quality_key(n), enough_sales), lambda: _quality_card(n, policy))


def _quality_card(n: Numbers, policy: Policy) -> QualityCard:
    criteria = quality_criteria(n, policy)  # not memoized itself: quality_card's key holds its own
    return QualityCard({name: {**criterion.values, "holds": criterion.holds} for name, criterion in criteria.items()},
                       all(criterion.holds for criterion in criteria.values()), area_badges(n, criteria, policy))


def area_badges(n: Numbers, criteria: dict[str, Criterion], policy: Policy) -> list[str]:
    """Per-area badges, in the SPEC's order: the criterion holds over at least
    one counted item, and the seller has enough sales."""
    if n.sales_orders < policy.min_sales_for_data:
        return []
    earned = []
    if n.threads[1] and criteria["message_response"].holds:
        earned.append("speedy_replies")
    if n.orders_counted and criteria["shipping"].holds:
        earned.append("smooth_shipping")
    if n.reviews and criteria["reviews"].holds:
        earned.append("rave_reviews")
    return earned
