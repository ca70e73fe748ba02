"""Counting a seller's items into the numbers of a period (SPEC section 4).

The same function serves the live scorecard (as_of=None: every event seen,
pending items decided by the partition clock) and the monthly evaluation
(as_of=E, clock=E: exactly the events with occurred_at < E).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from .calendar import month_of
from .entities import before, latest_before, stamp_before
from .policy import Policy

RESPONSE_WINDOWS = 2  # index 0: the standard's window, 1: Star Seller's


@dataclass
class Numbers:
    sales_orders: int = 0
    sales_cents: int = 0
    first_sale_at: Optional[int] = None
    # per window index: answered, counted (answered + missed)
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

    def has_activity(self) -> bool:
        """The condition for a monthly evaluation record (SPEC section 6)."""
        return bool(self.sales_orders or self.threads[0] or self.threads[1] or self.orders_counted
                    or self.reviews or self.completed_orders)


def count(seller, first_month: int, last_month: int, as_of: Optional[int],
          clock: Optional[int], policy: Policy) -> Numbers:
    """Numbers of the items attributed to months first_month..last_month."""
    n = Numbers()
    windows = policy.windows
    low_at_most = policy.review_rating.low_rating_at_most
    floor = seller.first_sale_floor

    for thread in seller.threads.values():
        initial = thread.initial_at(as_of)
        if initial is None:
            continue
        response = thread.response_at(as_of)
        for w, window in enumerate(windows):
            deadline = initial + window
            if not first_month <= month_of(deadline) <= last_month:
                continue
            if response is not None and response <= deadline:
                n.answered[w] += 1
                n.threads[w] += 1
            elif clock is not None and clock > deadline:
                n.threads[w] += 1

    orders = seller.orders
    for order in orders.values():
        placed = stamp_before(order.placed, as_of)
        if placed is None:
            continue
        if before(order.cancelled_at, as_of) is not None:
            continue
        placed_at, _, total, ship_by, digital = placed[:5]
        if floor is None or placed_at < floor:
            floor = placed_at
        if first_month <= month_of(placed_at) <= last_month:
            n.sales_orders += 1
            n.sales_cents += total
        shipment = stamp_before(order.shipment, as_of)
        if digital:
            if first_month <= month_of(placed_at) <= last_month:
                n.completed_orders += 1
            continue
        if shipment is not None and first_month <= month_of(shipment[0]) <= last_month:
            n.completed_orders += 1
        if not first_month <= month_of(ship_by) <= last_month:
            continue
        if shipment is not None and shipment[0] <= ship_by:
            n.orders_counted += 1
            n.orders_on_time += 1
            if shipment[2] or not placed[6]:
                n.orders_tracked += 1
        elif shipment is not None or (clock is not None and clock > ship_by):
            n.orders_counted += 1
    n.first_sale_at = floor

    for review in seller.reviews.values():
        if before(review.removed_at, as_of) is not None:
            continue
        postings = review.postings
        if not postings or (as_of is not None and postings[0][0] >= as_of):
            continue
        if not first_month <= month_of(postings[0][0]) <= last_month:
            continue
        rating = latest_before(postings, as_of)[2]
        n.reviews += 1
        n.rating_sum += rating
        if rating <= low_at_most:
            n.reviews_low += 1

    max_total = policy.max_order_total_cents
    for case in seller.cases.values():
        opened = stamp_before(case.opened, as_of)
        close = latest_before(case.closes, as_of)
        if opened is None or close is None or close[2] != "refunded_by_seller":
            continue
        if not first_month <= month_of(close[0]) <= last_month:
            continue
        order = orders.get(opened[2])
        placed = stamp_before(order.placed, as_of) if order is not None else None
        if placed is None or placed[5] or placed[2] > max_total:
            continue
        if order.seller_refund_at is not None and order.seller_refund_at < opened[0]:
            continue
        n.cases += 1
    return n
