"""A seller's whole state, how events reach its items, and its records."""
from __future__ import annotations

import sys
from functools import lru_cache
from types import MappingProxyType
from typing import Iterator, Mapping, Optional

import msgspec
import orjson

from schemas.validate import format_cents, format_timestamp

from .calendar import DAY, HOUR, Calendar, first_day, last_day, month_name
from .entities import ITEM_CLASSES, Case, Order, Review, Thread
from .items import PackedItems
from .judge import STANDARDS, evaluation_standards, quality_card, scorecard_standards, tenure_holds, volume_holds
from .numbers import FIELDS, Numbers, contribution, count, first_sale, fold_sales
from .policy import Policy

# Which item an event changes: (attribute of SellerState, id field, class).
ROUTES = {
    "message.sent": ("threads", "thread_id", Thread),
    "thread.spam_marked": ("threads", "thread_id", Thread),
    "thread.spam_unmarked": ("threads", "thread_id", Thread),
    "order.placed": ("orders", "order_id", Order),
    "order.cancelled": ("orders", "order_id", Order),
    "shipment.shipped": ("orders", "order_id", Order),
    "refund.issued": ("orders", "order_id", Order),
    "review.posted": ("reviews", "review_id", Review),
    "review.removed": ("reviews", "review_id", Review),
    "case.opened": ("cases", "case_id", Case),
    "case.closed": ("cases", "case_id", Case),
}

_NO_TOTALS = (0,) * len(FIELDS)
_NO_RUNS = (0,) * len(STANDARDS)
_NO_CASES: Mapping[str, set] = MappingProxyType({})
_NO_ITEMS: Mapping = MappingProxyType({})
_NEVER = 1 << 62  # SellerState.kept_due with nothing kept
_MONTH_STRIDE = 1 + len(FIELDS)  # SellerState.monthly: a month, then its totals
_SHARED: dict = {}


def _month_at(monthly, month: int) -> int:
    """Where a month's entry starts in SellerState.monthly, -1 when absent."""
    for at in range(0, len(monthly), _MONTH_STRIDE):
        if monthly[at] == month:
            return at
    return -1


def shared(value):
    """One object for equal immutable values that many sellers hold: their
    statuses, badges, runs of months not met (a few hundred distinct values)."""
    return _SHARED.setdefault(value, value)


def numbers_of(live_totals: tuple) -> Numbers:
    return Numbers.from_totals(live_totals[2:], live_totals[1])


# An order is kept this long after it was placed, so that a case opened and
# closed long after the sale still finds the order's total and protection.
ORDER_RETENTION = 400 * DAY
# How many months a late event of an item is still recognized: an item that
# left state (no evaluation covers it any more) leaves its id in `gone` for
# this long, and a later event of that id changes nothing, as it would with
# the item kept (an exact duplicate, a buyer writing again in an old thread,
# an old review edited); an item that nothing attributes yet (a case not
# closed, an order not placed, a thread with spam marks only) is kept this
# long after its first event, for the event that attributes it.
FORGET_MONTHS = 12
# Months an item is kept after the month it is attributed to (plus the
# allowed lateness): three, the last evaluation that covers it (SPEC 3); a
# closed case this long after its latest close, because a close that comes
# later moves its attribution (cases are few: a seller holds a handful).
KEPT_MONTHS = {"threads": 3, "orders": 3, "reviews": 3, "cases": FORGET_MONTHS}
# The collections with deadlines, and the item kind their alerts and metrics name.
DEADLINE_ITEM_KINDS = {"threads": "thread", "orders": "order"}


class SellerState:
    __slots__ = ("seller_id", "partition", "threads", "orders", "reviews", "cases",
                 "first_sale_floor", "cancelled_sales", "last_evaluations", "live", "dirty",
                 "monthly", "cases_by_order", "live_first_sale", "first_sale_stale", "card_signature",
                 "header_changed", "gone", "past_orders", "past_sales", "past_due", "kept_due")

    def __init__(self, seller_id: str, partition: int):
        self.seller_id = seller_id
        self.partition = partition
        # Items by id (an item or its stored bytes, packed: standards/items.py);
        # a shared empty mapping until the first item (most sellers never
        # have a case, half no thread).
        self.threads: Mapping[str, Thread | bytes] = _NO_ITEMS
        self.orders: Mapping[str, Order | bytes] = _NO_ITEMS
        self.reviews: Mapping[str, Review | bytes] = _NO_ITEMS
        self.cases: Mapping[str, Case | bytes] = _NO_ITEMS
        # Ids of items that left state (gone_key: the month the id is
        # forgotten, as its stored form), see FORGET_MONTHS.
        self.gone: Mapping[str, bytes] = _NO_ITEMS
        # Orders that no evaluation still to make counts (attributed to months
        # three and more before the last one made), kept for the cases that
        # name them and for the first sale until their ORDER_RETENTION ends:
        # set apart by `prune`, so that an evaluation goes through the recent
        # items only (after 16 months of history such orders were two thirds
        # of the items in state). An event of one brings it back among
        # `orders`. Not stored apart: a restore puts every order back in
        # `orders`, and the next evaluation sets the same ones apart.
        self.past_orders: Mapping[str, Order | bytes] = _NO_ITEMS
        # What the first sale needs of the past orders: (earliest not
        # cancelled, (placed, cancelled) pairs), as `fold_sales` gives, of
        # every order set apart since they were last counted (the dropped
        # ones too: they are in first_sale_floor as well); None for none.
        self.past_sales: Optional[tuple] = None
        # When each past order may be dropped: [evaluated month, order id]
        # pairs, packed (MessagePack), b"" for none, so that `prune` unpacks
        # only the orders due; an order brought back leaves its pair behind,
        # found stale in its month.
        self.past_due: bytes = b""
        # The first evaluated month at which `prune` may drop a past order or
        # forget an id in `gone` (_NEVER: none is kept), so that it goes
        # through them only then.
        self.kept_due: int = _NEVER
        # Earliest sale among orders already dropped from state.
        self.first_sale_floor: Optional[int] = None
        # (placed, cancelled) of dropped orders placed before that floor whose
        # cancellation is at or after the instant of a month still to be made
        # (or made again after a crash): a sale as of that instant (SPEC 6.1,
        # "not cancelled as of E"), whatever the arrival order that put the
        # cancellation in state before the drop.
        self.cancelled_sales: tuple = ()
        # (month, runs of months not met per standard) of the records since the
        # partition's last written record of evaluations (see `evaluation`).
        self.last_evaluations: Optional[list] = None
        # What the outputs last said: scorecard numbers, open violations, badges.
        self.live: dict = {}
        # Items changed or dropped since the state was last written.
        self.dirty: Optional[set[tuple[str, str]]] = None  # a set once anything changed
        # Derived, rebuilt on load (see `rebuild_live`): the live totals per
        # month, the cases of each order, and the first sale with every event seen.
        # The totals are one flat list, [month, *totals, month, *totals, ...]
        # (a seller has one to four live months: a dict of lists took twice the memory).
        self.monthly: list | tuple = ()
        self.cases_by_order: Mapping[str, set] = _NO_CASES  # a dict of its own once a case names an order
        self.live_first_sale: Optional[int] = None
        self.first_sale_stale = False
        # The live totals the last scorecard was made of (not stored: after a
        # restart the first recount emits the card again).
        self.card_signature: Optional[tuple] = None
        # The header (first_sale_floor, last_evaluations, live) changed since it was last written.
        self.header_changed = True

    item_store: type = PackedItems  # what holds a collection's items

    def locate(self, event: dict) -> tuple[str, str]:
        """(collection, item id) of the item an event changes."""
        collection, id_field, _ = ROUTES[event["type"]]
        return collection, event[id_field]

    def apply(self, event: dict):
        """Apply the event to its item; the item, or None when the event
        changes nothing (then no item is created)."""
        collection, item_id = self.locate(event)
        return self.apply_to(collection, item_id, self.hot_item(collection, item_id), event)

    def apply_to(self, collection: str, item_id: str, item, event: dict):
        """`apply` with the event's item already at hand (`hot_item`)."""
        if item is None:
            if changes_nothing(event) or (self.gone and gone_key(collection, item_id) in self.gone):
                return None
            item = self._writable(collection)[item_id] = ROUTES[event["type"]][2]()
        item.apply(event)
        return item

    # -- items, packed at rest ---------------------------------------------------
    # An item is kept as its stored form (the bytes written to the state topic)
    # once written, and unpacked where it is read: a few dozen bytes instead
    # of a few hundred as objects. An item about to change is unpacked in
    # place and packed again when it is next written (take_dirty).

    def _writable(self, collection: str) -> PackedItems | dict:
        items = getattr(self, collection)
        if items is _NO_ITEMS:
            items = self.item_store()
            setattr(self, collection, items)
        return items

    def item(self, collection: str, item_id: str):
        """The item (None when absent), to be read."""
        value = getattr(self, collection).get(item_id)
        if value is None and collection == "orders" and self.past_orders:
            value = self.past_orders.get(item_id)
        return unpack(collection, value)

    def hot_item(self, collection: str, item_id: str):
        """The item (None when absent) unpacked in place, to be changed (a
        past order back among `orders`)."""
        items = getattr(self, collection)
        value = items.get(item_id)
        if value is None and collection == "orders" and self.past_orders:
            value = self._brought_back(item_id)
            items = self.orders
        if type(value) is bytes:
            value = items[item_id] = unpack(collection, value)
        return value

    def set_apart(self, orders: list[tuple[str, Order, int]]) -> None:
        """Move orders (id, the order, the evaluated month from which it may be
        dropped) from `orders` to `past_orders`, as they are stored."""
        if not orders:
            return
        past = self._writable("past_orders")
        for order_id, _, _ in orders:
            past[order_id] = self.orders.get(order_id)
            del self.orders[order_id]
        floor, cancelled = self.past_sales or (None, ())
        self.past_sales = fold_sales(floor, [*cancelled, *_sales(order for _, order, _ in orders)], 0)
        self._note_past_due([[due, order_id] for order_id, _, due in orders])

    def _brought_back(self, order_id: str):
        """A past order (as it is stored; None when there is none) back among
        `orders`, about to change: `past_sales` counted again without it
        when it is part of them (placed at or before their earliest sale)."""
        value = self.past_orders.get(order_id)
        if value is None:
            return None
        del self.past_orders[order_id]
        self._writable("orders")[order_id] = value
        floor = self.past_sales[0]
        if floor is None or unpack("orders", value).placed[0] <= floor:
            past = [unpack("orders", stored) for stored in self.past_orders.values()]
            self.past_sales = fold_sales(None, _sales(past), 0) if past else None
        return value

    def items_of(self, collection: str) -> Iterator:
        """Every item of a collection, to be read."""
        return (unpack(collection, value) for value in getattr(self, collection).values())

    def unpack_all(self) -> list[tuple[str, PackedItems | dict]]:
        """Each collection as a dict of its items unpacked, for a pass that
        reads each several times; give what this returns to `repack` after it."""
        packed = []
        for collection in ITEM_CLASSES:
            items = getattr(self, collection)
            if items:
                packed.append((collection, items))
                setattr(self, collection, {item_id: unpack(collection, value) for item_id, value in items.items()})
        return packed

    def repack(self, packed: list[tuple[str, PackedItems | dict]]) -> None:
        """The collections `unpack_all` unpacked, packed again with the items
        changed (touched) since: their packed forms of before are still right
        for the others."""
        packed_by_collection = {collection: PackedItems.of(items) if type(items) is dict else items
                                for collection, items in packed}  # a dict: stored forms as `load` left them
        for collection, item_id in self.dirty or ():
            items = packed_by_collection.get(collection)
            if items is None:
                continue
            unpacked = getattr(self, collection)
            if item_id in unpacked:
                items[item_id] = unpacked[item_id]
            elif item_id in items:
                del items[item_id]
        for collection, items in packed_by_collection.items():
            setattr(self, collection, items)

    def applied(self, collection: str, item_id: str, item) -> None:
        """What a live engine keeps of an applied change: the item to write,
        the cases of each order, the first sale."""
        self.touch(collection, item_id)
        if collection == "cases" and item.opened is not None:
            self._index_case(item_id, item)
        elif collection == "orders":
            self._track_first_sale(item)

    # -- live totals -------------------------------------------------------------

    def live_contribution(self, collection: str, item_id: str, item, clock: Optional[int], policy: Policy) -> list:
        """What an item (None when absent) and the items whose contribution a
        change of it can change add to the live totals: an order's cases
        read its total, protection and seller refund."""
        out = contribution(self, collection, item, None, clock, policy) if item is not None else []
        if collection == "orders":
            for case_id in self.cases_by_order.get(item_id, ()):
                case = self.item("cases", case_id)
                if case is not None:
                    out += contribution(self, "cases", case, None, clock, policy)
        return out

    def add_live(self, old: list, new: list, first_month: Optional[int]) -> None:
        """Move the live monthly totals from an old to a new contribution;
        months before first_month (the live period's start) are never read again."""
        if old == new:  # often: a thread is pending until answered or missed, and counts for nothing before
            return
        monthly = self.monthly
        for contrib, sign in ((old, -1), (new, 1)):
            entry_month = at = None  # an item's entries are mostly of one month: look it up once
            for month, index, amount in contrib:
                if first_month is None or month >= first_month:
                    if month != entry_month:
                        entry_month, at = month, _month_at(monthly, month)
                        if at < 0:
                            at = len(monthly)
                            monthly = self.monthly = [*monthly, month, *_NO_TOTALS]
                    monthly[at + 1 + index] += sign * amount

    def _index_case(self, case_id: str, case) -> None:
        if self.cases_by_order is _NO_CASES:
            self.cases_by_order = {}
        self.cases_by_order.setdefault(case.opened[2], set()).add(case_id)

    def _track_first_sale(self, order) -> None:
        placed = order.placed
        if placed is None:
            return
        if order.cancelled_at is None:
            if self.live_first_sale is None or placed[0] < self.live_first_sale:
                self.live_first_sale = placed[0]
        elif placed[0] == self.live_first_sale:
            self.first_sale_stale = True  # the first sale was cancelled: look again

    def rebuild_live(self, clock: Optional[int], policy: Policy) -> None:
        self.count_live(clock, policy)
        self.cases_by_order = _NO_CASES
        for case_id, value in self.cases.items():
            case = unpack("cases", value)
            if case.opened is not None:
                self._index_case(case_id, case)
        self.live_first_sale, self.first_sale_stale = first_sale(self, None), False

    def count_live(self, clock: Optional[int], policy: Policy) -> None:
        """The live monthly totals counted again from the items, at `clock`."""
        first_month = policy.calendar.month_of(clock) - 2 if clock is not None else None
        totals: dict[int, list] = {}  # month -> its totals
        for collection in ITEM_CLASSES:
            for item in self.items_of(collection):
                for month, index, amount in contribution(self, collection, item, None, clock, policy):
                    if first_month is None or month >= first_month:
                        row = totals.get(month)
                        if row is None:
                            row = totals[month] = list(_NO_TOTALS)
                        row[index] += amount
        self.monthly = [value for month, row in totals.items() for value in (month, *row)]

    def live_totals(self, today: int) -> tuple:
        """(today (the month of the clock), first sale, *totals of the period
        to date): everything a scorecard depends on, cheap to compare."""
        monthly = self.monthly
        if len(monthly) > 3 * _MONTH_STRIDE:  # months before the period are never read again
            monthly = self.monthly = [value for at in range(0, len(monthly), _MONTH_STRIDE) if monthly[at] >= today - 2
                                      for value in monthly[at:at + _MONTH_STRIDE]]
        months = [monthly[at + 1:at + _MONTH_STRIDE] for at in range(0, len(monthly), _MONTH_STRIDE)
                  if today - 2 <= monthly[at] <= today]
        if self.first_sale_stale:
            self.live_first_sale, self.first_sale_stale = first_sale(self, None), False
        if len(months) == 1:
            return (today, self.live_first_sale, *months[0])
        return (today, self.live_first_sale, *map(sum, zip(*months))) if months else (
            today, self.live_first_sale, *_NO_TOTALS)

    @staticmethod
    def timing(collection: str, item) -> Optional[tuple]:
        """What an item's (None when absent) deadlines and alerts depend on:
        a thread's initial message and response, an order's placing."""
        if item is None:
            return None
        if collection == "threads":
            return item.initial_at(None), item.response_at(None)
        if collection == "orders":
            return item.placed
        return None

    @staticmethod
    def proof(collection: str, item) -> Optional[tuple]:
        """What a thread's or order's outcome at its deadlines rests on
        (the first buyer and seller-side messages; the placing and first
        shipment), to be given to `bound_late_proof` after a change; None
        for other items and no item."""
        if item is None:
            return None
        if collection == "threads":
            return item.buyer_at, item.seller_at
        if collection == "orders":
            return item.placed, item.shipment
        return None

    @staticmethod
    def bound_late_proof(collection: str, item, before: tuple, clock: int, policy: Policy) -> int:
        """SPEC 3: a late event corrects a deadline's outcome on the live
        scorecard "up to the policy's allowed_lateness after the deadline".
        A change that proves a deadline met (a response at or before it, a
        first shipment at or before ship-by) while the clock is more than
        allowed_lateness past it, the deadline unmoved, leaves that deadline
        missed or late there (`late`), whatever the clock a restart brings
        back (a wall clock is not stored); the evaluations, as of their instant,
        take every event. Judged on the item's fields, counted or not (a
        spam-marked thread may be unmarked); an event changes one of them, so
        a proof moves no deadline. How many deadlines it left so."""
        limit = clock - policy.allowed_lateness  # deadlines before it are past correcting
        if collection == "threads":
            buyer_at, seller_at = before
            if buyer_at is None or item.seller_at == seller_at:
                return 0
            late = set(item.late or ())
            for w, window in enumerate(policy.windows):
                deadline = buyer_at + window
                if (deadline < limit and not (seller_at is not None and buyer_at <= seller_at <= deadline)
                        and buyer_at <= item.seller_at <= deadline):
                    late.add((w, deadline))  # per window: one may move onto another's
        else:
            placed, shipment = before
            if placed is None or placed[4] or item.shipment == shipment:  # digital: shipping never counts
                return 0
            late = set(item.late or ())
            ship_by = placed[3]
            if ship_by < limit and not (shipment is not None and shipment[0] <= ship_by) and item.shipment[0] <= ship_by:
                late.add(ship_by)
        added = len(late) - len(item.late or ())
        if added:
            item.late = sorted(late)
        return added

    # -- time-driven changes -------------------------------------------------

    @staticmethod
    def wakeups(collection: str, item, policy: Policy) -> Iterator[tuple[int, bool]]:
        """(instant, passes a deadline) at which an item's alert (False) or
        outcome (True) may change by time alone: none for a window answered
        in time, nor for an order shipped or cancelled."""
        if collection == "threads":
            thread = item
            initial = thread.initial_at(None)
            if initial is not None:
                response = thread.response_at(None)
                lead = policy.alerts.response_lead_hours * HOUR
                for window in policy.windows:
                    if response is None or response > initial + window:
                        yield thread_alert_at(initial, initial + window, lead), False
                        yield initial + window + 1, True
        elif collection == "orders":
            order = item
            placed = order.placed
            if placed is not None and not placed[4] and order.shipment is None and order.cancelled_at is None:
                yield order_alert_at(placed, policy), False
                yield placed[3] + 1, True

    def due_alerts(self, collection: str, item_id: str, item, clock: int, policy: Policy) -> list[dict]:
        """Warnings before a miss, each once per item (None when absent) and
        deadline (SPEC section 6): a deadline moved by a late event (an
        earlier buyer message or placing) is warned about too."""
        alerts = []
        if collection == "threads":
            thread = item
            initial = thread.initial_at(None) if thread is not None else None
            if initial is None:
                return alerts
            lead = policy.alerts.response_lead_hours * HOUR
            response = thread.response_at(None)
            for window in policy.windows:
                deadline = initial + window
                if (not thread_alert_at(initial, deadline, lead) <= clock <= deadline
                        or (response is not None and response <= deadline)):
                    continue
                warned = thread.warned_deadlines(policy.windows)
                if [window // HOUR, deadline] in warned:
                    continue
                thread.warned = _warned_with(warned, [window // HOUR, deadline], clock)
                self._changed("threads", item_id, thread)
                alerts.append(self._alert(collection, item_id, deadline, clock,
                                          {"window_hours": window // HOUR}))
        elif collection == "orders":
            order = item
            placed = order.placed if order is not None else None
            if placed is None or placed[4] or order.shipment is not None or order.cancelled_at is not None:
                return alerts
            ship_by = placed[3]
            if order_alert_at(placed, policy) <= clock <= ship_by:
                warned = order.warned_deadlines()
                if ship_by not in warned:
                    order.warned = _warned_with(warned, ship_by, clock)
                    self._changed("orders", item_id, order)
                    alerts.append(self._alert(collection, item_id, ship_by, clock, {}))
        return alerts

    def _alert(self, collection: str, item_id: str, deadline: int, clock: int, extra: dict) -> dict:
        kind = DEADLINE_ITEM_KINDS[collection]
        return {"type": f"{kind}.deadline_approaching", "seller_id": self.seller_id,
                "item": {"kind": kind, "id": item_id}, "deadline": format_timestamp(deadline),
                "time_left_seconds": (deadline - clock) // 1_000_000, "as_of": format_timestamp(clock),
                **extra}

    # -- records ---------------------------------------------------------------

    def evaluation(self, month: int, policy: Policy, kept_since: Optional[int] = None) -> Optional[dict]:
        """The monthly evaluation record of SPEC 6.1 for month M, made as of E.
        `kept_since`: the last month the partition's written state says was
        evaluated (default M-1): a crash that cuts the next write short has
        the months after it made again, each reading the runs of the one before."""
        as_of = policy.evaluation_instant(month)
        n = count(self, month - 3, month - 1, as_of, as_of, policy)
        if not n.has_activity():
            return None
        # Runs come from the record of M-1, so that evaluating M again (after
        # a crash left seller state ahead of the partition's) gives the same
        # record: the records since kept_since are kept (two, one commit a month).
        since = month - 1 if kept_since is None else kept_since
        previous, history = _NO_RUNS, []
        for entry in self.last_evaluations or ():  # (month, runs)
            if since <= entry[0] < month:
                history.append(entry)
                if entry[0] == month - 1:
                    previous = entry[1]
        runs, shown = evaluation_standards(n, previous, policy)
        self.last_evaluations = (*history, (month, shared(runs)))
        self.header_changed = True
        record = self._summary(n, month, first_day(month - 3), last_day(month - 1), shown, policy)
        record["month"] = month_name(month)
        return record

    def scorecard(self, n: Numbers, clock: int, policy: Policy) -> dict:
        """The period to date of the partition clock's day (SPEC section 6),
        of the seller's live numbers `n`."""
        today = policy.calendar.month_of(clock)
        as_of, day = _clock_text(clock, policy.calendar)
        record = self._summary(n, today + 1, first_day(today - 2), day, scorecard_standards(n, policy), policy)
        record["as_of"] = as_of
        return record

    def _summary(self, n: Numbers, evaluated_month: int, start: str, end: str, standards: dict,
                 policy: Policy) -> dict:
        quality = quality_card(n, policy)
        volume = volume_holds(n, policy)
        tenure = tenure_holds(n, policy.calendar.month_start(evaluated_month), policy)
        first_sale = _first_sale_text(n.first_sale_at) if n.first_sale_at is not None else None
        amount = format_cents(n.sales_cents)
        shown = {**quality.shown,
                 "volume": {"orders": n.sales_orders, "amount": amount, "holds": volume},
                 "tenure": {"first_sale_at": first_sale, "holds": tenure}}
        return {
            "seller_id": self.seller_id,
            "period": {"start": start, "end": end},
            "policy": policy.name,
            "sales": {"orders": n.sales_orders, "amount": amount, "first_sale_at": first_sale},
            "standards": standards,
            "star_seller": {"eligible": quality.hold and volume and tenure, "criteria": shown},
            "badges": quality.badges,
        }

    # -- expiry ------------------------------------------------------------------

    def prune(self, evaluated_month: int, policy: Policy,
              kept_since: Optional[int] = None) -> list[tuple[str, Order, int]]:
        """Drop items that no evaluation after `evaluated_month` can cover
        (SPEC section 3: kept until the evaluation three months after their
        attribution month, here with allowed_lateness added to it), leaving
        their ids in `gone`; and ids and unattributed items past FORGET_MONTHS.
        `kept_since` as in `evaluation`: the months after it can be made
        again (their items are deleted only after the partition's record).
        What it returns is for `set_apart` once the items are packed again:
        the orders kept that no evaluation after `evaluated_month` counts."""
        lateness = policy.allowed_lateness
        last_window = max(policy.windows)
        month_of = policy.calendar.month_of
        # The ids in `gone` and the past orders only when one may be due.
        kept = self.kept_due <= evaluated_month
        kept_due, self.kept_due = self.kept_due, _NEVER
        gone = self.gone
        for key, value in list(gone.items()) if kept else ():
            forgotten = _decode_item(value)
            if forgotten <= evaluated_month:
                del gone[key]
                self.touch("gone", key)
            else:
                self._kept_until(forgotten)
        forgotten_at = _encode_item(evaluated_month + FORGET_MONTHS)
        sales = list(self.cancelled_sales)  # (placed, cancelled or None) of dropped orders
        # An order stays while a case in state opened before the instant just
        # evaluated names it: the case reads its total and protection (a case
        # closed again a year after the sale). Not one opened later: what a
        # month made again after a crash keeps must not depend on whether
        # such an opening was written before the crash.
        evaluated_at = policy.evaluation_instant(evaluated_month)
        case_orders = {case.opened[2] for case in self.items_of("cases")
                       if case.opened is not None and case.opened[0] < evaluated_at}
        collections = []  # (collection, its items, past orders, the (id, item) to go through)
        for collection in ITEM_CLASSES:
            items = getattr(self, collection)
            collections.append((collection, items, False, list(items.items())))
        if kept and self.past_due:
            collections.append(("orders", self.past_orders, True, self._past_orders_due(evaluated_month)))
        set_apart = []
        named_past = []  # past orders a case keeps: due again at the next evaluation
        dirty = self.dirty or ()
        # An order attributed only before this instant (with the lateness) is
        # three months or more before `evaluated_month`: no evaluation after it counts it.
        past_before = policy.calendar.month_start(evaluated_month - KEPT_MONTHS["orders"] + 1) - lateness
        for collection, items, past, entries in collections:
            for item_id, value in entries:
                if collection == "orders" and item_id in case_orders:
                    if past:
                        named_past.append([evaluated_month + 1, item_id])
                    continue
                item = unpack(collection, value)
                horizon, attributed = _horizon(collection, item, last_window)
                if attributed:
                    due = month_of(horizon + lateness) + KEPT_MONTHS[collection]
                    if due > evaluated_month:  # a past order's pair is then stale (a later one is in past_due)
                        if (not past and collection == "orders" and max(order_attribution(item)) < past_before
                                and (collection, item_id) not in dirty):
                            set_apart.append((item_id, item, due))
                        continue
                elif month_of(horizon) + FORGET_MONTHS > evaluated_month:
                    continue
                if collection == "orders" and item.placed:
                    sales += _sales([item])
                del items[item_id]
                self.touch(collection, item_id)
                if attributed:
                    key = gone_key(collection, item_id)
                    self._writable("gone")[key] = forgotten_at
                    self.touch("gone", key)
                    self._kept_until(evaluated_month + FORGET_MONTHS)
        if named_past:
            self._note_past_due(named_past)
        if not kept:
            self._kept_until(kept_due)
        if sales:
            remade_from = (evaluated_month - 1 if kept_since is None else kept_since) + 1
            self._keep_first_sales(sales, policy.evaluation_instant(remade_from))
        return set_apart

    def _note_past_due(self, pairs: list) -> None:
        self.past_due = _encode_item([*(_decode_item(self.past_due) if self.past_due else ()), *pairs])
        self._kept_until(min(month for month, _ in pairs))

    def _past_orders_due(self, evaluated_month: int) -> list[tuple[str, Order | bytes]]:
        """(id, as it is stored) of the past orders that may be dropped after
        the evaluation of `evaluated_month`, their pairs taken out of `past_due`."""
        pairs = _decode_item(self.past_due)
        later = [pair for pair in pairs if pair[0] > evaluated_month]
        self.past_due = _encode_item(later) if later else b""
        if later:
            self._kept_until(min(month for month, _ in later))
        due = dict.fromkeys(order_id for month, order_id in pairs if month <= evaluated_month)
        return [(order_id, value) for order_id, value in ((i, self.past_orders.get(i)) for i in due)
                if value is not None]

    def _kept_until(self, due: int) -> None:
        if due < self.kept_due:
            self.kept_due = due

    def idle_through(self, evaluated_month: int) -> bool:
        """No evaluation of the months up to `evaluated_month` counts anything
        of the seller's, and `prune` has nothing to drop: it holds no recent
        item, no past order or id in `gone` is due, and it keeps no dropped
        cancelled sale (which each `prune` reconsiders)."""
        return (self.kept_due > evaluated_month
                and not (self.threads or self.orders or self.reviews or self.cases or self.cancelled_sales))

    def _keep_first_sales(self, sales: list, first_instant: int) -> None:
        """Of dropped orders' (placed, cancelled or None), what a first sale
        as of `first_instant` or later can still read: the earliest not
        cancelled (the floor), and those placed before it and cancelled at
        or after that instant, that of the first month a restart can make
        again (a commit cut short after this seller's header and before the
        partition's record; the dropped orders are still in state then, and
        give the same pairs)."""
        floor, kept = fold_sales(self.first_sale_floor, sales, first_instant)
        if floor != self.first_sale_floor or kept != self.cancelled_sales:
            self.first_sale_floor, self.cancelled_sales = floor, kept
            self.header_changed = True

    def is_empty(self) -> bool:
        """Nothing left that a later record or output could need (the first
        sale is needed for tenure for ever)."""
        return not (self.threads or self.orders or self.past_orders or self.reviews or self.cases or self.gone
                    or self.live.get("open") or self.live.get("held") or self.first_sale_floor is not None
                    or self.cancelled_sales)

    # -- persistence -------------------------------------------------------------

    def header(self) -> dict:
        """The seller's own fields; each item is stored under a key of its own."""
        header = {"f": self.first_sale_floor, "e": self.last_evaluations, "l": self.live}
        if self.cancelled_sales:
            header["c"] = self.cancelled_sales
        return header

    def touch(self, collection: str, item_id: str) -> None:
        """The item changed (or was dropped): write it at the next commit."""
        if self.dirty is None:
            self.dirty = set()
        self.dirty.add((collection, item_id))

    def _changed(self, collection: str, item_id: str, item) -> None:
        getattr(self, collection)[item_id] = item
        self.touch(collection, item_id)

    def take_dirty(self) -> list[tuple[str, str, Optional[bytes]]]:
        """(collection, item id, item's stored form or None when dropped) of
        every item changed since the last call; the items stay packed."""
        if not self.dirty:
            return []
        changed = []
        for collection, item_id in self.dirty:
            items = getattr(self, collection)
            value = items.get(item_id)
            if value is not None and type(value) is not bytes:
                value = items[item_id] = _encode_item(value.dump())
            changed.append((collection, item_id, value))
        self.dirty = None
        return changed

    @classmethod
    def load(cls, seller_id: str, partition: int, header: dict, items) -> "SellerState":
        """From a header and (collection, item id, stored form as bytes)
        triples. Each collection is a dict of stored forms by id until the
        pass that follows a load (unpack_all, repack) packs it."""
        seller = cls(seller_id, partition)
        seller.first_sale_floor = header["f"]
        seller.cancelled_sales = tuple(map(tuple, header.get("c", ())))
        seller.last_evaluations = tuple((m, shared(tuple(runs))) for m, runs in header["e"]) if header["e"] else None
        seller.live = live = header["l"]
        for name in ("status", "badges"):
            if name in live:
                live[name] = shared(tuple(live[name]))
        if "progress_day" in live:
            live["progress_day"] = sys.intern(live["progress_day"])
        seller.header_changed = False
        by_collection: dict[str, dict[str, bytes]] = {}
        for collection, item_id, stored in items:
            by_collection.setdefault(collection, {})[item_id] = stored
        for collection, stored_forms in by_collection.items():
            # Items are packed by the pass that follows; the ids gone, which it does not read, now.
            setattr(seller, collection, PackedItems.of(stored_forms) if collection == "gone" else stored_forms)
        # No order is set apart yet (every one is in `orders` again): the ids gone only.
        seller.kept_due = min(map(_decode_item, by_collection.get("gone", {}).values()), default=_NEVER)
        return seller


class BackfillSeller(SellerState):
    """A seller in a backfill, which writes no state: its items stay objects
    in plain dicts (packing them would only cost time; they are dropped when
    they expire)."""
    __slots__ = ()
    item_store = dict

    def unpack_all(self) -> list:
        return []  # its items are objects already

    def items_of(self, collection: str) -> Iterator:
        return getattr(self, collection).values()  # objects already: nothing to unpack


# State records as compact JSON in bytes of their own size: orjson's results
# hold a 4 KiB buffer each (orjson 3.13), and a commit's records, held until
# written, made a flush ~9 us per record of page faults and copies.
encode = msgspec.json.Encoder().encode
# An item's stored form (its record's value, and what the state keeps of it
# at rest) is the MessagePack array of its fields: 40 bytes on average on the
# benchmark against 80 as JSON. A value written as JSON by an earlier version
# (a JSON array: it starts with "[", which no MessagePack array does) still reads.
_encode_item = msgspec.msgpack.Encoder().encode
_decode_item = msgspec.msgpack.Decoder().decode


def unpack(collection: str, value):
    """An item from its stored form; an item (or None) as it is."""
    if type(value) is bytes:
        return ITEM_CLASSES[collection](*(orjson.loads(value) if value[:1] == b"[" else _decode_item(value)))
    return value


def order_attribution(order: Order) -> list[int]:
    """The instants a placed order is attributed at (SPEC 4): placed (sales),
    ship-by, first shipment (completed)."""
    instants = [order.placed[0], order.placed[3]]
    if order.shipment is not None:
        instants.append(order.shipment[0])
    return instants


def _sales(orders) -> list[tuple[int, Optional[int]]]:
    """(placed, cancelled or None) of placed orders."""
    return [(order.placed[0], order.cancelled_at) for order in orders]


def _horizon(collection: str, item, last_window: int) -> tuple[int, bool]:
    """(the latest instant the item can be attributed to, True), or, when
    no event attributes it yet, (its first event, False)."""
    if collection == "threads":
        if item.buyer_at is not None:
            return item.buyer_at + last_window, True
        if item.seller_at is not None:  # opened by the seller: never counted, whatever comes later
            return max([item.seller_at] + [m[0] for m in item.spam_marks or ()]), True
        return min(m[0] for m in item.spam_marks), False
    if collection == "orders":
        if item.placed:
            return max(item.placed[0] + ORDER_RETENTION, *order_attribution(item)), True
        return min(t for t in (item.cancelled_at, item.seller_refund_at, item.shipment and item.shipment[0])
                   if t is not None), False
    if collection == "reviews":  # a removal is for good; an edit keeps the first posting's day
        return (item.postings[0][0] if item.postings else item.removed_at), True
    if item.closes:
        return item.closes[-1][0], True
    return item.opened[0], False


def gone_key(collection: str, item_id: str) -> str:
    """The key of an item's id in `SellerState.gone`."""
    return f"{collection}/{item_id}"


def changes_nothing(event: dict) -> bool:
    """Events no rule reads: they must not create an item."""
    kind = event["type"]
    return ((kind == "message.sent" and event["sender_role"] == "platform")
            or (kind == "refund.issued" and event["source"] != "seller"))


# A seller's first sale is shown on each of its records, and rarely changes.
_first_sale_text = lru_cache(maxsize=16_384)(format_timestamp)


@lru_cache(maxsize=16)
def _clock_text(clock: int, calendar: Calendar) -> tuple[str, str]:
    """(as_of, the calendar's day) of a partition clock, as shown: the same
    for every scorecard of one refresh."""
    return format_timestamp(clock), calendar.day_name(clock)


def thread_alert_at(initial: int, deadline: int, lead: int) -> int:
    """When an unanswered thread is warned about before a deadline: `lead`
    before it, or at its initial message if later (a lead as long as the
    window or longer; as order_alert_at, a partition clock behind the
    message must not warn of a thread that does not exist yet at that clock)."""
    return max(deadline - lead, initial)


def order_alert_at(placed: tuple, policy: Policy) -> int:
    """When an order unshipped on its ship-by day is warned about: at
    `ship_day_alert_hour` of that day, or when it was placed if later (a
    partition clock behind the placing must not warn of an order that does
    not exist yet at that clock)."""
    return max(policy.calendar.at_hour(placed[3], policy.alerts.ship_day_alert_hour), placed[0])


def _warned_with(warned: list, entry, clock: int) -> list:
    """What was warned about with `entry` added (a ship-by time, or a
    thread's [window hours, deadline]), less what the clock has passed: a
    warning comes by its deadline, so it cannot be due again (an item keeps
    one or two, a few bytes each)."""
    return [*(at for at in warned if (at if type(at) is int else at[1]) >= clock), entry]
