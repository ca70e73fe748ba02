"""At-least-once delivery, disorder and restarts give the same evaluations
(SPEC section 6: deterministic monthly evaluations)."""
from __future__ import annotations

import random

import orjson
from hypothesis import given, settings, strategies as st

from schemas.validate import decode_event, parse_timestamp
from standards.calendar import month_of, month_start
from standards.engine import EVALUATIONS, PartitionEngine
from standards.policy import Policy
from standards.seller import SellerState
from streams.backfill import backfill
from streams.simulate import simulate
from streams.topics import INPUT_TOPICS

POLICY = Policy()
START = parse_timestamp("2026-01-01T00:00:00Z")
EVENTS = list(simulate(12, START, days=160, seed=3, heartbeat_every=24 * 3600 * 1_000_000))
LINES = [orjson.dumps(e) for e in EVENTS]


def _evaluation_window(event: dict) -> int:
    """Index of the last evaluation instant at or before the event: events
    between two instants may arrive in any order without changing any
    evaluation, since no partition clock can pass the next instant first."""
    t = parse_timestamp(event["occurred_at"])
    month = month_of(t - POLICY.evaluation_delay)
    return month if month_start(month) + POLICY.evaluation_delay <= t else month - 1


BASELINE, _ = backfill(LINES, 4, POLICY)


def test_the_workload_gives_evaluations():
    assert len(BASELINE) > 12  # every seller over several months


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2**32))
def test_disorder_within_allowed_bounds_and_duplicates_give_the_same_evaluations(seed: int):
    rng = random.Random(seed)
    windows: dict[int, list[bytes]] = {}
    for event, line in zip(EVENTS, LINES):
        windows.setdefault(_evaluation_window(event), []).append(line)
    arrival = []
    for window in sorted(windows):
        lines = windows[window] + [line for line in windows[window] if rng.random() < 0.2]  # redeliveries
        rng.shuffle(lines)
        arrival += lines
    assert backfill(arrival, 4, POLICY)[0] == BASELINE


def test_a_restart_from_persisted_state_gives_the_same_evaluations():
    """Persist at a cut (what the worker writes to the changelog before a
    commit), rebuild engines from it, replay from an earlier offset (input
    already applied is delivered again) and finish."""
    def run(cut: int | None) -> list:
        engines = {p: PartitionEngine(p, INPUT_TOPICS, POLICY) for p in range(1)}
        records = []
        for i, event in enumerate(EVENTS):
            if i == cut:
                saved = {}
                sellers, meta = engines[0].take_unsaved()
                saved = {sid: orjson.loads(orjson.dumps(s.dump())) for sid, s in sellers.items() if s}
                engines[0] = PartitionEngine(0, INPUT_TOPICS, POLICY)
                engines[0].load_meta(orjson.loads(orjson.dumps(meta)))
                for sid, data in saved.items():
                    engines[0].load_seller(SellerState.load(sid, data))
                for again in EVENTS[cut - 500:cut]:  # redelivered after the crash
                    records += engines[0].process(again["_topic"], decode_event(orjson.dumps(again)))
            records += engines[0].process(event["_topic"], decode_event(orjson.dumps(event)))
        return sorted(orjson.dumps(r[2], option=orjson.OPT_SORT_KEYS) for r in records if r[0] == EVALUATIONS)

    uninterrupted = run(None)
    assert uninterrupted
    for cut in (1000, len(EVENTS) // 2, len(EVENTS) - 10):
        assert run(cut) == uninterrupted


def test_evaluating_a_month_again_gives_the_same_record():
    """A crash can leave a seller's state ahead of its partition's last
    evaluated month; the month is then evaluated again and must not change
    consecutive_months_not_met."""
    engine = PartitionEngine(0, INPUT_TOPICS, POLICY)
    for event in EVENTS:
        engine.process(event["_topic"], decode_event(orjson.dumps(event)))
    seller = max(engine.sellers.values(), key=lambda s: len(s.orders))
    month = seller.last_evaluations[-1][0]
    assert seller.evaluation(month, POLICY) == seller.evaluation(month, POLICY)
    again = [seller.evaluation(m, POLICY) for m in (month - 1, month)]
    assert again[1] == seller.evaluation(month, POLICY)
