"""Per-item state (thread, order, review, case) and how each event changes it.

Every field is a join of the events seen so far (earliest, latest, any), so
applying an event twice, or events in any order, gives the same state: this is
what makes at-least-once delivery safe without remembering event ids.
Everything an evaluation "as of" an instant needs stays in the state: the
earliest and latest of each kind of event, keyed by ``(occurred_at,
event_id)``, the SPEC's tie-break.
"""
from __future__ import annotations

from typing import Any, Optional

from .calendar import HOUR

Stamp = tuple  # (occurred_at, event_id, *payload): ordered by time, then event_id


def _earliest(current: Optional[Stamp], new: Stamp) -> Stamp:
    return new if current is None or new[:2] < current[:2] else current


def _add_once(stamps: Optional[list], new: Stamp) -> list:
    """Keep every distinct stamp (for 'latest as of E' look-ups), sorted."""
    if stamps is None:
        return [new]
    if new in stamps:
        return stamps
    return sorted([*stamps, new])


def latest_before(stamps: Optional[list], as_of: Optional[int]) -> Optional[Stamp]:
    """The last stamp with occurred_at < as_of (all stamps when as_of is None)."""
    if not stamps:
        return None
    if as_of is None:
        return stamps[-1]
    for stamp in reversed(stamps):
        if stamp[0] < as_of:
            return stamp
    return None


def before(value: Optional[int], as_of: Optional[int]) -> Optional[int]:
    return value if value is not None and (as_of is None or value < as_of) else None


def stamp_before(stamp: Optional[Stamp], as_of: Optional[int]) -> Optional[Stamp]:
    return stamp if stamp is not None and (as_of is None or stamp[0] < as_of) else None


def _min(current: Optional[int], new: int) -> int:
    return new if current is None or new < current else current


class Thread:
    """A buyer thread: first buyer message, first seller-side message, spam
    marks, the deadlines warned about, and those whose proof came too late
    for the live scorecard."""

    __slots__ = ("buyer_at", "seller_at", "spam_marks", "warned", "late")

    def __init__(self, buyer_at=None, seller_at=None, spam_marks=None, warned=None, late=None):
        self.buyer_at: Optional[int] = buyer_at
        # Earliest `seller`/`auto_reply` message: the response when at or after
        # the first buyer message, the sign of a seller-opened thread otherwise.
        self.seller_at: Optional[int] = seller_at
        self.spam_marks: Optional[list] = load_stamps(spam_marks)  # [(t, event_id, marked)]
        # [window hours, deadline] pairs already warned about (lists, as
        # they are read back: nothing to convert when a thread is unpacked)
        # (SellerState.due_alerts: a late earlier message can move one
        # window's deadline onto the instant the other was warned for), or
        # None; forms of before: see warned_deadlines.
        self.warned: Optional[list] | int = warned
        # (window index, deadline) pairs missed on the live scorecard whatever
        # the response (SPEC 3; SellerState.bound_late_proof), or None.
        self.late: Optional[list] = [tuple(pair) for pair in late] if late else None

    def apply(self, event: dict) -> None:
        kind = event["type"]
        t = event["occurred_at"]
        if kind == "message.sent":
            role = event["sender_role"]
            if role == "buyer":
                self.buyer_at = _min(self.buyer_at, t)
            elif role in ("seller", "auto_reply"):
                self.seller_at = _min(self.seller_at, t)
        else:
            mark = (t, event["event_id"], kind == "thread.spam_marked")
            self.spam_marks = _add_once(self.spam_marks, mark)

    def initial_at(self, as_of: Optional[int]) -> Optional[int]:
        """Time of the initial buyer message of a counted thread, else None."""
        buyer = before(self.buyer_at, as_of)
        if buyer is None:
            return None
        seller = before(self.seller_at, as_of)
        if seller is not None and seller < buyer:
            return None
        mark = latest_before(self.spam_marks, as_of)
        if mark is not None and mark[2]:
            return None
        return buyer

    def response_at(self, as_of: Optional[int]) -> Optional[int]:
        return before(self.seller_at, as_of)

    def warned_deadlines(self, windows: tuple[int, ...]) -> list[list[int]]:
        warned = self.warned
        if not warned:
            return []
        if type(warned) is int:
            # Written before the deadlines were kept: a bit per index in
            # `windows` of a window warned about, whatever its deadline then.
            # Read as that window's deadline now, which it was unless an
            # earlier buyer message moved it after the warning (then the new
            # one goes unwarned, as it did when that state was written).
            return [[window // HOUR, self.buyer_at + window] for w, window in enumerate(windows) if warned >> w & 1]
        pairs = []
        for entry in warned:
            if type(entry) is int:  # written before windows were kept apart: a deadline of any window
                pairs += [[window // HOUR, entry] for window in windows if self.buyer_at + window == entry]
            else:
                pairs.append(entry)
        return pairs

    def dump(self) -> list:
        fields = [self.buyer_at, self.seller_at, self.spam_marks, self.warned]
        return fields + [self.late] if self.late else fields  # the form of before when none


class Order:
    """An order: earliest placing, earliest cancellation, first shipment, the
    earliest refund the seller paid for it (which excludes later cases), the
    ship-by times warned about, and those whose proof came too late for the
    live scorecard."""

    __slots__ = ("placed", "cancelled_at", "shipment", "seller_refund_at", "warned", "late")

    def __init__(self, placed=None, cancelled_at=None, shipment=None, seller_refund_at=None, warned=None,
                 late=None):
        # (t, event_id, total_cents, ship_by, digital, purchase_protected, tracking_required)
        self.placed: Optional[Stamp] = tuple(placed) if placed else None
        self.cancelled_at: Optional[int] = cancelled_at
        # (t, event_id, has_tracking): tracking number non-empty or label purchased
        self.shipment: Optional[Stamp] = tuple(shipment) if shipment else None
        self.seller_refund_at: Optional[int] = seller_refund_at
        # As Thread.warned: ship-by times warned about, or an int of before.
        self.warned: Optional[list] | int = warned
        self.late: Optional[list] = late  # as Thread.late: ship-by times late whatever the shipment

    def apply(self, event: dict) -> None:
        kind = event["type"]
        t = event["occurred_at"]
        if kind == "order.placed":
            self.placed = _earliest(self.placed, (
                t, event["event_id"], event["total"], event["ship_by"],
                event["digital"], event["purchase_protected"], event["tracking_required"]))
        elif kind == "order.cancelled":
            self.cancelled_at = _min(self.cancelled_at, t)
        elif kind == "shipment.shipped":
            has_tracking = bool(event["tracking_number"]) or event["label_purchased"]
            self.shipment = _earliest(self.shipment, (t, event["event_id"], has_tracking))
        elif kind == "refund.issued" and event["source"] == "seller":
            self.seller_refund_at = _min(self.seller_refund_at, t)

    def warned_deadlines(self) -> list:
        warned = self.warned
        if type(warned) is int:
            # Written before the ship-by times were kept: 1 when the order was
            # warned about, 0 when not. Read as its ship-by now, as in
            # Thread.warned_deadlines (an earlier placing can move it).
            return [self.placed[3]] if warned else []
        return warned or []

    def dump(self) -> list:
        fields = [self.placed, self.cancelled_at, self.shipment, self.seller_refund_at, self.warned]
        return fields + [self.late] if self.late else fields


class Review:
    __slots__ = ("postings", "removed_at")

    def __init__(self, postings=None, removed_at=None):
        self.postings: Optional[list] = load_stamps(postings)  # [(t, event_id, rating)]
        self.removed_at: Optional[int] = removed_at

    def apply(self, event: dict) -> None:
        if event["type"] == "review.posted":
            self.postings = _add_once(self.postings, (event["occurred_at"], event["event_id"], event["rating"]))
        else:
            self.removed_at = _min(self.removed_at, event["occurred_at"])

    def dump(self) -> list:
        return [self.postings, self.removed_at]


class Case:
    __slots__ = ("opened", "closes")

    def __init__(self, opened=None, closes=None):
        self.opened: Optional[Stamp] = tuple(opened) if opened else None  # (t, event_id, order_id)
        self.closes: Optional[list] = load_stamps(closes)  # [(t, event_id, resolution)]

    def apply(self, event: dict) -> None:
        t = event["occurred_at"]
        if event["type"] == "case.opened":
            self.opened = _earliest(self.opened, (t, event["event_id"], event["order_id"]))
        else:
            self.closes = _add_once(self.closes, (t, event["event_id"], event["resolution"]))

    def dump(self) -> list:
        return [self.opened, self.closes]


def load_stamps(values: Any) -> Any:
    """Stamps read back from JSON are lists; they are compared as tuples."""
    return [tuple(v) for v in values] if values else None


# The item collections of a seller, in the order they are gone through, and the class of each.
ITEM_CLASSES = {"threads": Thread, "orders": Order, "reviews": Review, "cases": Case}
