"""Between Kafka and the engines: decode, dead-letter, route to the
partition's engine, send outputs, persist state before offsets commit."""
from __future__ import annotations

import logging
import time
from base64 import b64encode
from collections import Counter
from typing import Any, Callable, Optional

import orjson

from schemas.validate import InvalidEvent, decode_event
from standards.engine import ALERTS, EVALUATIONS, VIOLATIONS, PartitionEngine
from standards.judge import AREA_BADGES, STANDARDS
from standards.policy import Policy

from . import metrics
from .topics import DEADLETTER, INPUT_TOPICS, OUTPUT_TOPICS

log = logging.getLogger(__name__)

STATUSES = ("met", "not_met", "not_applicable", "not_enough_data")
BADGE_NAMES = ("star_seller",) + AREA_BADGES
Write = Callable[[str, int, Optional[bytes], Optional[bytes]], Any]  # (topic, partition, key, value)


class Processor:
    def __init__(self, policy: Policy, write: Write, state_topic: str, wall_clock: bool = False):
        self.policy = policy
        self.write = write
        self.state_topic = state_topic
        self._outputs = {topic: metrics.OUTPUTS.labels(topic) for topic in OUTPUT_TOPICS}
        self.wall_clock = wall_clock
        self.engines: dict[int, PartitionEngine] = {}

    def engine(self, partition: int) -> PartitionEngine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = self.engines[partition] = PartitionEngine(
                partition, INPUT_TOPICS, self.policy, self.wall_clock)
        return engine

    def handle(self, topic: str, partition: int, offset: int, key: Optional[bytes], raw: bytes,
               timestamp: Optional[float] = None) -> None:
        try:
            event = decode_event(raw)
        except InvalidEvent as bad:
            self.dead_letter(topic, partition, offset, key, raw, bad.code, bad.reason)
            return
        engine = self.engine(partition)
        try:
            outputs = engine.process(topic, event)
        except Exception as error:  # a bug must not stop the partition: keep the event, say why, go on
            log.exception("processing %s[%s]@%s failed", topic, partition, offset)
            self.dead_letter(topic, partition, offset, key, raw, "processing_error",
                             f"the worker failed on this valid event ({type(error).__name__}); "
                             "it is kept here for a replay once fixed")
            return
        self._emit(partition, outputs)
        metrics.EVENTS.labels(topic, event["type"]).inc()
        if engine.first_response_seconds:
            for seconds in engine.first_response_seconds:
                metrics.FIRST_RESPONSE.observe(seconds)
            engine.first_response_seconds.clear()
        if timestamp:
            metrics.LATENCY.observe(max(0.0, time.time() - timestamp))

    def dead_letter(self, topic, partition, offset, key, raw, code: str, reason: str) -> None:
        record = {"reason": reason, "code": code, "topic": topic, "partition": partition,
                  "offset": offset, "original_base64": b64encode(raw).decode()}
        self.write(DEADLETTER, partition, key, orjson.dumps(record))
        metrics.DEADLETTERS.labels(code).inc()
        log.warning("dead letter %s[%s]@%s: %s", topic, partition, offset, reason)

    def tick(self) -> None:
        """Timer: wall clock (live mode), coalesced scorecards, gauges."""
        now_us = int(time.time() * 1_000_000)
        statuses: Counter = Counter()
        badges: Counter = Counter()
        for partition, engine in self.engines.items():
            self._emit(partition, engine.tick(now_us))
            self._emit(partition, engine.refresh())
            if engine.clock is not None:
                metrics.CLOCK_LAG.labels(str(partition)).set((now_us - engine.clock) / 1_000_000)
            statuses.update(engine.status_counts)
            badges.update(engine.badge_counts)
        # Every known label pair is set, so that a pair no partition has any more reads 0.
        for standard in STANDARDS:
            for status in STATUSES:
                metrics.SELLERS.labels(standard, status).set(statuses[(standard, status)])
        for badge in BADGE_NAMES:
            metrics.BADGES.labels(badge).set(badges[badge])
        metrics.SELLERS_IN_STATE.set(sum(len(e.sellers) for e in self.engines.values()))

    def _emit(self, partition: int, outputs) -> None:
        for topic, key, value in outputs:
            self.write(topic, partition, key.encode(), orjson.dumps(value, option=orjson.OPT_SORT_KEYS))
            self._outputs[topic].inc()
            if topic == VIOLATIONS:
                metrics.VIOLATIONS.labels(value["standard"], value["type"].split(".")[1]).inc()
            elif topic == ALERTS:
                metrics.ALERTS.labels(value["item"]["kind"]).inc()
            elif topic == EVALUATIONS:
                metrics.EVALUATIONS.inc()

    def flush(self) -> None:
        """Write every changed item, seller and partition clock to the changelog.
        Called before offsets are committed: state is always at or ahead of
        the committed input, and re-applying events to it changes nothing."""
        self.tick()
        for partition, engine in self.engines.items():
            records = engine.take_unsaved()
            for key, value in records:
                self.write(self.state_topic, partition, key, value)
            metrics.STATE_FLUSHES.inc(len(records))

    def restore(self, partitions: set[int], records) -> None:
        """Rebuild the engines of `partitions` from changelog (key, value)
        records in log order: the last value of a key wins, None deletes it."""
        self.engines = {p: e for p, e in self.engines.items() if p in partitions}
        latest: dict[int, dict] = {p: {} for p in partitions if p not in self.engines}
        for key, value in records:
            decoded = tuple(orjson.loads(key))
            if decoded[0] in latest:
                latest[decoded[0]][decoded] = value
        for partition, partition_records in latest.items():
            engine = self.engines[partition] = PartitionEngine(partition, INPUT_TOPICS, self.policy, self.wall_clock)
            engine.restore(partition_records)
        log.info("restored partitions %s: %d sellers", sorted(latest),
                 sum(len(self.engines[p].sellers) for p in latest))

    def revoke(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.engines.pop(partition, None)
            try:
                metrics.CLOCK_LAG.remove(str(partition))
            except KeyError:  # the partition never had a clock
                pass
