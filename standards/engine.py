"""One partition's processing, without I/O: events in, output records out.

A partition is partition p of every input topic together (SPEC section 3).
The engine keeps the partition clock, wakes items whose outcome changes when
the clock passes a deadline, makes the monthly evaluations, and says which
sellers changed so that scorecards are recomputed once per batch, not once
per event. The Faust agent, `replay`, `backfill` and the benchmarks all drive
this same class.
"""
from __future__ import annotations

import heapq
import sys
from operator import itemgetter
from typing import Iterable, Optional

import orjson

from schemas.validate import HEARTBEAT

from .calendar import month_index
from .judge import STANDARDS
from .numbers import contribution
from .policy import Policy
from .seller import BackfillSeller, SellerState, encode, numbers_of, order_attribution, shared

SCORECARDS = "standards.scorecards"
VIOLATIONS = "standards.violations"
BADGES = "standards.badges"
EVALUATIONS = "standards.evaluations"
ALERTS = "standards.alerts"

Output = tuple  # (topic, key, value dict)
_STATUS = itemgetter("status")

# A violation's evidence from its (numerator, denominator): the numerator
# and the rest of the denominator, but for the case rate its denominator:
# counted cases are no part of the completed orders (a case on an order not
# shipped counts).
EVIDENCE = {
    "message_response": lambda numerator, denominator: {"answered": numerator, "missed": denominator - numerator},
    "on_time_shipping": lambda numerator, denominator: {"on_time": numerator, "late": denominator - numerator},
    "review_rating": lambda numerator, denominator: {"low_reviews": numerator,
                                                     "other_reviews": denominator - numerator},
    "case_rate": lambda numerator, denominator: {"cases": numerator, "completed_orders": denominator},
}


# The month before the first valid one (1970-01): with no state written, a
# restart can make every month again.
_NOTHING_SAVED = month_index(1970, 1) - 1


class PartitionEngine:
    def __init__(self, partition: int, topics: Iterable[str], policy: Policy, wall_clock: bool = False,
                 live: bool = True, evaluate_in_slices: bool = False):
        self.partition = partition
        # live=False (backfill): monthly evaluations only; no badges records,
        # live totals, deadline wake-ups, alerts, scorecards or state to persist.
        self.live = live
        self._seller_class = SellerState if live else BackfillSeller
        # The worker evaluates a month's sellers a slice at a time between
        # batches (evaluate_pending): all at once blocked the event loop for
        # about a second per 30,000 sellers. A seller still to evaluate is
        # evaluated before anything reads or changes it (_settle), so its
        # record is the one it would have had at E.
        self.evaluate_in_slices = evaluate_in_slices
        self._unevaluated: dict[str, None] = {}  # sellers still to evaluate, the next one last (popitem)
        self._unevaluated_after: Optional[int] = None  # they get months after this one, to evaluated_through
        self.topics = tuple(topics)
        self.policy = policy
        self.wall_clock = wall_clock
        self.topic_clock: dict[str, int] = {}
        self.clock: Optional[int] = None
        self._enter_month(None)
        # Valid events dated before the instant of the last month evaluated
        # (they came too late for that evaluation, SPEC 6), drained by the metrics.
        self.events_after_evaluation = 0
        # Deadlines an event proved met too late to correct the live card
        # (SellerState.bound_late_proof), per collection, drained by the metrics.
        self.proofs_past_lateness: dict[str, int] = {}
        self.evaluated_through: Optional[int] = None
        # evaluated_through as the partition's state last written says: a
        # crash that cuts the next write short has the months after it made
        # again, and sellers keep what those read (SellerState.evaluation).
        self.saved_through: Optional[int] = None
        self.sellers: dict[str, SellerState] = {}
        self._wakeups: list = []  # heap of (instant, seller_id, collection, item_id, passes a deadline)
        self.changed: set[str] = set()  # scorecards to recompute
        # Set while the worker works through a backlog, where cards come only
        # at the commits, after many events of a seller each: a seller's live
        # totals are then counted from its items at its next card instead of
        # moved at each of its events (measured: 9 % less CPU in process over
        # the benchmark's workload, cards and every output the same).
        self.coalesce_live = False
        self._live_stale: set[str] = set()  # sellers whose live totals wait for that count
        # Sellers restored from a header written at a later clock than the
        # partition's (a commit cut short after their header, before the
        # partition's record), by that clock: their cards, violations and
        # badges wait until the clock is back there. Recounted before, at the
        # older clock, the input read again sent changes as of before the
        # ones the header says were sent (a violation resolved as of before
        # its opening; found by a test killing workers during commits).
        self._ahead: dict[str, int] = {}
        self._ahead_until: list[tuple[int, str]] = []  # heap of (clock, seller) of those
        self.unsaved: set[str] = set()  # sellers to persist (absent: deleted)
        self._dropped: list = []  # (seller_id, its last dirty items) of sellers deleted from state
        self._releasable: dict[str, int] = {}  # seller -> how many of its held transitions are written (release)
        # Sellers whose state holds transitions, or whose state written last
        # still did (sent since): their header is to be written (holds_transitions).
        self.holding: set[str] = set()
        self.meta_unsaved = False
        # Output topic -> the offset of this partition's output partition from
        # which outputs may be missing from the state last written (the
        # worker's already-sent window, streams/already_sent.py); kept here
        # only to be written with the partition's clocks.
        self.outputs_from: dict[str, int] = {}
        self.first_response_seconds: list[float] = []  # drained by the metrics
        # Sellers new to this partition, drained by the worker: a seller on
        # two of its partitions is input partitioned otherwise.
        self.new_sellers: list[str] = []
        self.status_counts: dict[tuple[str, str], int] = {}
        self.badge_counts: dict[str, int] = {}

    # -- events ----------------------------------------------------------------

    def process(self, topic: str, event: dict) -> list[Output]:
        out: list[Output] = []
        t = event["occurred_at"]
        if event["type"] != HEARTBEAT:
            if t < self.evaluated_at:
                self.events_after_evaluation += 1
            moved = self._apply(event, out)
        else:
            moved = None
        seen = self.topic_clock.get(topic, -1)
        if t > seen:
            self.topic_clock[topic] = t
            self.meta_unsaved = True
            if self.clock is None or seen <= self.clock:  # else this topic was not the one holding the clock back
                self._advance(self._event_clock(), out)
        if moved is not None and self.clock is not None:
            # At the clock the event brings: warned at the clock before it, an
            # unmarked spam thread got a warning as of then, and one even when
            # its deadline passed with the event (found by an audit).
            seller, collection, item_id = moved
            self._warn(seller, collection, item_id, seller.item(collection, item_id), out)
        return out

    def _warn(self, seller: SellerState, collection: str, item_id: str, item, out: list) -> None:
        """Send the warnings due for the item at the clock."""
        alerts = seller.due_alerts(collection, item_id, item, self.clock, self.policy)
        if alerts:  # seldom: a generator made for none cost 0.7 % of the live path's instructions
            self.unsaved.add(seller.seller_id)
            out.extend((ALERTS, seller.seller_id, a) for a in alerts)

    def tick(self, now: int) -> list[Output]:
        """Live mode: the wall clock advances the partition clock too."""
        out: list[Output] = []
        if self.wall_clock:
            self._advance(now, out)
        return out

    def _event_clock(self) -> Optional[int]:
        if len(self.topic_clock) < len(self.topics):
            return None
        return min(map(self.topic_clock.__getitem__, self.topics))

    def _apply(self, event: dict, out: list) -> Optional[tuple[SellerState, str, str]]:
        """Apply a valid event to its item; the item, when one of its
        deadlines moved (to warn about once the clock has moved too)."""
        seller_id = event["seller_id"]
        if self._unevaluated:
            self._settle(seller_id, out)
        seller = self.sellers.get(seller_id)
        if seller is None:
            seller = self.sellers[seller_id] = self._seller_class(seller_id, self.partition)
            if self.live:
                self.new_sellers.append(seller_id)
        if not self.live:
            seller.apply(event)
            return None
        collection, item_id = seller.locate(event)
        item = seller.hot_item(collection, item_id)  # read before and after, and changed in place
        timing_before = seller.timing(collection, item)
        proof_before = seller.proof(collection, item)
        counted_at_card = self.coalesce_live or seller_id in self._live_stale
        if not counted_at_card:
            contribution_before = seller.live_contribution(collection, item_id, item, self.clock, self.policy)
        item = seller.apply_to(collection, item_id, item, event)
        if item is not None:
            if proof_before is not None and self.clock is not None:
                if past := seller.bound_late_proof(collection, item, proof_before, self.clock, self.policy):
                    self.proofs_past_lateness[collection] = self.proofs_past_lateness.get(collection, 0) + past
            seller.applied(collection, item_id, item)
        if counted_at_card:
            self._live_stale.add(seller_id)
        else:
            seller.add_live(contribution_before,
                            seller.live_contribution(collection, item_id, item, self.clock, self.policy),
                            self._live_first_month)
        self.changed.add(seller_id)
        self.unsaved.add(seller_id)
        timing = seller.timing(collection, item)
        if timing == timing_before:  # no deadline moved: nothing to schedule or warn about
            return None
        if collection == "threads" and None not in timing and (timing_before is None or None in timing_before):
            self.first_response_seconds.append((timing[1] - timing[0]) / 1_000_000)
        self._wake_next(seller, collection, item_id, seller.wakeups(collection, item, self.policy), self.clock)
        return seller, collection, item_id

    # -- time ------------------------------------------------------------------

    def _advance(self, new_clock: Optional[int], out: list) -> None:
        if new_clock is None or (self.clock is not None and new_clock <= self.clock):
            return
        old, self.clock = self.clock, new_clock
        self.meta_unsaved = True
        if self._ahead_until and self._ahead_until[0][0] <= new_clock:
            self._catch_up_with_headers(new_clock)
        if new_clock >= self._next_month_at:
            self._enter_month(new_clock)
            if self.live:
                self.changed.update(self.sellers)  # the period to date moved to other months
        wakeups = self._wakeups
        passed: dict = {}  # (seller, collection, item id) -> the item, pending until a deadline now passed
        while wakeups and wakeups[0][0] <= new_clock:
            instant, seller_id, collection, item_id, deadline = heapq.heappop(wakeups)
            if self._unevaluated:
                self._settle(seller_id, out)
            seller = self.sellers.get(seller_id)
            if seller is None:
                continue
            item = seller.item(collection, item_id)
            # One the item no longer has (its timing changed since) is moot,
            # and so the rest of its chain: the new timing started its own.
            upcoming = list(seller.wakeups(collection, item, self.policy)) if item is not None else ()
            if (instant, deadline) not in upcoming:
                continue
            if deadline:
                self.changed.add(seller_id)
                passed[seller_id, collection, item_id] = item
            else:
                self._warn(seller, collection, item_id, item, out)
            self._wake_next(seller, collection, item_id, upcoming, instant, deadline)
        first_month = self._live_first_month
        for (seller_id, collection, _), item in passed.items():  # pending items the clock decided
            if seller_id in self._live_stale:  # counted at its next card
                continue
            seller = self.sellers[seller_id]
            seller.add_live(contribution(seller, collection, item, None, old, self.policy),
                            contribution(seller, collection, item, None, new_clock, self.policy), first_month)
        self._evaluate(self.policy.calendar.month_of(new_clock - self.policy.evaluation_delay), out)

    def _wake_next(self, seller: SellerState, collection: str, item_id: str, upcoming: Iterable[tuple[int, bool]],
                   after: Optional[int], after_deadline: bool = True) -> None:
        """Schedule the earliest of an item's wake-ups (SellerState.wakeups:
        instant, passes a deadline) that comes after (`after`,
        `after_deadline`): after the wake-up just due, or after every one at
        the clock's instant (`after_deadline` True; `after` None: any). One
        at a time, the next once it is due: most never come (a thread
        answered or an order shipped in time has none left), and scheduling
        them all at once made the clock pop each, moot."""
        # One pass over `upcoming` (often SellerState.wakeups' generator):
        # filtering it into a list for min() cost 1.2 % of the live path.
        bound, wakeup = (after, after_deadline), None
        for candidate in upcoming:
            if (after is None or candidate > bound) and (wakeup is None or candidate < wakeup):
                wakeup = candidate
        if wakeup is not None:
            heapq.heappush(self._wakeups, (wakeup[0], seller.seller_id, collection, item_id, wakeup[1]))

    @property
    def evaluated_through(self) -> Optional[int]:
        """The last month evaluated (None: none yet)."""
        return self._evaluated_through

    @evaluated_through.setter
    def evaluated_through(self, month: Optional[int]) -> None:
        self._evaluated_through = month
        self.evaluated_at = -1 if month is None else self.policy.evaluation_instant(month)

    def _enter_month(self, clock: Optional[int]) -> None:
        """The clock is in a new month (or unknown): what is derived from its month."""
        if clock is None:
            self._live_first_month, self._next_month_at = None, -1
        else:
            calendar = self.policy.calendar
            month = calendar.month_of(clock)
            self._live_first_month, self._next_month_at = month - 2, calendar.month_start(month + 1)

    def _evaluate(self, last_month: int, out: list) -> None:
        """Every monthly evaluation whose instant E the clock has now reached
        (in slices: see evaluate_pending)."""
        if self.evaluated_through is not None and last_month <= self.evaluated_through:
            return
        out += self.evaluate_pending()  # the months before first, for every seller
        self._unevaluated = dict.fromkeys(reversed(self.sellers))
        self._unevaluated_after = self.evaluated_through
        self.evaluated_through = last_month
        self.meta_unsaved = True
        if not self.evaluate_in_slices:
            out += self.evaluate_pending()

    @property
    def pending_evaluations(self) -> int:
        return len(self._unevaluated)

    @property
    def pending_sellers(self) -> int:
        """Sellers whose evaluation or scorecard catch_up would make (one
        with both counts twice); none before the partition has a clock."""
        if self.clock is None:
            return 0
        return len(self._unevaluated) + len(self.changed)

    def catch_up(self, limit: Optional[int] = None) -> list[Output]:
        """Make the pending monthly evaluations, then the scorecards of the
        changed sellers: `limit` sellers at most in all (the rest wait for
        the next call). Nothing before the partition has a clock."""
        if self.clock is None:
            return []
        pending = len(self._unevaluated)
        out = self.evaluate_pending(limit)
        if limit is not None:
            limit -= pending - len(self._unevaluated)
        return out + self.refresh(limit)

    def evaluate_pending(self, limit: Optional[int] = None) -> list[Output]:
        """Evaluate (at most `limit` of) the sellers whose evaluation of the
        months the clock has reached is still to make. Before state is
        written, every one: the written partition says they are made."""
        out: list[Output] = []
        unevaluated = self._unevaluated
        for _ in range(len(unevaluated) if limit is None else min(limit, len(unevaluated))):
            self._make_evaluations(unevaluated.popitem()[0], out)
        return out

    def _settle(self, seller_id: str, out: list) -> None:
        """Make the seller's pending evaluations, if any."""
        if seller_id in self._unevaluated:
            del self._unevaluated[seller_id]
            self._make_evaluations(seller_id, out)

    def _make_evaluations(self, seller_id: str, out: list) -> None:
        """Make the pending evaluations of a seller already taken off `_unevaluated`."""
        seller = self.sellers.get(seller_id)
        if seller is None:
            return
        last_month = self.evaluated_through
        if seller.idle_through(last_month) and not seller.is_empty():
            return  # half the sellers in state after a year of history: nothing to count or drop
        stored = seller.unpack_all()  # read by each step below
        # The months since the last instant, or at the partition's first
        # instant from the seller's earliest possible month. When more than
        # one: to three months after its latest possible month at most, the
        # last whose period holds it (a month with nothing attributed to its
        # period gives no record; a clock that jumped years ahead had each
        # month counted over the seller's items). Not for one month: the pass
        # over the items that bound takes costs about as much as its count.
        after = self._unevaluated_after
        months = None if after is None else range(after + 1, last_month + 1)
        if months is None or len(months) > 1:
            bounds = attribution_months(seller, self.policy)
            months = range(0) if bounds is None else range(
                bounds[0] + 1 if months is None else months.start, min(last_month, bounds[1] + 3) + 1)
        # A backfill writes nothing: no month is made again (None: each month reads the one before).
        kept_since = (_NOTHING_SAVED if self.saved_through is None else self.saved_through) if self.live else None
        for month in months:
            record = seller.evaluation(month, self.policy, kept_since)
            if record is None:
                continue
            out.append((EVALUATIONS, seller_id, record))
            if self.live:
                out.append((BADGES, seller_id, {
                    "type": "badges.monthly", "seller_id": seller_id, "month": record["month"],
                    "star_seller": record["star_seller"]["eligible"], "badges": record["badges"],
                    "criteria": record["star_seller"]["criteria"]}))
        # Also a seller with nothing to evaluate: its items without an
        # attribution expire too, and an empty seller leaves the state.
        past = seller.prune(last_month, self.policy, kept_since)
        if self.live:
            self.unsaved.add(seller_id)
        else:  # nothing is written: a backfill over months of history must not collect what it drops
            seller.dirty = None
        if seller.is_empty() and (not seller.last_evaluations or seller.last_evaluations[-1][0] < last_month):
            if self.live:
                self._dropped.append((seller_id, seller.take_dirty()))
            del self.sellers[seller_id]
            self.changed.discard(seller_id)
            self._live_stale.discard(seller_id)
            self._ahead.pop(seller_id, None)
        else:
            seller.repack(stored)
            seller.set_apart(past)

    # -- scorecards, violations, badges -------------------------------------------

    def refresh(self, limit: Optional[int] = None) -> list[Output]:
        """Recompute the scorecards of changed sellers (at most `limit` of
        them; the rest stay changed for the next call); emit what changed."""
        out: list[Output] = []
        if self.clock is None:
            return out
        changed = self.changed
        for _ in range(len(changed) if limit is None else min(limit, len(changed))):
            seller_id = changed.pop()
            if self._unevaluated:
                self._settle(seller_id, out)
            seller = self.sellers.get(seller_id)
            if seller is not None:
                self._refresh_seller(seller, out)
        return out

    def _catch_up_with_headers(self, clock: int) -> None:
        ahead = self._ahead_until
        while ahead and ahead[0][0] <= clock:
            _, seller_id = heapq.heappop(ahead)
            if self._ahead.pop(seller_id, None) is not None and seller_id in self.sellers:
                self.changed.add(seller_id)

    def _refresh_seller(self, seller: SellerState, out: list) -> None:
        """A scorecard when the seller's numbers (or the period's months) changed."""
        if seller.seller_id in self._ahead:  # recounted once the clock is back where its header was
            return
        if seller.seller_id in self._live_stale:
            self._live_stale.discard(seller.seller_id)
            seller.count_live(self.clock, self.policy)
        signature = seller.live_totals(self._live_first_month + 2)  # the clock's month
        if signature == seller.card_signature:
            return
        seller.card_signature = signature
        numbers = numbers_of(signature)
        card = seller.scorecard(numbers, self.clock, self.policy)
        out.append((SCORECARDS, seller.seller_id, card))
        self._daily_progress(seller, card, numbers, out)
        if self._track_statuses(seller, card):  # else no violation opens or resolves either
            self._violations(seller, card)
        self._badge_changes(seller, card)

    def _daily_progress(self, seller: SellerState, card: dict, numbers, out: list) -> None:
        """At most once per seller and day of the clock (in the policy's zone), on the days its
        numbers change (or the month changes), where the period has anything counted."""
        day = card["period"]["end"]
        if seller.live.get("progress_day") == day or not numbers.has_activity():
            return
        seller.live["progress_day"] = sys.intern(day)  # one string per day for every seller
        self._header_changed(seller)
        out.append((BADGES, seller.seller_id, {
            "type": "badges.daily_progress", "seller_id": seller.seller_id, "day": day,
            "star_seller": card["star_seller"]["eligible"], "badges": card["badges"],
            "criteria": card["star_seller"]["criteria"], "period": card["period"], "as_of": card["as_of"]}))

    def _header_changed(self, seller: SellerState) -> None:
        seller.header_changed = True
        self.unsaved.add(seller.seller_id)

    def _track_statuses(self, seller: SellerState, card: dict) -> bool:
        """Count the card's statuses in place of the seller's last ones;
        whether they changed."""
        # in STANDARDS' order, as scorecard_standards lists them (by map: a generator cost 0.5 % live)
        statuses = shared(tuple(map(_STATUS, card["standards"].values())))
        previous = seller.live.get("status")
        if statuses == previous:
            return False
        self._header_changed(seller)
        counts = self.status_counts
        for i, name in enumerate(STANDARDS):
            if previous:
                counts[(name, previous[i])] -= 1
            counts[(name, statuses[i])] = counts.get((name, statuses[i]), 0) + 1
        seller.live["status"] = statuses
        return True

    def _violations(self, seller: SellerState, card: dict) -> None:
        live = seller.live
        open_ = live.get("open", ())  # created on the first violation: most sellers never have one
        for name in STANDARDS:
            standard = card["standards"][name]
            status = standard["status"]
            if status == "not_met" and name not in open_:
                open_ = live["open"] = [*open_, name]
                kind = "violation.opened"
            elif status == "met" and name in open_:
                open_ = live["open"] = [n for n in open_ if n != name]
                kind = "violation.resolved"
            else:
                continue
            sequence = live.setdefault("seq", {})
            sequence[name] = sequence.get(name, 0) + 1
            self._header_changed(seller)
            numerator, denominator = standard["numerator"], standard["denominator"]
            self._hold(seller, VIOLATIONS, {
                "type": kind, "violation_id": f"{seller.seller_id}/{name}/{sequence[name]}",
                "seller_id": seller.seller_id, "standard": name,
                "numerator": numerator, "denominator": denominator, "rate": standard["rate"],
                "threshold": standard["threshold"], "period": card["period"],
                "evidence": EVIDENCE[name](numerator, denominator), "as_of": card["as_of"],
            })

    def _badge_changes(self, seller: SellerState, card: dict) -> None:
        earned = shared((("star_seller",) if card["star_seller"]["eligible"] else ()) + tuple(card["badges"]))
        before = seller.live.get("badges", ())
        if earned == before:
            return
        seller.live["badges"] = earned
        self._header_changed(seller)
        for badge in sorted(set(earned) ^ set(before)):
            self.badge_counts[badge] = self.badge_counts.get(badge, 0) + (1 if badge in earned else -1)
            self._hold(seller, BADGES, {
                "type": "badge.eligibility_changed", "seller_id": seller.seller_id, "badge": badge,
                "eligible": badge in earned, "criteria": card["star_seller"]["criteria"],
                "period": card["period"], "as_of": card["as_of"]})

    # A transition (a violation opened or resolved, a badge's eligibility
    # changed) is sent only once the state that holds it is written and
    # acknowledged: sent at once, a crash before that write left consumers
    # told of a change the restored state did not have, and the recount
    # after the restart, at another point of the input, could find no change
    # to send (a violation resolved, then not met again with no opening
    # sent). Held in the seller's header until then (`held`), it is sent
    # after the commit's acknowledgements or, after a crash, once the state is
    # read back: at least once, always the same record.

    def _hold(self, seller: SellerState, topic: str, record: dict) -> None:
        seller.live.setdefault("held", []).append([topic, record])
        self.holding.add(seller.seller_id)
        self._header_changed(seller)

    def _header_stored(self, seller: SellerState) -> None:
        """The seller's header as it is now is on the state topic: the
        transitions it holds may be released, and with none left the
        seller needs no write for them."""
        held = seller.live.get("held")
        if held:
            self._releasable[seller.seller_id] = len(held)
            self.holding.add(seller.seller_id)
        else:
            self.holding.discard(seller.seller_id)

    def release(self) -> list[Output]:
        """The held transitions of the state last taken (take_unsaved) or
        restored, to send now that the broker has it; gone from the state
        at its next write."""
        out: list[Output] = []
        for seller_id, written in self._releasable.items():
            seller = self.sellers.get(seller_id)
            held = seller.live.get("held") if seller is not None else None
            if not held:
                continue
            out += [(topic, seller_id, record) for topic, record in held[:written]]
            del held[:written]
            if not held:
                del seller.live["held"]
            self._header_changed(seller)
        self._releasable = {}
        return out

    # -- persistence ---------------------------------------------------------------

    # State is stored as records keyed by JSON arrays: [partition] for the
    # partition's clocks, [partition, seller] for a seller's own fields and
    # [partition, seller, collection, item] for each item, so that a commit
    # writes only what changed, and an item of a few dozen bytes at a time.

    def note_outputs_from(self, outputs_from: dict[str, int]) -> None:
        """Where this partition's outputs unknown to the state written next may
        start (written with the partition's clocks)."""
        if outputs_from != self.outputs_from:
            self.outputs_from = outputs_from
            self.meta_unsaved = True

    def take_unsaved(self) -> list[tuple[bytes, Optional[bytes]]]:
        """(key, value or None to delete) of everything changed since the last
        call; every pending evaluation must be made first (evaluate_pending)."""
        if self._unevaluated:
            raise RuntimeError("state written with evaluations still to make: it would say they were made")
        p = self.partition
        # What expiry did goes after the partition's record: records are
        # written in order, and a write cut short by a crash keeps a prefix.
        # Items are deleted, and their ids noted gone, only by expiry after an
        # evaluation, which the partition's record says was made; without it
        # the month is evaluated again after the restart, and must find its
        # items as they were (the same record), not their ids gone.
        records, expired = [], []
        for seller_id, items in self._dropped:
            expired += [(encode([p, seller_id, c, i]), None) for c, i, _ in items]
        for seller_id in self.unsaved:
            seller = self.sellers.get(seller_id)
            if seller is None:
                expired.append((encode([p, seller_id]), None))
                self.holding.discard(seller_id)
                continue
            for c, i, stored in seller.take_dirty():
                (records if stored is not None and c != "gone" else expired).append(
                    (encode([p, seller_id, c, i]), stored))
            if seller.header_changed:
                header = seller.header()
                header["t"] = self._ahead.get(seller_id, self.clock)  # the clock its live state is of
                records.append((encode([p, seller_id]), encode(header)))
                seller.header_changed = False
                self._header_stored(seller)
        if self.meta_unsaved:
            records.append((encode([p]), encode(
                {"clocks": self.topic_clock, "evaluated_through": self.evaluated_through,
                 "policy": self.policy.fingerprint, "outputs_from": self.outputs_from})))
            self.saved_through = self.evaluated_through
        self.unsaved, self._dropped, self.meta_unsaved = set(), [], False
        return records + expired

    def restore(self, records: dict[tuple, Optional[bytes]]) -> None:
        """Load this partition's state from its latest records (decoded keys)."""
        headers, items = {}, {}
        written_under = None  # the policy the partition's state was last written under
        for key, value in records.items():
            if value is None:
                continue
            if len(key) == 1:
                meta = orjson.loads(value)
                written_under = meta.get("policy")  # absent: written by a version before
                self.outputs_from = meta.get("outputs_from", {})
                self.topic_clock, self.evaluated_through = dict(meta["clocks"]), meta["evaluated_through"]
                self.saved_through = self.evaluated_through
                self.clock = self._event_clock()
                self._enter_month(self.clock)
            elif len(key) == 2:
                headers[key[1]] = orjson.loads(value)
            else:
                items.setdefault(key[1], []).append((key[2], key[3], value))
        for seller_id, header in headers.items():
            seller = SellerState.load(seller_id, self.partition, header, items.get(seller_id, ()))
            self._load_seller(seller)
            self._header_stored(seller)  # what it holds was written, perhaps not sent before the worker stopped
            written_at = header.get("t")  # absent: written by a version before
            if written_at is not None and (self.clock is None or written_at > self.clock):
                self._ahead[seller_id] = written_at
                self._ahead_until.append((written_at, seller_id))
        heapq.heapify(self._ahead_until)
        if written_under != self.policy.fingerprint:
            # Another policy (the thresholds, the windows): the live numbers
            # were rebuilt under this one, and every seller is recounted now,
            # not at its next event, so that its card, violations and badges
            # follow the policy at once. Months already evaluated stay as made.
            self.changed.update(self.sellers)
            self.meta_unsaved = True

    def _load_seller(self, seller: SellerState) -> None:
        self.sellers[seller.seller_id] = seller
        stored = seller.unpack_all()  # each item is read by several steps below
        seller.rebuild_live(self.clock, self.policy)
        statuses = seller.live.get("status")
        for i, name in enumerate(STANDARDS):
            if statuses:
                key = (name, statuses[i])
                self.status_counts[key] = self.status_counts.get(key, 0) + 1
        for badge in seller.live.get("badges", ()):
            self.badge_counts[badge] = self.badge_counts.get(badge, 0) + 1
        for collection in ("threads", "orders"):
            for item_id, item in getattr(seller, collection).items():
                self._wake_next(seller, collection, item_id, seller.wakeups(collection, item, self.policy), self.clock)
        seller.repack(stored)


def attribution_months(seller: SellerState, policy: Policy) -> Optional[tuple[int, int]]:
    """(earliest, latest) month any of the seller's items could be
    attributed to (SPEC 4); None when none could be."""
    earliest, latest = [], []
    longest_window = max(policy.windows)
    for thread in seller.items_of("threads"):
        if thread.buyer_at is not None:  # attributed to its deadline's day
            earliest.append(thread.buyer_at)
            latest.append(thread.buyer_at + longest_window)
    for order in seller.items_of("orders"):
        if order.placed is not None:
            instants = order_attribution(order)
            earliest += instants
            latest += instants
    for review in seller.items_of("reviews"):
        if review.postings:  # its first posting
            earliest.append(review.postings[0][0])
            latest.append(review.postings[0][0])
    for case in seller.items_of("cases"):
        if case.closes:  # its latest close
            earliest.append(case.closes[0][0])
            latest.append(case.closes[-1][0])
    if not earliest:
        return None
    month_of = policy.calendar.month_of
    return month_of(min(earliest)), month_of(max(latest))
