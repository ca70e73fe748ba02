"""A realistic mixed marketplace workload, generated fast (pure Python, no I/O).

100k sellers by default with Pareto-skewed sizes (alpha 1.16: about 20 % of
the sellers make 80 % of the orders), each with its own habits (reply time,
late shipping, low reviews, refunds). Every order leads to the events a
marketplace publishes around it, in these proportions per order (measured by
`python -m bench.workload`):

- order.placed 1; order.cancelled 0.03
- shipment.shipped ~0.86 (physical, not cancelled; 2 % never shipped)
- buyer threads on 35 % of orders: initial message, auto-reply (15 %), seller
  reply (93 %), follow-ups, platform notices (3 %), spam marks (1 %);
  seller-opened threads on 3 %
- review.posted 45 % (2 % edited later, 1 % removed)
- refund.issued 2 %; case.opened 2 %, case.closed 90 % of those
- a heartbeat on every partition of every input topic every 6 hours
- 1 in 10,000 events invalid (dead letters: not JSON, or a bad rating)

Events carry fields the contract ignores (buyer_id, a message body, ...) as
real ones do. They are published in occurred_at order plus a publishing delay
(mostly seconds, 4 % minutes, 1 % hours), so topics and sellers interleave
and some events arrive late and out of order.
"""
from __future__ import annotations

import calendar
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Optional

import orjson

from streams.partitioning import partition_for
from streams.topics import INPUT_TOPICS, MESSAGES, ORDERS, REFUNDS, REVIEWS, SHIPMENTS  # noqa: F401

SECOND = 1_000_000
MINUTE = 60 * SECOND
HOUR = 3600 * SECOND
DAY = 24 * HOUR
EVENTS_PER_ORDER = 3.3  # measured average of the mix above, before edge effects

DEFAULT_START = "2025-01-01"

_REPLY_HOURS = (0.5, 2.0, 6.0, 20.0, 40.0)
_REPLY_WEIGHTS = (25, 35, 20, 12, 8)
_LATE = (0.0, 0.02, 0.08, 0.25)
_LATE_WEIGHTS = (30, 40, 20, 10)
_LOW = (0.02, 0.06, 0.2)
_LOW_WEIGHTS = (50, 35, 15)
_CASES = ((0.6, 0.3, 0.1), (0.3, 0.4, 0.3), (0.15, 0.35, 0.5))  # seller/platform/no_refund
_CARRIERS = ("ups", "usps", "fedex", "dhl", "royal-mail", "correios", "")
_BODIES = tuple(" ".join(w) for w in (
    ("hi", "is", "this", "still", "available", "in", "blue?"),
    ("when", "will", "my", "order", "ship?", "I", "need", "it", "by", "friday"),
    ("thanks", "so", "much", "for", "the", "quick", "reply!"),
    ("can", "you", "do", "a", "custom", "size", "for", "a", "wedding", "gift", "please?"),
    ("the", "item", "arrived", "damaged,", "what", "can", "we", "do", "about", "it?"),
))


def heartbeat_keys(partitions: int) -> list[str]:
    """One routing key per partition that the default partitioner sends there."""
    keys: list[Optional[str]] = [None] * partitions
    n = 0
    while None in keys:
        key = f"heartbeat-{n}"
        p = partition_for(key.encode(), partitions)
        if keys[p] is None:
            keys[p] = key
        n += 1
    return keys  # type: ignore[return-value]


def parse_day(text: str) -> int:
    return calendar.timegm(time.strptime(text, "%Y-%m-%d")) * SECOND


_DAY_PREFIX: dict[int, str] = {}


def fmt(us: int) -> str:
    """RFC 3339 UTC with milliseconds, as producers usually write it."""
    day, rest = divmod(us, DAY)
    prefix = _DAY_PREFIX.get(day)
    if prefix is None:
        prefix = _DAY_PREFIX[day] = time.strftime("%Y-%m-%dT", time.gmtime(day * 86_400))
    seconds, micros = divmod(rest, SECOND)
    hours, seconds = divmod(seconds, 3600)
    minutes, seconds = divmod(seconds, 60)
    return f"{prefix}{hours:02d}:{minutes:02d}:{seconds:02d}.{micros // 1000:03d}Z"


@dataclass
class Workload:
    records: list  # (topic, key bytes, value bytes) in publish order
    tail: list  # the same, after the main part (published only by the restart test)
    start_us: int
    end_us: int
    sellers: int
    partitions: int
    counts: Counter = field(default_factory=Counter)  # by (topic, type) of the main part
    active_sellers: int = 0
    invalid: int = 0
    seconds: float = 0.0
    value_bytes: int = 0

    @property
    def topic_counts(self) -> Counter:
        c: Counter = Counter()
        for (topic, _), n in self.counts.items():
            c[topic] += n
        return c


class _Generator:
    def __init__(self, sellers: int, seed: int):
        rng = self.rng = random.Random(seed)
        self.seller_ids = [f"seller-{i:06d}" for i in range(sellers)]
        # Pareto sizes, capped so that the largest seller has about 1 % of the orders.
        self.weights = [min(rng.paretovariate(1.16), 3000.0) for _ in range(sellers)]
        self.reply = rng.choices(_REPLY_HOURS, _REPLY_WEIGHTS, k=sellers)
        self.late = rng.choices(_LATE, _LATE_WEIGHTS, k=sellers)
        self.low = rng.choices(_LOW, _LOW_WEIGHTS, k=sellers)
        self.cases = rng.choices(range(3), (70, 25, 5), k=sellers)
        self.marketplace = rng.choices(("us", "uk", "br", "de"), (50, 20, 20, 10), k=sellers)
        self.counter = 0

    def orders(self, n: int, start: int, end: int, prefix: str) -> list:
        """Events of n orders placed in [start, end): (publish_us, topic, seller, event dict
        with times as int microseconds under occurred_at and ship_by)."""
        rng = self.rng
        rand, uniform, expo = rng.random, rng.uniform, rng.expovariate
        out: list = []
        add = out.append
        span = end - start
        chosen = rng.choices(range(len(self.seller_ids)), self.weights, k=n)
        for i, s in enumerate(chosen):
            seller = self.seller_ids[s]
            mkt = self.marketplace[s]
            oid = f"{prefix}o{i}"
            buyer = f"b{rng.getrandbits(24)}"
            t = start + int(rand() * span)
            digital = rand() < 0.08
            ship_by = t + int(uniform(1, 5) * DAY)

            def ev(kind, topic, at, **fields):
                self.counter += 1
                e = {"event_id": f"{prefix}e{self.counter}", "type": kind, "seller_id": seller,
                     "marketplace_id": mkt, "occurred_at": at, **fields}
                add((at, topic, seller, e))

            ev("order.placed", ORDERS, t, order_id=oid, buyer_id=buyer,
               total=f"{int(rng.lognormvariate(3.3, 0.9)) + 1}.{rng.randrange(100):02d}",
               currency="USD" if mkt == "us" else "EUR", ship_by=ship_by, digital=digital,
               purchase_protected=rand() < 0.2, tracking_required=rand() < 0.6,
               items=1 + int(expo(1.5)))
            cancelled = rand() < 0.03
            if cancelled:
                ev("order.cancelled", ORDERS, t + int(uniform(0.1, 24) * HOUR), order_id=oid,
                   cancelled_by=rng.choice(("buyer", "buyer", "seller", "platform")))
            shipped_at = None
            if not digital and not cancelled and rand() < 0.98:
                if rand() < self.late[s]:
                    shipped_at = ship_by + int(uniform(1, 72) * HOUR)
                else:
                    shipped_at = max(t + 10 * MINUTE, ship_by - int(uniform(1, 60) * HOUR))
                r = rand()
                ev("shipment.shipped", SHIPMENTS, shipped_at, order_id=oid,
                   tracking_number=f"1Z{rng.getrandbits(40):012X}" if r < 0.85 else ("" if r < 0.9 else None),
                   label_purchased=rand() < 0.7, carrier=rng.choice(_CARRIERS))
            if rand() < 0.35:
                self._thread(ev, oid, t + int(uniform(-2, 3) * DAY), s)
            if rand() < 0.03:
                th = oid + "-s"
                at = t + int(uniform(0, 2) * DAY)
                ev("message.sent", MESSAGES, at, thread_id=th, message_id=th + "-1", sender_role="seller",
                   channel="marketplace", body=_BODIES[2])
                ev("message.sent", MESSAGES, at + int(expo(1 / 6) * HOUR), thread_id=th, message_id=th + "-2",
                   sender_role="buyer", body=_BODIES[2])
            if rand() < 0.45:
                rid = oid + "-r"
                at = (shipped_at or t) + int(uniform(3, 14) * DAY)
                rating = rng.randint(1, 3) if rand() < self.low[s] else rng.choice((4, 5, 5, 5))
                ev("review.posted", REVIEWS, at, review_id=rid, order_id=oid, rating=rating,
                   text_length=rng.randrange(400))
                r = rand()
                if r < 0.02:
                    ev("review.posted", REVIEWS, at + int(uniform(1, 10) * DAY), review_id=rid, order_id=oid,
                       rating=min(5, rating + 1), text_length=rng.randrange(400))
                elif r < 0.03:
                    ev("review.removed", REVIEWS, at + int(uniform(1, 10) * DAY), review_id=rid)
            if rand() < 0.02:
                ev("refund.issued", REFUNDS, t + int(uniform(2, 10) * DAY), refund_id=oid + "-f", order_id=oid,
                   amount=f"{rng.randrange(5, 50)}.00", source=rng.choice(("seller", "platform")))
            if rand() < 0.02:
                cid = oid + "-c"
                opened = t + int(uniform(3, 15) * DAY)
                ev("case.opened", REFUNDS, opened, case_id=cid, order_id=oid)
                if rand() < 0.9:
                    ev("case.closed", REFUNDS, opened + int(uniform(1, 7) * DAY), case_id=cid,
                       resolution=rng.choices(("refunded_by_seller", "refunded_by_platform", "no_refund"),
                                              _CASES[self.cases[s]])[0])
        return out

    def _thread(self, ev, oid: str, asked: int, s: int) -> None:
        rng = self.rng
        rand = rng.random
        th = oid + "-t"
        ev("message.sent", MESSAGES, asked, thread_id=th, message_id=th + "-1", sender_role="buyer",
           channel="marketplace", body=rng.choice(_BODIES))
        if rand() < 0.15:
            ev("message.sent", MESSAGES, asked + 30 * SECOND, thread_id=th, message_id=th + "-a",
               sender_role="auto_reply", channel="marketplace", body="Thanks! I will answer soon.")
        if rand() < 0.03:
            ev("message.sent", MESSAGES, asked + HOUR, thread_id=th, message_id=th + "-p",
               sender_role="platform", channel="marketplace", body="Reminder: answer your buyer.")
        if rand() < 0.93:
            reply = asked + int(rng.expovariate(1 / self.reply[s]) * HOUR) + SECOND
            ev("message.sent", MESSAGES, reply, thread_id=th, message_id=th + "-2", sender_role="seller",
               channel=rng.choice(("marketplace", "marketplace", "marketplace", "email", "chat")),
               body=rng.choice(_BODIES))
            if rand() < 0.4:
                follow = reply + int(rng.uniform(0.2, 30) * HOUR)
                ev("message.sent", MESSAGES, follow, thread_id=th, message_id=th + "-3", sender_role="buyer",
                   channel="marketplace", body=rng.choice(_BODIES))
                if rand() < 0.25:
                    ev("message.sent", MESSAGES, follow + int(rng.uniform(0.2, 30) * HOUR), thread_id=th,
                       message_id=th + "-4", sender_role="seller", channel="marketplace",
                       body=rng.choice(_BODIES))
        if rand() < 0.01:
            ev("thread.spam_marked", MESSAGES, asked + int(rng.uniform(1, 72) * HOUR), thread_id=th)
            if rand() < 0.2:
                ev("thread.spam_unmarked", MESSAGES, asked + int(rng.uniform(73, 200) * HOUR), thread_id=th)


def _kept(value: bytes) -> bytes:
    """A copy of orjson's result that takes its length: each result holds a
    4 KiB buffer (orjson 3.13), and a workload kept whole then took 5 KB per
    event (19 GB for --full's 3 million)."""
    return memoryview(value).tobytes()


def encode(event: dict) -> bytes:
    """The event as published: times formatted as RFC 3339."""
    e = dict(event)
    e["occurred_at"] = fmt(e["occurred_at"])
    if "ship_by" in e:
        e["ship_by"] = fmt(e["ship_by"])
    return _kept(orjson.dumps(e))


def _delay(rng: random.Random) -> int:
    r = rng.random()
    if r < 0.95:
        return int(rng.expovariate(0.5) * SECOND)
    if r < 0.99:
        return int(rng.uniform(0, 10) * MINUTE)
    return int(rng.uniform(0, 6) * HOUR)


def _invalid(rng: random.Random, value: bytes) -> bytes:
    if rng.random() < 0.5:
        return value[: len(value) // 2]  # truncated: not JSON
    event = orjson.loads(value)
    event["occurred_at"] = "2025-13-45T99:00:00Z"  # bad timestamp
    return _kept(orjson.dumps(event))


def generate(events: int = 300_000, sellers: int = 100_000, days: float = 60.0, partitions: int = 8,
             seed: int = 1, start: str = DEFAULT_START, heartbeat_hours: float = 6.0,
             invalid_rate: float = 1e-4, tail_fraction: float = 0.05) -> Workload:
    """`events` (about) in the main part over `days`, then a tail of about
    `tail_fraction` of them over the following days."""
    began = time.perf_counter()
    start_us = parse_day(start)
    end_us = start_us + int(days * DAY)
    tail_end = end_us + int(days * tail_fraction * DAY)
    beats_main = int(days * 24 / heartbeat_hours) * len(INPUT_TOPICS) * partitions
    n_orders = max(1, int((events - beats_main) / EVENTS_PER_ORDER * (1 + tail_fraction)))
    gen = _Generator(sellers, seed)
    raw = gen.orders(n_orders, start_us, tail_end, prefix="")
    rng = gen.rng
    keys = heartbeat_keys(partitions)
    entries = []
    for at, topic, seller, event in raw:
        if at < tail_end:
            entries.append((at + _delay(rng), topic, seller, event))
    beat = start_us + int(heartbeat_hours * HOUR)
    while beat < tail_end:
        for topic in INPUT_TOPICS:
            for p in range(partitions):
                entries.append((beat, topic, keys[p], {
                    "event_id": f"hb/{topic}/{p}/{beat // SECOND}", "type": "clock.heartbeat",
                    "seller_id": keys[p], "occurred_at": beat, "_topic": topic}))
        beat += int(heartbeat_hours * HOUR)
    entries.sort(key=lambda e: e[0])
    main: list = []
    tail: list = []
    counts: Counter = Counter()
    active = set()
    invalid = 0
    value_bytes = 0
    for published, topic, seller, event in entries:
        value = encode(event)
        if rng.random() < invalid_rate:
            value = _invalid(rng, value)
            invalid += 1 if published < end_us else 0
        record = (topic, seller.encode(), value)
        if published < end_us:
            main.append(record)
            counts[(topic, event["type"])] += 1
            value_bytes += len(value)
            if event["type"] != "clock.heartbeat":
                active.add(seller)
        else:
            tail.append(record)
    return Workload(main, tail, start_us, end_us, sellers, partitions, counts, len(active), invalid,
                    time.perf_counter() - began, value_bytes)


def live_events(n: int, sellers: int = 100_000, seed: int = 99) -> list[dict]:
    """About n events of the same mix and seller skew for a live test (times
    are rewritten when sent): event dicts in a plausible order."""
    gen = _Generator(sellers, seed)
    span = 30 * DAY
    raw = gen.orders(int(n / EVENTS_PER_ORDER * 1.15) + 1, 0, span, prefix="live-")
    raw = [r for r in raw if r[0] < span]
    raw.sort(key=lambda r: r[0])
    return [event for _, _, _, event in raw[:n]]


def topic_of(event: dict) -> str:
    kind = event["type"]
    if kind.startswith(("message.", "thread.")):
        return MESSAGES
    if kind.startswith("order."):
        return ORDERS
    if kind.startswith("shipment."):
        return SHIPMENTS
    if kind.startswith("review."):
        return REVIEWS
    return REFUNDS


def describe(w: Workload) -> str:
    total = len(w.records)
    lines = [f"{total:,} events ({w.value_bytes / max(total, 1):.0f} bytes on average), "
             f"{w.active_sellers:,} active sellers of {w.sellers:,}, {w.invalid} invalid, "
             f"{(w.end_us - w.start_us) / DAY:.0f} days from {fmt(w.start_us)[:10]}; "
             f"tail {len(w.tail):,}; generated in {w.seconds:.1f} s"]
    for topic, n in sorted(w.topic_counts.items()):
        lines.append(f"  {topic:24s} {n:9,d} {100 * n / total:5.1f} %")
    for (topic, kind), n in sorted(w.counts.items()):
        lines.append(f"    {kind:22s} {n:9,d} {100 * n / total:5.1f} %")
    return "\n".join(lines)


if __name__ == "__main__":
    import sys

    workload = generate(int(sys.argv[1]) if len(sys.argv) > 1 else 300_000)
    print(describe(workload))
    per_seller = Counter(k for _, k, _ in workload.records)
    sizes = sorted(per_seller.values(), reverse=True)
    top = sum(sizes[: len(sizes) // 5])
    print(f"largest seller {sizes[0]:,} events; top 20 % of active sellers: {100 * top / sum(sizes):.0f} % of events")
