"""A marketplace simulator: sellers with different habits, events in time order.

Used by `seller-standards demo` and by tests that need a realistic workload.
Deterministic for a given seed.
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Iterator

from schemas.validate import format_timestamp
from standards.calendar import DAY, HOUR

from .topics import INPUT_TOPICS


@dataclass
class Habits:
    reply_hours: float  # typical time to answer a buyer
    ships_late: float  # probability an order ships after its ship-by
    low_reviews: float  # probability a review is <= 3 stars
    refunds: float  # probability an order ends in a case refunded by the seller
    orders_per_day: float


def _habits(rng: random.Random) -> Habits:
    return Habits(
        reply_hours=rng.choice([1, 4, 12, 30, 60]),
        ships_late=rng.choice([0.0, 0.02, 0.1, 0.3]),
        low_reviews=rng.choice([0.02, 0.08, 0.25]),
        refunds=rng.choice([0.0, 0.01, 0.05]),
        orders_per_day=rng.choice([0.1, 0.3, 1.0, 3.0]),
    )


def simulate(sellers: int, start_us: int, days: int, seed: int = 7,
             heartbeat_every: int = HOUR) -> Iterator[dict]:
    """Yield events (as JSON-ready dicts with `_topic`) sorted by occurred_at,
    with a heartbeat on every topic each `heartbeat_every` microseconds."""
    rng = random.Random(seed)
    end = start_us + days * DAY
    events: list[tuple[int, str, dict]] = []
    counter = 0

    def add(topic: str, at: int, **fields) -> None:
        nonlocal counter
        counter += 1
        if at < end:
            events.append((at, topic, {"event_id": f"sim-{seed}-{counter}", "occurred_at": format_timestamp(at),
                                       **fields}))

    for s in range(sellers):
        seller = f"seller-{s:05d}"
        habits = _habits(rng)
        t = start_us
        n = 0
        while True:
            t += int(rng.expovariate(habits.orders_per_day) * DAY) + 1
            if t >= end:
                break
            n += 1
            order = f"o{n}"
            digital = rng.random() < 0.1
            total = f"{rng.randint(5, 300)}.{rng.randint(0, 99):02d}"
            ship_by = t + 3 * DAY
            add("marketplace.orders", t, type="order.placed", seller_id=seller, order_id=order, total=total,
                currency="USD", ship_by=format_timestamp(ship_by), digital=digital,
                purchase_protected=rng.random() < 0.2, tracking_required=rng.random() < 0.5)
            if rng.random() < 0.3:
                thread = f"th{n}"
                asked = t + int(rng.uniform(0, 2) * DAY)
                add("marketplace.messages", asked, type="message.sent", seller_id=seller, thread_id=thread,
                    message_id=f"{thread}-1", sender_role="buyer")
                if rng.random() < 0.3:
                    add("marketplace.messages", asked + 60_000_000, type="message.sent", seller_id=seller,
                        thread_id=thread, message_id=f"{thread}-a", sender_role="auto_reply")
                reply = asked + int(rng.expovariate(1 / habits.reply_hours) * HOUR)
                add("marketplace.messages", reply, type="message.sent", seller_id=seller, thread_id=thread,
                    message_id=f"{thread}-2", sender_role="seller", channel="marketplace")
            if rng.random() < 0.03:
                add("marketplace.orders", t + HOUR, type="order.cancelled", seller_id=seller, order_id=order,
                    cancelled_by="buyer")
                continue
            if not digital:
                late = rng.random() < habits.ships_late
                shipped = ship_by + (int(rng.uniform(1, 48) * HOUR) if late else -int(rng.uniform(1, 60) * HOUR))
                add("marketplace.shipments", max(shipped, t + 1), type="shipment.shipped", seller_id=seller,
                    order_id=order, tracking_number=rng.choice(["1Z999", "", None]),
                    label_purchased=rng.random() < 0.5, carrier="ups")
            if rng.random() < 0.5:
                rating = rng.randint(1, 3) if rng.random() < habits.low_reviews else rng.choice([4, 5, 5])
                add("marketplace.reviews", t + 7 * DAY, type="review.posted", seller_id=seller,
                    review_id=f"r{n}", order_id=order, rating=rating)
            if rng.random() < habits.refunds:
                add("marketplace.refunds", t + 5 * DAY, type="case.opened", seller_id=seller, case_id=f"c{n}",
                    order_id=order)
                add("marketplace.refunds", t + 9 * DAY, type="case.closed", seller_id=seller, case_id=f"c{n}",
                    resolution=rng.choice(["refunded_by_seller", "refunded_by_platform", "no_refund"]))
    beat = start_us + heartbeat_every
    while beat <= end:
        for topic in INPUT_TOPICS:
            add(topic, beat if beat < end else end - 1, type="clock.heartbeat", seller_id="heartbeat")
        beat += heartbeat_every
    events.sort(key=lambda e: (e[0], e[2]["event_id"]))
    for _, topic, event in events:
        yield {"_topic": topic, **event}
