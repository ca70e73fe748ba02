"""Reviews and cases (SPEC section 4), as seen in the evaluation for April 2026
(period 2026-01-01 .. 2026-03-31, instant E = 2026-04-02T00:00Z)."""
import pytest

from scenario import Scenario, judged

from standards.engine import VIOLATIONS

S = "s-1"
R = "2026-02-10T10:00:00Z"


def reviews(sc: Scenario, month: str = "2026-04") -> tuple:
    """(low reviews, reviews, rating sum)."""
    standard = sc.standard(S, "review_rating", month)
    star = sc.criterion(S, "reviews", month)
    assert star["count"] == standard["denominator"]
    return standard["numerator"], standard["denominator"], star["rating_sum"]


def post(at, rating, event_id=None, review="r-1"):
    return lambda sc: sc.review(S, review, at, rating, event_id=event_id)


def remove(at, review="r-1"):
    return lambda sc: sc.remove_review(S, review, at)


# Steps in arrival order; expected (low, reviews, rating sum).
REVIEWS = {
    "one review": ([post(R, 5)], (0, 1, 5)),
    "edit: latest occurred_at wins": ([post(R, 2), post("2026-02-20T00:00:00Z", 5)], (0, 1, 5)),
    "edit arriving first still wins": ([post("2026-02-20T00:00:00Z", 5), post(R, 2)], (0, 1, 5)),
    "edit down to 3 is low": ([post(R, 5), post("2026-02-20T00:00:00Z", 3)], (1, 1, 3)),
    "tie: greater event_id wins": ([post(R, 1, "x-2"), post(R, 5, "x-1")], (1, 1, 1)),
    "removed": ([post(R, 5), remove("2026-02-15T00:00:00Z")], (0, 0, 0)),
    "removed for good, later posting ignored": ([post(R, 1), remove("2026-02-15T00:00:00Z"),
                                                 post("2026-02-20T00:00:00Z", 5)], (0, 0, 0)),
    "removal arriving before the posting": ([remove("2026-02-15T00:00:00Z"), post(R, 4)], (0, 0, 0)),
    # first posted in March, edited on 2026-04-01 (before E): March, rating 2
    "edit in April before E applies": ([post("2026-03-31T23:59:59Z", 5), post("2026-04-01T12:00:00Z", 2)], (1, 1, 2)),
    "first posted in April": ([post("2026-04-01T00:00:00Z", 5)], (0, 0, 0)),
    "ratings 1..5: three are low": ([post(R, r, review=f"r-{r}") for r in range(1, 6)], (3, 5, 15)),
}


@pytest.mark.parametrize("steps, expected", REVIEWS.values(), ids=REVIEWS.keys())
def test_reviews(steps, expected):
    assert reviews(judged(S, steps)) == expected


def test_review_attributed_to_its_first_posting():
    # First posted in December 2025, edited to 1 in January 2026: a December review.
    sc = Scenario().digital_sales(S, 5, "2026-02-01T00:00:00Z")
    sc.review(S, "r-1", "2025-12-20T10:00:00Z", 5).review(S, "r-1", "2026-01-10T10:00:00Z", 1)
    sc.evaluate("2026-04")
    assert reviews(sc, "2026-03") == (1, 1, 1)  # period Dec-Feb
    assert reviews(sc, "2026-04") == (0, 0, 0)  # period Jan-Mar


OPEN, CLOSE = "2026-02-10T00:00:00Z", "2026-02-20T00:00:00Z"


def placed(order, at="2026-02-01T10:00:00Z", **kw):
    return lambda sc: sc.order(S, order, at, **kw)


def opened(order="o-1", at=OPEN, case="c-1"):
    return lambda sc: sc.case_opened(S, case, order, at)


def closed(at=CLOSE, resolution="refunded_by_seller", case="c-1"):
    return lambda sc: sc.case_closed(S, case, at, resolution)


def refund(at, source="seller", order="o-1"):
    return lambda sc: sc.refund(S, order, at, source=source)


# Steps in arrival order (order o-1, placed 2026-02-01 for 60.00 and shipped, is
# always there); expected counted cases.
CASES = {
    "refunded by seller": ([opened(), closed()], 1),
    "refunded by platform": ([opened(), closed(resolution="refunded_by_platform")], 0),
    "no refund": ([opened(), closed(resolution="no_refund")], 0),
    "latest close wins: no_refund": ([opened(), closed(), closed("2026-02-25T00:00:00Z", "no_refund")], 0),
    "latest close wins, arriving first": ([opened(), closed("2026-02-25T00:00:00Z"),
                                           closed(CLOSE, "no_refund")], 1),
    "close arrives before the opening": ([closed(), opened()], 1),
    "no case.opened": ([closed()], 0),
    # the earliest opening (02-05) names the protected order o-2
    "earliest opening gives the order": ([placed("o-2", protected=True), opened(),
                                          opened("o-2", "2026-02-05T00:00:00Z"), closed()], 0),
    "earliest opening gives the order (other way)": ([placed("o-2", protected=True), opened(),
                                                      opened("o-2", "2026-02-15T00:00:00Z"), closed()], 1),
    "order unknown": ([opened("o-missing"), closed()], 0),
    "purchase protected": ([placed("o-2", protected=True), opened("o-2"), closed()], 0),
    "total 250.00 counts": ([placed("o-2", total="250.00"), opened("o-2"), closed()], 1),
    "total 250 counts": ([placed("o-2", total="250"), opened("o-2"), closed()], 1),
    "total 250.01 excluded": ([placed("o-2", total="250.01"), opened("o-2"), closed()], 0),
    "order placed before the period": ([placed("o-2", "2025-11-01T10:00:00Z"), opened("o-2"), closed()], 1),
    "seller refund 1 us before the opening": ([refund("2026-02-09T23:59:59.999999Z"), opened(), closed()], 0),
    "seller refund at the opening instant": ([refund(OPEN), opened(), closed()], 1),
    "seller refund after the opening": ([opened(), refund("2026-02-15T00:00:00Z"), closed()], 1),
    "platform refund before the opening": ([refund("2026-02-09T00:00:00Z", "platform"), opened(), closed()], 1),
    "seller refund of another order": ([placed("o-2"), refund("2026-02-09T00:00:00Z", order="o-2"),
                                        opened(), closed()], 1),
    "cancelled order still counts": ([lambda sc: sc.cancel(S, "o-1", "2026-02-05T00:00:00Z"), opened(), closed()], 1),
    "closed on the period's last second": ([opened("o-1", "2026-03-25T00:00:00Z"), closed("2026-03-31T23:59:59Z")], 1),
    "closed in April before E": ([opened("o-1", "2026-03-25T00:00:00Z"), closed("2026-04-01T12:00:00Z")], 0),
    # the latest close (April) gives the attribution day
    "latest close moves the case to April": ([opened(), closed("2026-03-10T00:00:00Z"),
                                              closed("2026-04-01T05:00:00Z")], 0),
}


@pytest.mark.parametrize("steps, expected", CASES.values(), ids=CASES.keys())
def test_cases(steps, expected):
    shipped_order = [lambda sc: sc.order(S, "o-1", "2026-02-01T10:00:00Z").ship(S, "o-1", "2026-02-02T10:00:00Z")]
    assert judged(S, shipped_order + list(steps)).standard(S, "case_rate")["numerator"] == expected


def test_a_case_rate_violation_gives_its_cases_and_completed_orders_as_evidence():
    # One digital sale (completed) and four physical orders not shipped, each with a case
    # refunded by the seller: 5 sales, 4 counted cases, 1 completed order. 4 cases are more
    # than the 3 allowed below 300 completed orders: not met. The cases are not a part of
    # the completed orders (none of their orders shipped), so the evidence is both counts.
    sc = Scenario().heartbeat("2026-03-01T00:00:00Z").digital_sales(S, 1, "2026-03-02T00:00:00Z")
    for i in range(4):
        sc.order(S, f"o{i}", "2026-03-02T00:00:00Z", ship_by="2026-03-20T00:00:00Z")
        sc.case_opened(S, f"c{i}", f"o{i}", "2026-03-03T00:00:00Z").case_closed(S, f"c{i}", "2026-03-04T00:00:00Z")
    sc.heartbeat("2026-03-05T00:00:00Z")
    sc.engine.take_unsaved()
    sc._collect(sc.engine.release())
    (opened,) = [record for topic, _, record in sc.outputs if topic == VIOLATIONS]
    assert (opened["type"], opened["standard"], opened["numerator"], opened["denominator"], opened["evidence"]) == (
        "violation.opened", "case_rate", 4, 1, {"cases": 4, "completed_orders": 1})
