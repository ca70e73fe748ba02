"""Prometheus metrics (SPEC section 7). No label ever carries a seller id."""
import gc
import time
from bisect import bisect_left
from importlib.metadata import version
from typing import Iterable

from prometheus_client import (GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR, REGISTRY, CollectorRegistry,
                               Counter, Gauge, Histogram, Info, ProcessCollector)

from schemas.validate import INVALID_EVENT_CODES
from standards.judge import STANDARDS
from standards.seller import DEADLINE_ITEM_KINDS

from .topics import INPUT_TOPICS

HOUR = 3600.0

# Every name /metrics exports starts with seller_standards_ (SPEC 7). The
# default registry's own collectors export process_*, python_gc_* and
# python_info: the process's CPU, memory and file descriptors are exported
# again under the prefix; the garbage collector's and Python's version
# cannot be renamed (no namespace option) and are left out.
for _collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
    REGISTRY.unregister(_collector)
ProcessCollector(namespace="seller_standards")

# Which release each worker runs, for a fleet part-way through a rollout (python_info is left out, above).
BUILD = Info("seller_standards_build", "The seller-standards release this worker runs")
BUILD.info({"version": version("seller-standards")})
# Workers of one APP_ID must judge with one policy (README, Policy file): export_policy.
POLICY = Info("seller_standards_policy",
              "The policy this worker judges with: its name, the fingerprint of its numbers (the same numbers, the "
              "same fingerprint, whatever the file: `seller-standards policy FILE` prints a file's) and the APP_ID "
              "the worker runs under")


def export_policy(policy, app_id: str) -> None:
    """seller_standards_policy_info of the worker's policy (standards.policy.Policy)."""
    POLICY.info({"name": policy.name, "fingerprint": policy.fingerprint, "app_id": app_id})

EVENTS = Counter("seller_standards_events_total", "Valid input events processed", ["topic", "type"])
DEADLETTERS = Counter("seller_standards_deadletters_total", "Input events sent to the dead-letter topic", ["reason"])
KEYED_OTHERWISE = Counter(
    "seller_standards_events_keyed_otherwise_total",
    "Valid input events (heartbeats aside) whose Kafka key is not their seller_id: SPEC 2 keys every event by it, "
    "so that a seller's events share a partition", ["topic"])
SPLIT_SELLERS = Counter(
    "seller_standards_split_sellers_total",
    "Sellers found on two partitions of this worker (at their first event on the second, or on restore): some "
    "input is partitioned otherwise than by seller_id, and each partition holds part of the seller's state")
EVENTS_AFTER_EVALUATION = Counter(
    "seller_standards_events_after_evaluation_total",
    "Valid input events (heartbeats aside) dated before the evaluation instant of the last month their partition "
    "evaluated: they came after that evaluation was made and are not in it (SPEC 6), whatever they would have "
    "changed there", ["topic"])
PROOFS_PAST_LATENESS = Counter(
    "seller_standards_proofs_past_lateness_total",
    "Deadlines proved met (a reply, a first shipment, in time) by an event that came when the partition clock was "
    "more than the policy's allowed_lateness past them: the live scorecard keeps them missed or late (SPEC 3), the "
    "monthly evaluations count them met", ["item"])
OUTPUTS = Counter("seller_standards_outputs_total", "Records written to output topics", ["topic"])
NOT_SENT_AGAIN = Counter(
    "seller_standards_outputs_not_sent_again_total",
    "Outputs decided again after a restore and not sent, as the worker before had sent them "
    "(streams/already_sent.py)", ["topic"])
VIOLATIONS = Counter("seller_standards_violations_total", "Violations opened and resolved", ["standard", "change"])
ALERTS = Counter("seller_standards_alerts_total", "Deadline warnings sent", ["item"])
EVALUATIONS = Counter("seller_standards_evaluations_total", "Monthly evaluation records made")
FIRST_RESPONSE = Histogram(
    "seller_standards_first_response_seconds", "Time from a buyer's initial message to the first response",
    buckets=[60, 300, 900, 1800, HOUR, 2 * HOUR, 4 * HOUR, 8 * HOUR, 12 * HOUR, 20 * HOUR, 24 * HOUR,
             36 * HOUR, 44 * HOUR, 48 * HOUR, 72 * HOUR, 96 * HOUR, 168 * HOUR])
SELLERS = Gauge("seller_standards_sellers", "Sellers by standard and live status", ["standard", "status"])
BADGES = Gauge("seller_standards_badges", "Sellers eligible now for a badge (star_seller and the area badges)",
               ["badge"])
SELLERS_IN_STATE = Gauge("seller_standards_sellers_in_state", "Sellers held in this worker's state")
CLOCK_LAG = Gauge("seller_standards_partition_clock_lag_seconds",
                  "Wall time minus the partition clock", ["partition"])
TOPIC_EVENT_LAG = Gauge("seller_standards_topic_event_lag_seconds",
                        "Wall time minus the latest occurred_at of a valid event on the input topic, over this "
                        "worker's partitions: below 0, an event dated in the future came", ["topic"])
LATENCY = Histogram(
    "seller_standards_processing_latency_seconds", "From the input record's Kafka timestamp to processed",
    buckets=[0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60])
STATE_FLUSHES = Counter("seller_standards_state_writes_total",
                        "State records written to the changelog at commits: changed or dropped items, seller headers, "
                        "partition records")
CONSUMER_LAG = Gauge("seller_standards_consumer_lag_records",
                     "Input records not yet committed: high watermark minus committed offset", ["topic", "partition"])
ASSIGNED_PARTITIONS = Gauge("seller_standards_assigned_partitions", "Input partitions this worker owns")
READY = Gauge("seller_standards_ready", "1 when this worker's partitions are restored and processing")
REBALANCES = Counter("seller_standards_rebalances_total", "Partition revocations seen by this worker")
RESTORE_SECONDS = Gauge("seller_standards_restore_seconds",
                        "How long the last restore took: reading the seller-state topic and rebuilding the partitions")
RESTORED_RECORDS = Gauge("seller_standards_restored_records", "State records the last restore read")


GC_PAUSE_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


def gc_pause_histogram(registry: CollectorRegistry = REGISTRY) -> Histogram:
    return Histogram("seller_standards_gc_pause_seconds", "Pauses of Python's cyclic garbage collector",
                     ["generation"], buckets=GC_PAUSE_BUCKETS, registry=registry)


class GcPauses:
    """A gc callback that times the cyclic collector's pauses into a
    histogram by generation (the default registry's python_gc_* collector
    counts collections, not their time, and is left out: see above). A
    collection holds the interpreter lock, so every event waiting meanwhile
    waits for it too: a young generation's took 85-130 ms on average in the
    benchmark's live worker (docs/design.md, "Garbage collector"). Observing
    takes the histogram's locks from inside a collection; no collection
    starts while one of them is held, as what they guard allocates no
    container (a float at most)."""

    def __init__(self, histogram: Histogram) -> None:
        self._by_generation = [histogram.labels(str(generation)) for generation in range(3)]
        self._started = 0.0

    def __call__(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self._by_generation[info["generation"]].observe(time.perf_counter() - self._started)


GC_PAUSE = gc_pause_histogram()
GC_PAUSES = GcPauses(GC_PAUSE)


def track_gc_pauses() -> None:
    """Time this process's garbage collections from now on (the worker's)."""
    if GC_PAUSES not in gc.callbacks:
        gc.callbacks.append(GC_PAUSES)


VIOLATION_CHANGES = ("opened", "resolved")
PROCESSING_ERROR = "processing_error"  # the dead-letter reason of a valid event the worker failed on
# Every violation, dead-letter, input topic and late proof series exists, at 0, from the start: a
# series born with its first increment loses that increment to increase()
# and rate(), and SellerStandardsViolationSpike, which compares with the day
# before, would find nothing to compare a standard's first burst with.
for _standard in STANDARDS:
    for _change in VIOLATION_CHANGES:
        VIOLATIONS.labels(_standard, _change)
for _reason in (*INVALID_EVENT_CODES, PROCESSING_ERROR):
    DEADLETTERS.labels(_reason)
for _topic in INPUT_TOPICS:
    KEYED_OTHERWISE.labels(_topic)
    EVENTS_AFTER_EVALUATION.labels(_topic)
for _item in DEADLINE_ITEM_KINDS.values():
    PROOFS_PAST_LATENESS.labels(_item)


def observe_many(histogram: Histogram, amounts: Iterable[float]) -> None:
    """`histogram.observe` of every amount, with one increment per bucket
    touched and one of the sum, instead of two locked increments per
    amount. Uses prometheus_client's Histogram internals (`_upper_bounds`,
    `_buckets`, `_sum`; an unlabelled histogram); without them, observes
    one by one."""
    bounds = getattr(histogram, "_upper_bounds", None)
    buckets = getattr(histogram, "_buckets", None)
    total = getattr(histogram, "_sum", None)
    if bounds is None or buckets is None or total is None or len(bounds) != len(buckets):
        for amount in amounts:
            histogram.observe(amount)
        return
    counts = [0] * len(bounds)
    observed = 0.0
    for amount in amounts:
        counts[bisect_left(bounds, amount)] += 1  # the first bucket with amount <= bound (the last is +Inf)
        observed += amount
    if observed:
        total.inc(observed)
    for i, n in enumerate(counts):
        if n:
            buckets[i].inc(n)
