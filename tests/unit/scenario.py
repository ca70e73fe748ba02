"""A small builder of input events for the rules' unit tests (no Kafka).

Every builder method makes one raw JSON event (unique `event_id` unless one is
given, to test the SPEC's tie-break), decodes it with
`schemas.validate.decode_event` and feeds it to one `PartitionEngine`, in the
order the methods are called (that is the arrival order). `heartbeat(at)` sends
`clock.heartbeat` on all five input topics, which moves the partition clock to
`at`; `evaluate("2026-04")` moves it to that month's evaluation instant E.

Evaluation records are collected by (seller, month); a second record for the
same seller and month fails the test (the SPEC promises one).
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Optional

import orjson

from schemas.validate import decode_event, format_timestamp
from standards.engine import EVALUATIONS, SCORECARDS, PartitionEngine
from standards.policy import Policy
from streams.partitioning import partition_for
from streams.replay import route
from streams.topics import INPUT_TOPICS, MESSAGES, ORDERS, REFUNDS, REVIEWS, SHIPMENTS


def instant(month: str) -> str:
    """Default evaluation instant E of month "YYYY-MM": its first instant + 24 h."""
    return f"{month}-02T00:00:00Z"


def plus_days(at: str, days: int) -> str:
    return (datetime.fromisoformat(at) + timedelta(days=days)).isoformat()


class Scenario:
    def __init__(self, policy: Optional[Policy] = None):
        self.policy = policy or Policy()
        self.engine = PartitionEngine(0, INPUT_TOPICS, self.policy)
        self.evaluations: dict[tuple[str, str], dict] = {}
        self.scorecards: dict[str, dict] = {}  # latest per seller
        self.sent: list[tuple[str, bytes]] = []  # (topic, raw) in arrival order
        self.outputs: list[tuple[str, str, dict]] = []  # (topic, key, record) of every output, in order
        self._n = 0

    # -- plumbing ------------------------------------------------------------------

    def send(self, topic: str, type_: str, seller: str, at: str, event_id: Optional[str] = None,
             **fields) -> "Scenario":
        self._n += 1
        event = {"event_id": event_id or f"e{self._n:06d}", "type": type_,
                 "seller_id": seller, "occurred_at": at, **fields}
        return self.feed(topic, json.dumps(event).encode())

    def feed(self, topic: str, raw: bytes) -> "Scenario":
        self.sent.append((topic, raw))
        self._collect(self.engine.process(topic, decode_event(raw)))
        return self

    def _collect(self, outputs: list) -> None:
        self.outputs += outputs
        for topic, key, record in outputs:
            if topic == EVALUATIONS:
                assert (key, record["month"]) not in self.evaluations, f"second record {key} {record['month']}"
                self.evaluations[(key, record["month"])] = record
            elif topic == SCORECARDS:
                self.scorecards[key] = record

    def commit(self, changelog: Optional[dict] = None) -> dict:
        """`changelog` (decoded key -> latest value, None once deleted: what
        the compacted state topic keeps; a new one when None) with what the
        engine wrote since its last commit added."""
        changelog = {} if changelog is None else changelog
        changelog.update((tuple(orjson.loads(key)), value) for key, value in self.engine.take_unsaved())
        return changelog

    def restarted(self, changelog: dict, policy: Optional[Policy] = None) -> "Scenario":
        """A new scenario whose engine is restored from `changelog` (decoded
        key -> value, kept across restarts) with what this one wrote since
        added: a restart (under `policy`, default this one's)."""
        self.commit(changelog)
        again = Scenario(policy or self.policy)
        again.engine.restore(dict(changelog))
        return again

    # -- clock -----------------------------------------------------------------------

    def heartbeat(self, at: str, topics=INPUT_TOPICS) -> "Scenario":
        for topic in topics:
            self.send(topic, "clock.heartbeat", "hb", at)
        self._collect(self.engine.refresh())
        return self

    def evaluate(self, month: str) -> "Scenario":
        return self.heartbeat(instant(month))

    # -- messages --------------------------------------------------------------------

    def message(self, seller: str, thread: str, at: str, role: str, event_id=None) -> "Scenario":
        return self.send(MESSAGES, "message.sent", seller, at, event_id, thread_id=thread,
                         message_id=f"m{self._n + 1}", sender_role=role)

    def buyer(self, seller: str, thread: str, at: str) -> "Scenario":
        return self.message(seller, thread, at, "buyer")

    def seller_msg(self, seller: str, thread: str, at: str, role: str = "seller") -> "Scenario":
        return self.message(seller, thread, at, role)

    def spam(self, seller: str, thread: str, at: str, marked: bool = True, event_id=None) -> "Scenario":
        kind = "thread.spam_marked" if marked else "thread.spam_unmarked"
        return self.send(MESSAGES, kind, seller, at, event_id, thread_id=thread)

    # -- orders and shipments --------------------------------------------------------

    def order(self, seller: str, order: str, at: str, total: str = "60.00", ship_by: Optional[str] = None,
              digital: bool = False, protected: bool = False, tracking_required: bool = True,
              event_id=None) -> "Scenario":
        return self.send(ORDERS, "order.placed", seller, at, event_id, order_id=order, total=total,
                         currency="USD", ship_by=ship_by or plus_days(at, 2), digital=digital,
                         purchase_protected=protected, tracking_required=tracking_required)

    def digital_sales(self, seller: str, count: int, at: str, total: str = "60.00",
                      prefix: str = "d") -> "Scenario":
        """`count` digital orders: sales (and completed orders) that touch no shipping numbers."""
        for i in range(count):
            self.order(seller, f"{prefix}{i}", at, total=total, digital=True)
        return self

    def cancel(self, seller: str, order: str, at: str) -> "Scenario":
        return self.send(ORDERS, "order.cancelled", seller, at, order_id=order, cancelled_by="buyer")

    def ship(self, seller: str, order: str, at: str, tracking: Optional[str] = "TRK1",
             label: bool = False) -> "Scenario":
        return self.send(SHIPMENTS, "shipment.shipped", seller, at, order_id=order,
                         tracking_number=tracking, label_purchased=label, carrier="ups")

    # -- reviews ---------------------------------------------------------------------

    def review(self, seller: str, review: str, at: str, rating: int = 5, order: str = "o-r",
               event_id=None) -> "Scenario":
        return self.send(REVIEWS, "review.posted", seller, at, event_id, review_id=review,
                         order_id=order, rating=rating)

    def remove_review(self, seller: str, review: str, at: str) -> "Scenario":
        return self.send(REVIEWS, "review.removed", seller, at, review_id=review)

    # -- refunds and cases -----------------------------------------------------------

    def case_opened(self, seller: str, case: str, order: str, at: str) -> "Scenario":
        return self.send(REFUNDS, "case.opened", seller, at, case_id=case, order_id=order)

    def case_closed(self, seller: str, case: str, at: str,
                    resolution: str = "refunded_by_seller") -> "Scenario":
        return self.send(REFUNDS, "case.closed", seller, at, case_id=case, resolution=resolution)

    def refund(self, seller: str, order: str, at: str, source: str = "seller",
               amount: str = "10.00") -> "Scenario":
        return self.send(REFUNDS, "refund.issued", seller, at, refund_id=f"f{self._n + 1}",
                         order_id=order, amount=amount, source=source)

    # -- reading the results ---------------------------------------------------------

    def made(self, topic: str, step) -> list[dict]:
        """The records of `topic` that `step` (a call on this scenario) made."""
        before = len(self.outputs)
        step()
        return [record for t, _, record in self.outputs[before:] if t == topic]

    def record(self, seller: str, month: str = "2026-04") -> Optional[dict]:
        return self.evaluations.get((seller, month))

    def standard(self, seller: str, name: str, month: str = "2026-04") -> dict:
        return self.evaluations[(seller, month)]["standards"][name]

    def criterion(self, seller: str, name: str, month: str = "2026-04") -> dict:
        return self.evaluations[(seller, month)]["star_seller"]["criteria"][name]


def judged(seller: str, steps, month: str = "2026-04") -> Scenario:
    """A seller with 5 digital sales in February (so that every standard is
    judged and a record exists), the steps (callables taking the scenario)
    applied, and the month evaluated."""
    sc = Scenario().digital_sales(seller, 5, "2026-02-01T00:00:00Z")
    for step in steps:
        step(sc)
    return sc.evaluate(month)


def published(lines: list[bytes], partitions: int) -> list[tuple[str, int, bytes]]:
    """(topic, partition, value) as `replay` publishes a file: keyed by seller_id,
    then a heartbeat at the file's last heartbeat time on every topic and partition."""
    records, last = [], None
    for line in lines:
        if not line.strip():
            continue
        topic, key, heartbeat_at = route(line)
        if heartbeat_at is not None:
            last = max(last or heartbeat_at, heartbeat_at)
        records.append((topic, partition_for(key, partitions) if key is not None else 0, line))
    for topic in INPUT_TOPICS:
        for partition in range(partitions):
            beat = {"event_id": f"replay-end/{topic}/{partition}", "type": "clock.heartbeat",
                    "seller_id": f"replay-end-{partition}", "occurred_at": format_timestamp(last)}
            records.append((topic, partition, orjson.dumps(beat)))
    return records
