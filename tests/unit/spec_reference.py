"""Independent reference implementation of the monthly evaluation (SPEC 3-6.1).

Written from the contract (docs/SPEC.md) alone, as a test oracle: plain, slow and
meant to be obviously correct.  Every month M is computed from scratch, using
only the (deduplicated) events with ``occurred_at < E(M)``, where
``E(M) = first instant of M + 24 h`` (the default ``evaluation_delay``).
Days and months are UTC's, or those of the ``zone`` given (a policy's
``time_zone``; SPEC 3: "All calendar arithmetic is UTC unless the policy
names a time zone"), read by the datetime module from the tz database.

Entry points:
- ``evaluate(events, T, zone)`` -> list of evaluation records (dicts shaped as SPEC
  6.1), for every seller and every month M with ``E(M) <= T``;
- ``scorecards(events, T, zone, arrivals)`` -> seller_id -> the live scorecard numbers of the
  period to date at partition clock T (see its docstring).
``events`` are the valid events as published (dicts, timestamps as RFC 3339
strings); ``T`` is the final heartbeat time (string or aware datetime).
Both count with the one function ``_count``.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_EVEN, Decimal

UTC = dt.timezone.utc
HOUR = dt.timedelta(hours=1)

# ---- default policy numbers (SPEC section 1 and section 3) ----------------
POLICY_NAME = "service-standards"
EVALUATION_DELAY = dt.timedelta(hours=24)
RESPONSE_WINDOW_STANDARD_H = 48
RESPONSE_WINDOW_STAR_H = 24
MESSAGE_STANDARD_PCT = 80          # >= 80 % answered within 48 h
SHIPPING_STANDARD_PCT = 80         # >= 80 % shipped by ship-by
REVIEW_SMALL_LIMIT = 40            # < 40 reviews: at most 4 low
REVIEW_SMALL_MAX_LOW = 4
REVIEW_LARGE_PCT = 10              # >= 40 reviews: at most 10 % low
LOW_RATING = 3                     # low review: rating <= 3
CASE_SMALL_LIMIT = 300             # < 300 completed orders: at most 3 cases
CASE_SMALL_MAX = 3
CASE_LARGE_PCT = 1                 # >= 300: at most 1 %
STAR_MESSAGE_PCT = 95
STAR_SHIPPING_PCT = 95
STAR_AVG_RATING_X10 = 48           # average >= 4.8
STAR_MIN_ORDERS = 5
STAR_MIN_AMOUNT = Decimal("300.00")
STAR_TENURE = dt.timedelta(days=90)
MIN_SALES = 5                      # fewer than 5 sales -> not_enough_data
CASE_MAX_TOTAL = Decimal("250.00")
ALLOWED_LATENESS = dt.timedelta(days=7)

STANDARDS = ("message_response", "on_time_shipping", "review_rating", "case_rate")

_TS = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))$"
)


def parse_ts(s) -> dt.datetime:
    """RFC 3339 (as SPEC 2 restricts it) -> aware UTC datetime."""
    if isinstance(s, dt.datetime):
        return s.astimezone(UTC)
    m = _TS.match(s)
    if not m:
        raise ValueError(f"bad timestamp {s!r}")
    y, mo, d, h, mi, se, frac, z, sign, oh, om = m.groups()
    us = int((frac or "").ljust(6, "0")) if frac else 0
    local = dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(se), us)
    if z:
        off = dt.timedelta(0)
    else:
        off = dt.timedelta(hours=int(oh), minutes=int(om))
        if sign == "-":
            off = -off
    return (local - off).replace(tzinfo=UTC)


def fmt_ts(t: dt.datetime) -> str:
    """UTC with Z, fraction only when not zero, trailing zeros dropped."""
    t = t.astimezone(UTC)
    s = t.strftime("%Y-%m-%dT%H:%M:%S")
    if t.microsecond:
        s += "." + f"{t.microsecond:06d}".rstrip("0")
    return s + "Z"


def fmt_money(x: Decimal) -> str:
    return str(x.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN))


def month_first(y: int, m: int, zone: dt.tzinfo = UTC) -> dt.datetime:
    """The first instant of the month in the zone, in UTC."""
    return dt.datetime(y, m, 1, tzinfo=zone).astimezone(UTC)


def add_months(y: int, m: int, k: int) -> tuple[int, int]:
    i = y * 12 + (m - 1) + k
    return i // 12, i % 12 + 1


def key(e) -> tuple:
    """Order for "earliest"/"latest": occurred_at, then event_id by code point."""
    return (e["_t"], e["event_id"])


def _past_correcting(evs_seller: list, arrivals: dict) -> tuple[dict, dict]:
    """SPEC 3: outcomes decided when the clock passes a deadline "are corrected
    if an event arrives later that proves otherwise (...), up to the policy's
    allowed_lateness (default 7 days) after the deadline", and allowed_lateness
    "only bounds how long after its partition clock passed a deadline an
    out-of-order arrival still corrects the live scorecard".

    ``arrivals``: event_id -> (arrival rank, the partition clock when it
    arrived, None before there is one). The seller's events are taken in
    arrival order; an event that proves a deadline met (the thread's first
    seller-side message then at or after its first buyer message and at or
    before the deadline, the order's first shipment then at or before
    ship-by) where that was not proven before it, arriving when the clock is
    more than allowed_lateness past the deadline, leaves it missed / late on
    the live card. Returns (thread id -> such (window hours, deadline) pairs,
    order id -> such ship-by times)."""
    threads: dict[str, set] = {}
    orders: dict[str, set] = {}
    messages: dict[str, list] = {}  # thread id -> [first buyer time, first seller-side time]
    shipping: dict[str, list] = {}  # order id -> [first placing, first shipment] (events)
    for e in sorted((e for e in evs_seller if e["event_id"] in arrivals), key=lambda e: arrivals[e["event_id"]][0]):
        clock = arrivals[e["event_id"]][1]
        if e["type"] == "message.sent" and e["sender_role"] != "platform":
            known = messages.setdefault(e["thread_id"], [None, None])
            buyer, seller = known
            at = 0 if e["sender_role"] == "buyer" else 1
            if known[at] is None or e["_t"] < known[at]:
                known[at] = e["_t"]
            if at == 1 and buyer is not None and clock is not None:
                for w in (RESPONSE_WINDOW_STANDARD_H, RESPONSE_WINDOW_STAR_H):
                    deadline = buyer + w * HOUR
                    proven_before = seller is not None and buyer <= seller <= deadline
                    if not proven_before and buyer <= known[1] <= deadline and clock - ALLOWED_LATENESS > deadline:
                        threads.setdefault(e["thread_id"], set()).add((w, deadline))
        elif e["type"] in ("order.placed", "shipment.shipped"):
            known = shipping.setdefault(e["order_id"], [None, None])
            placed, shipment = known
            at = 0 if e["type"] == "order.placed" else 1
            if known[at] is None or key(e) < key(known[at]):
                known[at] = e
            if at == 1 and placed is not None and not placed["digital"] and clock is not None:
                ship_by = parse_ts(placed["ship_by"])
                proven_before = shipment is not None and shipment["_t"] <= ship_by
                if not proven_before and known[1]["_t"] <= ship_by and clock - ALLOWED_LATENESS > ship_by:
                    orders.setdefault(e["order_id"], set()).add(ship_by)
    return threads, orders


def _count(evs_seller: list, pstart: dt.datetime, pend: dt.datetime,
           clock: dt.datetime, tenure_anchor: dt.datetime, arrivals: dict | None = None) -> dict:
    """Numbers and judgement of one seller over one period (SPEC 4, 5, 6.1).

    ``evs_seller``: the (deduplicated, non-heartbeat) events used, all of one seller.
    ``pstart`` .. ``pend``: the period, the first instant of its first month up to
    (excluding) the first instant of the month after its last one; an item counts when
    its attribution instant t has ``pstart <= t < pend`` (its day is in the period).
    ``clock``: decides pending items (a deadline is passed when ``clock > deadline``).
    ``tenure_anchor``: tenure holds when the first sale is at least 90 days before it.
    ``arrivals``: for the live scorecard, when and in which order the events
    arrived (`_past_correcting`); None for a monthly evaluation.

    The monthly evaluation of M uses (events with occurred_at < E, first of M-3, first
    of M, E, first of M); the live scorecard at clock C uses (all events, first of C's
    month - 2, first of the month after C's, C, first of the month after C's).
    """

    def in_period(t: dt.datetime) -> bool:
        # SPEC 4: "An item counts in the month of its attribution day."
        return pstart <= t < pend

    late_threads, late_orders = _past_correcting(evs_seller, arrivals) if arrivals is not None else ({}, {})
    by_type: dict[str, list] = {}
    for e in evs_seller:
        by_type.setdefault(e["type"], []).append(e)
    for lst in by_type.values():
        lst.sort(key=key)

    # ---------------- message response ----------------
    msgs_by_thread: dict[str, list] = {}
    for e in by_type.get("message.sent", []):
        if e["sender_role"] == "platform":
            continue  # ignored entirely
        msgs_by_thread.setdefault(e["thread_id"], []).append(e)
    spam_by_thread: dict[str, list] = {}
    for e in by_type.get("thread.spam_marked", []) + by_type.get("thread.spam_unmarked", []):
        spam_by_thread.setdefault(e["thread_id"], []).append(e)

    # [the standard's window, Star Seller's window]: their hours are policy numbers, and may be equal
    counted = [0, 0]
    answered = [0, 0]
    for tid, msgs in msgs_by_thread.items():
        buyers = sorted((x for x in msgs if x["sender_role"] == "buyer"), key=key)
        if not buyers:
            continue
        initial = buyers[0]["_t"]
        sellers = [x for x in msgs if x["sender_role"] in ("seller", "auto_reply")]
        if any(x["_t"] < initial for x in sellers):
            continue  # seller-opened
        marks = sorted(spam_by_thread.get(tid, []), key=key)
        if marks and marks[-1]["type"] == "thread.spam_marked":
            continue
        responses = [x["_t"] for x in sellers if x["_t"] >= initial]
        response = min(responses) if responses else None
        for at, w in enumerate((RESPONSE_WINDOW_STANDARD_H, RESPONSE_WINDOW_STAR_H)):
            deadline = initial + w * HOUR
            if not in_period(deadline):
                continue
            if response is not None and response <= deadline and (w, deadline) not in late_threads.get(tid, ()):
                # "answered when the response is at or before the deadline"
                counted[at] += 1
                answered[at] += 1
            elif clock > deadline:
                # "missed when the clock passes the deadline with no such response"
                counted[at] += 1
            # else: "pending (not counted) before that"

    # ---------------- orders ----------------
    placed: dict[str, dict] = {}
    for e in by_type.get("order.placed", []):  # sorted: first one wins
        placed.setdefault(e["order_id"], e)
    cancelled = {e["order_id"] for e in by_type.get("order.cancelled", [])}
    first_ship: dict[str, dict] = {}
    for e in by_type.get("shipment.shipped", []):
        first_ship.setdefault(e["order_id"], e)

    sales_orders = 0
    sales_amount = Decimal(0)
    first_sale = None
    ship_counted = ship_on_time = ship_tracked = 0
    completed = 0
    for oid, o in placed.items():
        if oid in cancelled:
            continue
        pt = o["_t"]
        if first_sale is None or pt < first_sale:
            first_sale = pt
        if in_period(pt):
            sales_orders += 1
            sales_amount += Decimal(o["total"])
        sh = first_ship.get(oid)
        if o["digital"]:
            if in_period(pt):
                completed += 1
            continue
        if sh is not None and in_period(sh["_t"]):
            completed += 1
        ship_by = parse_ts(o["ship_by"])
        if in_period(ship_by):
            if sh is not None and sh["_t"] <= ship_by and ship_by not in late_orders.get(oid, ()):
                # "on_time when its first shipment.shipped has occurred_at <= ship_by"
                ship_counted += 1
                ship_on_time += 1
                tn = sh.get("tracking_number")
                if (not o["tracking_required"]) or (isinstance(tn, str) and tn != "") \
                        or sh["label_purchased"]:
                    ship_tracked += 1
            elif sh is not None or clock > ship_by:
                # "late when shipped after, or when the clock passes ship_by with no shipment"
                ship_counted += 1
            # else: unshipped and ship_by not passed yet: pending (not counted)

    # ---------------- reviews ----------------
    removed = {e["review_id"] for e in by_type.get("review.removed", [])}
    posts: dict[str, list] = {}
    for e in by_type.get("review.posted", []):
        posts.setdefault(e["review_id"], []).append(e)
    rev_count = rev_low = rev_sum = 0
    for rid, lst in posts.items():
        if rid in removed:
            continue
        lst = sorted(lst, key=key)
        if not in_period(lst[0]["_t"]):
            continue
        rating = lst[-1]["rating"]
        rev_count += 1
        rev_sum += rating
        if rating <= LOW_RATING:
            rev_low += 1

    # ---------------- cases ----------------
    opens: dict[str, dict] = {}
    for e in by_type.get("case.opened", []):
        opens.setdefault(e["case_id"], e)
    last_close: dict[str, dict] = {}
    for e in by_type.get("case.closed", []):
        last_close[e["case_id"]] = e  # sorted ascending: last wins
    seller_refunds = [e for e in by_type.get("refund.issued", []) if e["source"] == "seller"]
    cases = 0
    for cid, op in opens.items():
        cl = last_close.get(cid)
        if cl is None or cl["resolution"] != "refunded_by_seller":
            continue
        o = placed.get(op["order_id"])
        if o is None or o["purchase_protected"]:
            continue
        if Decimal(o["total"]) > CASE_MAX_TOTAL:
            continue
        if any(r["order_id"] == op["order_id"] and r["_t"] < op["_t"] for r in seller_refunds):
            continue
        if in_period(cl["_t"]):
            cases += 1

    # ---------------- judging ----------------
    enough = sales_orders >= MIN_SALES

    def status(den: int, ok: bool) -> str:
        if not enough:
            return "not_enough_data"
        if den == 0:
            return "not_applicable"
        return "met" if ok else "not_met"

    if rev_count < REVIEW_SMALL_LIMIT:
        review_ok = rev_low <= REVIEW_SMALL_MAX_LOW
    else:
        review_ok = REVIEW_LARGE_PCT * rev_count >= 100 * rev_low
    if completed < CASE_SMALL_LIMIT:
        case_ok = cases <= CASE_SMALL_MAX
    else:
        case_ok = 100 * cases <= CASE_LARGE_PCT * completed

    st = {
        "message_response": (answered[0], counted[0],
                             status(counted[0], 100 * answered[0] >= MESSAGE_STANDARD_PCT * counted[0])),
        "on_time_shipping": (ship_on_time, ship_counted,
                             status(ship_counted, 100 * ship_on_time >= SHIPPING_STANDARD_PCT * ship_counted)),
        "review_rating": (rev_low, rev_count, status(rev_count, review_ok)),
        "case_rate": (cases, completed, status(completed, case_ok)),
    }

    msg_holds = counted[1] == 0 or 100 * answered[1] >= STAR_MESSAGE_PCT * counted[1]
    ship_holds = ship_counted == 0 or 100 * ship_tracked >= STAR_SHIPPING_PCT * ship_counted
    rev_holds = rev_count == 0 or 10 * rev_sum >= STAR_AVG_RATING_X10 * rev_count
    vol_holds = sales_orders >= STAR_MIN_ORDERS and sales_amount >= STAR_MIN_AMOUNT
    tenure_holds = first_sale is not None and first_sale <= tenure_anchor - STAR_TENURE
    eligible = msg_holds and ship_holds and rev_holds and case_ok and vol_holds and tenure_holds

    badges = []
    if enough:
        if msg_holds and counted[1] >= 1:
            badges.append("speedy_replies")
        if ship_holds and ship_counted >= 1:
            badges.append("smooth_shipping")
        if rev_holds and rev_count >= 1:
            badges.append("rave_reviews")

    fs = fmt_ts(first_sale) if first_sale is not None else None
    amount = fmt_money(sales_amount)
    return {
        # SPEC 6 (standards.evaluations): a record is due for a seller with at least one
        # sale, counted thread (48 h or 24 h), counted order, counted review or completed
        # order in the period (a counted case alone gives none)
        "_any": bool(sales_orders or counted[0] or counted[1] or ship_counted or rev_count
                     or completed),
        "sales": {"orders": sales_orders, "amount": amount, "first_sale_at": fs},
        "_standards": st,
        "star_seller": {
            "eligible": eligible,
            "criteria": {
                "message_response": {"numerator": answered[1], "denominator": counted[1],
                                     "holds": msg_holds},
                "shipping": {"numerator": ship_tracked, "denominator": ship_counted,
                             "holds": ship_holds},
                "reviews": {"rating_sum": rev_sum, "count": rev_count, "holds": rev_holds},
                "case_rate": {"holds": case_ok},
                "volume": {"orders": sales_orders, "amount": amount, "holds": vol_holds},
                "tenure": {"first_sale_at": fs, "holds": tenure_holds},
            },
        },
        "badges": badges,
    }


def _evaluate_month(evs_seller: list, y: int, m: int, zone: dt.tzinfo):
    """Numbers of one seller for month (y, m), or None when no record is due."""
    first = month_first(y, m, zone)
    E = first + EVALUATION_DELAY
    ps_y, ps_m = add_months(y, m, -3)
    pstart = month_first(ps_y, ps_m, zone)
    # SPEC 3: "it uses exactly the events with occurred_at < E"; period M-3 .. M-1;
    # "A monthly evaluation is as of E"; tenure: "before the first instant of M"
    evs = [e for e in evs_seller if e["_t"] < E]
    c = _count(evs, pstart, first, E, first)
    if not c.pop("_any"):
        return None

    pe_y, pe_m = add_months(y, m, -1)
    period_end = dt.date(y, m, 1) - dt.timedelta(days=1)
    assert (period_end.year, period_end.month) == (pe_y, pe_m)
    return {
        "month": f"{y:04d}-{m:02d}",
        "period": {"start": dt.date(ps_y, ps_m, 1).isoformat(), "end": period_end.isoformat()},
        "policy": POLICY_NAME,
        "sales": c["sales"],
        "_standards": c["_standards"],
        "star_seller": c["star_seller"],
        "badges": c["badges"],
    }


def _by_seller(events: list) -> dict:
    """Valid events -> seller_id -> its events (deduplicated, heartbeats dropped, with _t)."""
    seen = set()
    by_seller: dict[str, list] = {}
    for e in events:
        if e["event_id"] in seen:
            continue  # duplicate: changes nothing
        seen.add(e["event_id"])
        if e["type"] == "clock.heartbeat":
            continue
        e2 = dict(e)
        e2["_t"] = parse_ts(e["occurred_at"])
        by_seller.setdefault(e2["seller_id"], []).append(e2)
    return by_seller


def rate(num: int, den: int):
    """100 * num / den rounded down to one decimal, exactly ("78.9"); None when den is 0."""
    if den == 0:
        return None
    tenths = (1000 * num) // den  # num, den >= 0: floor division rounds down
    return f"{tenths // 10}.{tenths % 10}"


def scorecards(events: list, T, zone: dt.tzinfo = UTC, arrivals: dict | None = None) -> dict:
    """seller_id -> the live scorecard numbers of the period to date at partition clock T;
    ``arrivals`` as `_past_correcting` reads them (None: every proof in time).

    SPEC 3: "The evaluation period for day D is the calendar month of D and the two
    months before it ("period to date")."  Items are attributed as in the monthly
    evaluation and count when their attribution day is in those three months (days of
    T's month after T included).  Every valid deduplicated event is used, whatever its
    occurred_at, but a proof that arrived too late to correct the live card
    (`_past_correcting`).  Pending items (deadline not passed by T, no answer / no shipment) are
    not counted.  Tenure is anchored at the first instant of the month after T's month.
    One entry per seller with at least one non-heartbeat valid event.
    """
    C = parse_ts(T)
    local = C.astimezone(zone)  # its day and month
    ps_y, ps_m = add_months(local.year, local.month, -2)
    pstart = month_first(ps_y, ps_m, zone)
    pend = month_first(*add_months(local.year, local.month, 1), zone)
    out = {}
    for seller, sevs in sorted(_by_seller(events).items()):
        c = _count(sevs, pstart, pend, C, pend, arrivals)
        standards = {}
        for name in STANDARDS:
            num, den, s = c["_standards"][name]
            standards[name] = {"numerator": num, "denominator": den, "rate": rate(num, den),
                               "status": s}
        out[seller] = {
            "seller_id": seller,
            "period": {"start": dt.date(ps_y, ps_m, 1).isoformat(), "end": local.date().isoformat()},
            "policy": POLICY_NAME,
            "sales": c["sales"],
            "standards": standards,
            "star_seller": c["star_seller"],
            "badges": c["badges"],
        }
    return out


def evaluate(events: list, T, zone: dt.tzinfo = UTC) -> list:
    """All evaluation records (SPEC 6.1) for months M with E(M) <= T."""
    T = parse_ts(T)
    by_seller = _by_seller(events)

    out = []
    for seller in sorted(by_seller):
        sevs = by_seller[seller]
        times = [e["_t"] for e in sevs]
        times += [parse_ts(e["ship_by"]) for e in sevs if e["type"] == "order.placed"]
        t0 = min(times)
        y, m = t0.astimezone(zone).year, t0.astimezone(zone).month
        prev = None  # (y, m, record) of the previous calendar month, if any
        while month_first(y, m, zone) + EVALUATION_DELAY <= T:
            r = _evaluate_month(sevs, y, m, zone)
            if r is not None:
                st = r.pop("_standards")
                prev_rec = prev if prev is not None and prev[0:2] == add_months(y, m, -1) else None
                standards = {}
                for name in STANDARDS:
                    num, den, s = st[name]
                    run = 0
                    if s == "not_met":
                        run = 1
                        if prev_rec is not None:
                            run += prev_rec[2]["standards"][name]["consecutive_months_not_met"]
                    standards[name] = {"numerator": num, "denominator": den, "status": s,
                                       "consecutive_months_not_met": run}
                rec = {"seller_id": seller}
                rec.update(r)
                rec["standards"] = standards
                # keep SPEC 6.1 key order
                rec = {k: rec[k] for k in ("seller_id", "month", "period", "policy", "sales",
                                           "standards", "star_seller", "badges")}
                out.append(rec)
                prev = (y, m, rec)
            y, m = add_months(y, m, 1)
    return out
