"""What each item counts for, and on which month (SPEC section 4).

An item's contribution is a list of (month, field, amount). The monthly
evaluation sums the contributions of a seller's items as of E (only events
with occurred_at < E, the clock at E); the live scorecard keeps the same
contributions, with every event seen and the partition clock deciding what
is pending, summed per month and updated by difference when an item changes
or the clock passes one of its deadlines (standards.seller.SellerState),
except that a deadline whose proof came more than `allowed_lateness` after
the clock passed it stays missed or late there (`late`, SPEC 3).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .entities import ITEM_CLASSES, before, latest_before, stamp_before
from .policy import Policy

FIELDS = ("sales_orders", "sales_cents", "answered_0", "answered_1", "threads_0", "threads_1",
          "orders_on_time", "orders_tracked", "orders_counted", "reviews", "reviews_low", "rating_sum",
          "cases", "completed_orders")
(SALES_ORDERS, SALES_CENTS, ANSWERED, _, THREADS, _, ON_TIME, TRACKED, ORDERS_COUNTED, REVIEWS, REVIEWS_LOW,
 RATING_SUM, CASES, COMPLETED) = range(len(FIELDS))  # ANSWERED + w, THREADS + w for window w

Contribution = list  # [(month, field index, amount)]


@dataclass
class Numbers:
    sales_orders: int = 0
    sales_cents: int = 0
    first_sale_at: Optional[int] = None
    # per window index (0: the standard's, 1: Star Seller's): answered, counted (answered + missed)
    answered: list = field(default_factory=lambda: [0, 0])
    threads: list = field(default_factory=lambda: [0, 0])
    orders_on_time: int = 0
    orders_tracked: int = 0  # on time and with tracking where required
    orders_counted: int = 0
    reviews: int = 0
    reviews_low: int = 0
    rating_sum: int = 0
    cases: int = 0
    completed_orders: int = 0

    @classmethod
    def from_totals(cls, v: list, first_sale_at: Optional[int]) -> "Numbers":
        return cls(v[SALES_ORDERS], v[SALES_CENTS], first_sale_at, [v[ANSWERED], v[ANSWERED + 1]],
                   [v[THREADS], v[THREADS + 1]], v[ON_TIME], v[TRACKED], v[ORDERS_COUNTED], v[REVIEWS],
                   v[REVIEWS_LOW], v[RATING_SUM], v[CASES], v[COMPLETED])

    def has_activity(self) -> bool:
        """The condition for a monthly evaluation record (SPEC section 6)."""
        return bool(self.sales_orders or self.threads[0] or self.threads[1] or self.orders_counted
                    or self.reviews or self.completed_orders)


def thread_contribution(thread, as_of: Optional[int], clock: Optional[int], policy: Policy) -> Contribution:
    initial = thread.initial_at(as_of)
    if initial is None:
        return []
    response = thread.response_at(as_of)
    month_of = policy.calendar.month_of
    late = thread.late if as_of is None else None  # live only: an evaluation takes every event before E
    out = []
    for w, window in enumerate(policy.windows):
        deadline = initial + window
        month = month_of(deadline)
        if late and (w, deadline) in late:  # missed: the clock passed it (a restored one may be behind)
            out.append((month, THREADS + w, 1))
        elif response is not None and response <= deadline:
            out += [(month, ANSWERED + w, 1), (month, THREADS + w, 1)]
        elif clock is not None and clock > deadline:
            out.append((month, THREADS + w, 1))
    return out


def order_contribution(order, as_of: Optional[int], clock: Optional[int], month_of) -> Contribution:
    placed = stamp_before(order.placed, as_of)
    if placed is None or before(order.cancelled_at, as_of) is not None:
        return []
    placed_at, _, total, ship_by, digital, _, tracking_required = placed
    placed_month = month_of(placed_at)
    out = [(placed_month, SALES_ORDERS, 1), (placed_month, SALES_CENTS, total)]
    if digital:
        out.append((placed_month, COMPLETED, 1))
        return out
    shipment = stamp_before(order.shipment, as_of)
    if shipment is not None:
        out.append((month_of(shipment[0]), COMPLETED, 1))
    ship_month = month_of(ship_by)
    late = order.late if as_of is None else None  # as in thread_contribution
    if shipment is not None and shipment[0] <= ship_by and not (late and ship_by in late):
        out += [(ship_month, ORDERS_COUNTED, 1), (ship_month, ON_TIME, 1)]
        if shipment[2] or not tracking_required:
            out.append((ship_month, TRACKED, 1))
    elif shipment is not None or (clock is not None and clock > ship_by):
        out.append((ship_month, ORDERS_COUNTED, 1))
    return out


def review_contribution(review, as_of: Optional[int], low_at_most: int, month_of) -> Contribution:
    postings = review.postings
    if before(review.removed_at, as_of) is not None or not postings:
        return []
    if as_of is not None and postings[0][0] >= as_of:
        return []
    month = month_of(postings[0][0])
    rating = latest_before(postings, as_of)[2]
    return [(month, REVIEWS, 1), (month, RATING_SUM, rating), (month, REVIEWS_LOW, int(rating <= low_at_most))]


def case_contribution(case, seller, as_of: Optional[int], max_total: int, month_of) -> Contribution:
    opened = stamp_before(case.opened, as_of)
    close = latest_before(case.closes, as_of)
    if opened is None or close is None or close[2] != "refunded_by_seller":
        return []
    order = seller.item("orders", opened[2])
    placed = stamp_before(order.placed, as_of) if order is not None else None
    if placed is None or placed[5] or placed[2] > max_total:
        return []
    if order.seller_refund_at is not None and order.seller_refund_at < opened[0]:
        return []
    return [(month_of(close[0]), CASES, 1)]


def contribution(seller, collection: str, item, as_of: Optional[int], clock: Optional[int],
                 policy: Policy) -> Contribution:
    if collection == "threads":
        return thread_contribution(item, as_of, clock, policy)
    if collection == "orders":
        return order_contribution(item, as_of, clock, policy.calendar.month_of)
    if collection == "reviews":
        return review_contribution(item, as_of, policy.review_rating.low_rating_at_most, policy.calendar.month_of)
    return case_contribution(item, seller, as_of, policy.max_order_total_cents, policy.calendar.month_of)


def first_sale(seller, as_of: Optional[int]) -> Optional[int]:
    """The earliest order placed and not cancelled (as of), ever."""
    earliest = earliest_sale(seller.first_sale_floor, seller.cancelled_sales, as_of)
    if seller.past_sales is not None:
        past = earliest_sale(*seller.past_sales, as_of)
        if past is not None and (earliest is None or past < earliest):
            earliest = past
    for order in seller.items_of("orders"):
        placed = stamp_before(order.placed, as_of)
        if placed is not None and before(order.cancelled_at, as_of) is None:
            if earliest is None or placed[0] < earliest:
                earliest = placed[0]
    return earliest


def fold_sales(floor: Optional[int], sales: list, cancelled_since: int) -> tuple[Optional[int], tuple]:
    """Orders' (placed, cancelled or None), all placed before any instant
    still to be evaluated, folded into what a first sale as of
    `cancelled_since` or later reads of them: the earliest not cancelled
    (with `floor`, the earliest of orders folded before), and the (placed,
    cancelled) of those placed before it and cancelled at or after
    `cancelled_since`."""
    for placed, cancelled in sales:
        if cancelled is None and (floor is None or placed < floor):
            floor = placed
    return floor, tuple(sorted({(placed, cancelled) for placed, cancelled in sales
                                if cancelled is not None and cancelled >= cancelled_since
                                and (floor is None or placed < floor)}))


def earliest_sale(floor: Optional[int], cancelled: tuple, as_of: Optional[int]) -> Optional[int]:
    """The first sale as of `as_of` among orders folded by `fold_sales`."""
    earliest = floor
    if as_of is not None:
        for placed, cancelled_at in cancelled:  # a sale until its cancellation
            if cancelled_at >= as_of and (earliest is None or placed < earliest):
                earliest = placed
    return earliest


def count(seller, first_month: int, last_month: int, as_of: Optional[int],
          clock: Optional[int], policy: Policy) -> Numbers:
    """Numbers of the items attributed to months first_month..last_month."""
    totals = [0] * len(FIELDS)
    for collection in ITEM_CLASSES:
        for item in seller.items_of(collection):
            for month, index, amount in contribution(seller, collection, item, as_of, clock, policy):
                if first_month <= month <= last_month:
                    totals[index] += amount
    return Numbers.from_totals(totals, first_sale(seller, as_of))
