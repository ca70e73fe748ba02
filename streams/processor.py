"""Between Kafka and the engines: decode, dead-letter, route to the
partition's engine, send outputs, persist state before offsets commit."""
from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from typing import AbstractSet, Any, Callable, NamedTuple, Optional

import orjson

from schemas.validate import HEARTBEAT, InvalidEvent, decode_event
from standards.engine import ALERTS, EVALUATIONS, VIOLATIONS, PartitionEngine
from standards.judge import AREA_BADGES, STANDARDS
from standards.policy import Policy
from standards.seller import DEADLINE_ITEM_KINDS

from . import metrics
from .already_sent import TOPICS as READ_BACK, AlreadySent
from .output_json import dead_letter_record, dumps_sorted
from .topics import DEADLETTER, INPUT_TOPICS, OUTPUT_TOPICS

log = logging.getLogger(__name__)

STATUSES = ("met", "not_met", "not_applicable", "not_enough_data")
BADGE_NAMES = ("star_seller",) + AREA_BADGES
Write = Callable[[str, int, Optional[bytes], Optional[bytes]], Any]  # (topic, partition, key, value)

# How the worker (streams/app.py) takes turns with the rest of its event
# loop: records applied, and scorecards recomputed, between two turns (each
# slice a few milliseconds to some tens): timers, commits and web requests
# wait for a slice at most, and a recount that takes turns with the input
# ends soon after it starts. While a commit writes the partitions' state,
# whose steps (a partition's state records, ~20 ms at half the worker's
# throughput) no card waits for, the input takes longer turns: with 200
# records (~5 ms) between two steps it got a fifth of the loop, and records
# waited behind the commit (docs/design.md, "Input first while state is
# written").
APPLY_SLICE = 200
APPLY_SLICE_WHILE_WRITING_STATE = 1000
REFRESH_SLICE = 500


class Record(NamedTuple):
    """What handle_batch reads of an aiokafka ConsumerRecord."""
    offset: int
    key: Optional[bytes]
    value: Optional[bytes]
    timestamp: Optional[float]  # milliseconds


def is_backlog(fetched: dict, now: float, seconds: float) -> bool:
    """Whether a fetch (records per partition, in offset order) is a
    backlog: some partition's newest record is `seconds` old or more by its
    Kafka timestamp (ms) at `now` (s). A record without a timestamp says
    nothing; an empty fetch is no backlog."""
    stamps = [records[-1].timestamp for records in fetched.values() if records[-1].timestamp]
    return bool(stamps) and now - min(stamps) / 1000.0 >= seconds


class StateUnreadable(RuntimeError):
    """A state record this version cannot read; the message names the
    partition and the topic."""


class Processor:
    def __init__(self, policy: Policy, write: Write, state_topic: str, wall_clock: bool = False,
                 acknowledged_ends: Optional[dict[tuple[str, int], int]] = None):
        self.policy = policy
        self.write = write
        self.state_topic = state_topic
        self._outputs = {topic: metrics.OUTPUTS.labels(topic) for topic in OUTPUT_TOPICS}
        for topic in READ_BACK:  # each series from 0, for a rate over a worker's first restore
            metrics.NOT_SENT_AGAIN.labels(topic)
        self._events: dict[tuple[str, str], Any] = {}  # labelled children of metrics.EVENTS
        self._keyed_otherwise_logged: set[str] = set()  # topics
        self._split_logged = False
        self.wall_clock = wall_clock
        self.backlog = False  # see set_backlog
        self.writing_state = False  # flush_in_slices is writing the partitions' state
        self.engines: dict[int, PartitionEngine] = {}
        # The writer's: (topic, partition) -> the offset after its last record acknowledged.
        self.acknowledged_ends = {} if acknowledged_ends is None else acknowledged_ends
        self.already_sent: dict[int, AlreadySent] = {}  # the windows open (streams/already_sent.py)
        self._restored_ends: dict[int, dict[str, int]] = {}  # partition -> output topic -> its end at the restore
        # Per partition, where its dead letters' tail starts when the commit
        # before the last took its input offsets, and when the last did (offsets_taken).
        self._dead_letters_from: dict[int, int] = {}
        self._dead_letters_at_last_commit: dict[int, int] = {}

    def engine(self, partition: int) -> PartitionEngine:
        engine = self.engines.get(partition)
        if engine is None:
            engine = self.engines[partition] = self._new_engine(partition)
        return engine

    def _new_engine(self, partition: int) -> PartitionEngine:
        # Monthly evaluations in slices, made by `refresh` between batches.
        # The wall clock moves the partition only once its input has been
        # read to the end (`read_to_the_end`).
        engine = PartitionEngine(partition, INPUT_TOPICS, self.policy, wall_clock=False, evaluate_in_slices=True)
        engine.coalesce_live = self.backlog
        return engine

    def set_backlog(self, backlog: bool) -> None:
        """Whether the worker works through a backlog, where cards come only
        at the commits: the engines then count a seller's live totals at its
        card (PartitionEngine.coalesce_live)."""
        self.backlog = backlog
        for engine in self.engines.values():
            engine.coalesce_live = backlog

    def waiting_for_the_end(self) -> set[int]:
        """With the wall clock (CLOCK=wall): the partitions whose clock does
        not follow it yet."""
        if not self.wall_clock:
            return set()
        return {partition for partition, engine in self.engines.items() if not engine.wall_clock}

    def open_windows(self) -> dict[int, AlreadySent]:
        """The already-sent windows waiting for their partition's input to be
        applied up to where the worker before could have read it."""
        return {partition: window for partition, window in self.already_sent.items() if not window.input_read}

    def windows_read(self, partitions: AbstractSet[int]) -> None:
        """The input of `partitions` is applied up to the high watermark seen
        after their restore, beyond what the worker before read: their
        already-sent windows close at their next state write."""
        for partition in partitions & self.already_sent.keys():
            self.already_sent[partition].input_read = True

    def read_to_the_end(self, partitions: set[int]) -> None:
        """The input of `partitions` has been applied up to its end: with the
        wall clock their clocks follow it from now on. Not before, so that it
        never passes records that were waiting to be read (history loaded
        before the worker started, input that came while it was stopped):
        those are applied by their event time first, as in a replay, and the
        months they fill are evaluated with them."""
        for partition in partitions & self.engines.keys():
            self.engines[partition].wall_clock = self.wall_clock

    def handle(self, topic: str, partition: int, offset: int, key: Optional[bytes], raw: bytes,
               timestamp: Optional[float] = None) -> None:
        """One record (Faust's message: timestamp in seconds)."""
        self.handle_batch(topic, partition, [Record(offset, key, raw, timestamp * 1000.0 if timestamp else None)])

    def handle_batch(self, topic: str, partition: int, records) -> None:
        """`handle` for consecutive records of one topic partition (aiokafka
        ConsumerRecords: offset, key, value, timestamp in ms), with the
        metrics counted once per batch instead of once per event."""
        engine = self.engine(partition)
        process = engine.process
        emit = self._emit
        types: dict[str, int] = {}
        keyed_otherwise = 0  # events not keyed by their seller_id (SPEC 2), heartbeats aside
        for record in records:
            raw = record.value
            try:
                event = decode_event(raw)
            except InvalidEvent as bad:
                self.dead_letter(topic, partition, record.offset, record.key, raw, bad.code, bad.reason)
                continue
            if record.key != event["seller_id"].encode() and event["type"] != HEARTBEAT:
                keyed_otherwise += 1
                if topic not in self._keyed_otherwise_logged:
                    self._log_keyed_otherwise(topic, partition, record, event)
            try:
                outputs = process(topic, event)
            except Exception as error:  # a bug must not stop the partition: keep the event, say why, go on
                log.exception("processing %s[%s]@%s failed", topic, partition, record.offset)
                self.dead_letter(topic, partition, record.offset, record.key, raw, metrics.PROCESSING_ERROR,
                                 f"the worker failed on this valid event ({type(error).__name__}); "
                                 "it is kept here for a replay once fixed")
                continue
            if outputs:
                emit(partition, outputs)
            event_type = event["type"]
            types[event_type] = types.get(event_type, 0) + 1
        for event_type, n in types.items():
            self._count_event(topic, event_type, n)
        if keyed_otherwise:
            metrics.KEYED_OTHERWISE.labels(topic).inc(keyed_otherwise)
        if engine.events_after_evaluation:
            metrics.EVENTS_AFTER_EVALUATION.labels(topic).inc(engine.events_after_evaluation)
            engine.events_after_evaluation = 0
        if engine.proofs_past_lateness:
            for collection, n in engine.proofs_past_lateness.items():
                metrics.PROOFS_PAST_LATENESS.labels(DEADLINE_ITEM_KINDS[collection]).inc(n)
            engine.proofs_past_lateness.clear()
        if engine.new_sellers:
            self._note_split_sellers({partition: set(engine.new_sellers)})
            engine.new_sellers.clear()
        if engine.first_response_seconds:
            for seconds in engine.first_response_seconds:
                metrics.FIRST_RESPONSE.observe(seconds)
            engine.first_response_seconds.clear()
        now_ms = time.time() * 1000.0  # the whole batch is processed now
        metrics.observe_many(metrics.LATENCY, [max(0.0, now_ms - record.timestamp) / 1000.0
                                               for record in records if record.timestamp])

    def _log_keyed_otherwise(self, topic: str, partition: int, record, event: dict) -> None:
        """An event keyed otherwise than by its seller_id is applied all the
        same (its partition is where its seller's state is kept here),
        counted, and said in the log once per topic: with the default
        partitioner such a producer spreads a seller's events over
        partitions, each holding part of its state, and its numbers are wrong."""
        self._keyed_otherwise_logged.add(topic)
        log.warning("%s[%s]@%s is keyed %r, not by its seller_id %r: every event must be keyed by its seller_id "
                    "(SPEC 2), or a seller's events land on several partitions and its numbers are wrong; this is "
                    "logged once per topic and counted in seller_standards_events_keyed_otherwise_total",
                    topic, partition, record.offset, record.key, event["seller_id"])

    def _note_split_sellers(self, sellers_of: dict[int, AbstractSet[str]]) -> None:
        """Count and log the sellers of `sellers_of` (partition -> seller ids)
        that another partition of this worker holds too: a producer using
        another partitioner than the others (librdkafka's default hashes
        keys otherwise than Java's and aiokafka's) or another key puts a
        seller's events on two partitions, each holding part of its state.
        Seen only when both partitions are on this worker."""
        split = {seller_id: sorted((partition, other)) for partition, sellers in sellers_of.items()
                 for other in self.engines.keys() - {partition}
                 for seller_id in self.engines[other].sellers.keys() & sellers}  # in C, over the smaller
        if not split:
            return
        metrics.SPLIT_SELLERS.inc(len(split))
        if not self._split_logged:
            self._split_logged = True
            seller_id, (first, second) = next(iter(split.items()))
            log.warning("seller %r is on partitions %s and %s: its events are partitioned otherwise on some input "
                        "topic (another partitioner, or another key), so each partition holds part of its state "
                        "and its numbers are wrong; logged once, counted in seller_standards_split_sellers_total",
                        seller_id, first, second)

    def _count_event(self, topic: str, event_type: str, n: int) -> None:
        child = self._events.get((topic, event_type))
        if child is None:
            child = self._events[(topic, event_type)] = metrics.EVENTS.labels(topic, event_type)
        child.inc(n)

    def dead_letter(self, topic, partition, offset, key, raw, code: str, reason: str) -> None:
        window = self.already_sent.get(partition)
        if window is not None and window.sent(DEADLETTER, {"topic": topic, "partition": partition, "offset": offset}):
            metrics.NOT_SENT_AGAIN.labels(DEADLETTER).inc()
            return
        self.write(DEADLETTER, partition, key,
                   dead_letter_record(raw, code, reason, topic=topic, partition=partition, offset=offset))
        metrics.DEADLETTERS.labels(code).inc()
        log.warning("dead letter %s[%s]@%s: %s", topic, partition, offset, reason)

    def advance_wall_clock(self) -> None:
        """Live mode: the wall clock moves the partition clocks too (of the
        partitions read to the end)."""
        if self.wall_clock:
            now_us = int(time.time() * 1_000_000)
            for partition, engine in self.engines.items():
                self._emit(partition, engine.tick(now_us))

    def refresh(self, limit: int) -> None:
        """Make the pending monthly evaluations, then recompute the
        scorecards of changed sellers: `limit` sellers at most."""
        for partition, engine in self.engines.items():
            if limit <= 0:
                return
            before = engine.pending_sellers
            self._emit(partition, engine.catch_up(limit))
            limit -= before - engine.pending_sellers

    def pending_sellers(self) -> int:
        """Sellers whose evaluation or scorecard is not made yet."""
        return sum(engine.pending_sellers for engine in self.engines.values())

    async def refresh_in_slices(self, size: int, send: Optional[Callable[[], Any]] = None) -> None:
        """Recompute the scorecards of the sellers changed so far, `size` at a
        time, letting the event loop run between slices (sellers changed
        meanwhile wait for the next call: their events coalesce); `send()`
        after each slice, at least once."""
        for _ in range(max(1, -(-self.pending_sellers() // size))):
            self.refresh(size)
            if send is not None:
                send()
            await asyncio.sleep(0)

    def update_gauges(self) -> None:
        now_us = int(time.time() * 1_000_000)
        statuses: Counter = Counter()
        badges: Counter = Counter()
        latest: dict[str, int] = {}  # input topic -> its latest event time over the partitions
        for partition, engine in self.engines.items():
            if engine.clock is not None:
                metrics.CLOCK_LAG.labels(str(partition)).set((now_us - engine.clock) / 1_000_000)
            for topic, at in engine.topic_clock.items():
                if topic not in latest or at > latest[topic]:
                    latest[topic] = at
            statuses.update(engine.status_counts)
            badges.update(engine.badge_counts)
        for topic in INPUT_TOPICS:
            if topic in latest:
                metrics.TOPIC_EVENT_LAG.labels(topic).set((now_us - latest[topic]) / 1_000_000)
            else:  # no partition of this worker has seen the topic
                try:
                    metrics.TOPIC_EVENT_LAG.remove(topic)
                except KeyError:
                    pass
        # Every known label pair is set, so that a pair no partition has any more reads 0.
        for standard in STANDARDS:
            for status in STATUSES:
                metrics.SELLERS.labels(standard, status).set(statuses[(standard, status)])
        for badge in BADGE_NAMES:
            metrics.BADGES.labels(badge).set(badges[badge])
        metrics.SELLERS_IN_STATE.set(sum(len(e.sellers) for e in self.engines.values()))

    def _emit(self, partition: int, outputs) -> None:
        if not outputs:
            return
        if self.already_sent:
            window = self.already_sent.get(partition)
            if window is not None:
                outputs = self._not_sent_before(outputs, [output for output in outputs
                                                          if not window.sent(output[0], output[2])])
        write = self.write
        sent: dict[str, int] = {}  # counted once per call: a counter's inc() takes a lock
        for topic, key, value in outputs:
            write(topic, partition, key.encode(), dumps_sorted(value))
            sent[topic] = sent.get(topic, 0) + 1
            if topic == VIOLATIONS:
                metrics.VIOLATIONS.labels(value["standard"], value["type"].split(".")[1]).inc()
            elif topic == ALERTS:
                metrics.ALERTS.labels(value["item"]["kind"]).inc()
        for topic, n in sent.items():
            self._outputs[topic].inc(n)
        if EVALUATIONS in sent:
            metrics.EVALUATIONS.inc(sent[EVALUATIONS])

    @staticmethod
    def _not_sent_before(outputs: list, not_sent: list) -> list:
        """`not_sent`, the outputs of `outputs` sent before a restore left
        out: those are counted."""
        if len(not_sent) < len(outputs):
            for topic, n in (Counter(o[0] for o in outputs) - Counter(o[0] for o in not_sent)).items():
                metrics.NOT_SENT_AGAIN.labels(topic).inc(n)
        return not_sent

    async def flush_in_slices(self, size: int, send: Optional[Callable[[], Any]] = None) -> None:
        """Write every changed item, seller and partition clock to the
        changelog, in steps, letting events and timers run between them.
        Called before offsets are committed: state is always at or ahead of
        the committed input, and re-applying events to it changes nothing.
        Every changed scorecard is recomputed first (`size` sellers at a
        time, then per partition those changed by events applied meanwhile):
        that updates what the seller records hold (last card, open
        violations, badges), and a seller written with events whose card was
        not recomputed would not get that card after a restart. Events
        applied after a partition's state is written are not covered by the
        offsets being committed. `send()` after each slice and each
        partition's state: the broker takes those records while the rest is
        made, and the commit waits less for its acknowledgements."""
        self.advance_wall_clock()
        await self.refresh_in_slices(size, send)
        self.writing_state = True
        try:
            for partition in list(self.engines):
                engine = self.engines.get(partition)
                if engine is None:  # revoked meanwhile
                    continue
                self._emit(partition, engine.catch_up())
                self._write_state(partition, engine)
                if send is not None:
                    send()
                await asyncio.sleep(0)
        finally:
            self.writing_state = False
        self.update_gauges()

    def release(self) -> None:
        """Send the transitions (violations, badge changes) of the state
        written by the last flush, once the broker acknowledged it
        (PartitionEngine.release)."""
        for partition, engine in self.engines.items():
            self._emit(partition, engine.release())

    def holds_transitions(self) -> bool:
        """Whether some state holds transitions, or was written last with
        transitions sent since: a write (and a release) is due even with no
        input to commit."""
        return any(engine.holding for engine in self.engines.values())

    def offsets_taken(self) -> None:
        """A commit took the input offsets applied so far. A dead letter is
        known by those offsets, not by the state: the records read again
        after a crash are those after the offsets of the commit before the
        last, or of the last (a commit that fails stops the worker), and
        their dead letters land after where the dead letters stood when it
        took them. Until the offsets taken cover what the worker before
        read (its window's input read), its tail's start stays."""
        self._dead_letters_from = self._dead_letters_at_last_commit
        taken = {}
        for partition in self.engines:
            window = self.already_sent.get(partition)
            taken[partition] = (window.start.get(DEADLETTER, -1) if window is not None and not window.input_read
                                else self._outputs_end(partition, DEADLETTER))
        self._dead_letters_at_last_commit = taken

    def _outputs_end(self, partition: int, topic: str) -> int:
        """The offset of `topic`'s partition `partition` at or after which
        every output handed over from now on lands: after the last record
        the broker acknowledged, or the end read back at the restore (-1:
        neither known)."""
        return max(self.acknowledged_ends.get((topic, partition), -1),
                   self._restored_ends.get(partition, {}).get(topic, -1))

    def _write_state(self, partition: int, engine: PartitionEngine) -> None:
        window = self.already_sent.get(partition)
        if window is not None and window.input_read:  # and what its events decide made (catch_up)
            del self.already_sent[partition]
            window = None
        if window is not None:
            engine.note_outputs_from(window.start)
        else:
            outputs_from = {topic: self._outputs_end(partition, topic) for topic in READ_BACK if topic != DEADLETTER}
            outputs_from[DEADLETTER] = self._dead_letters_from.get(partition, -1)
            engine.note_outputs_from({topic: end for topic, end in outputs_from.items() if end >= 0})
        records = engine.take_unsaved()
        for key, value in records:
            self.write(self.state_topic, partition, key, value)
        metrics.STATE_FLUSHES.inc(len(records))

    def restore(self, partitions: set[int], records) -> None:
        """`load` and `install`, with no output read back."""
        self.install(self.load(partitions, records), {}, {})

    def load(self, partitions: set[int], records) -> dict[int, PartitionEngine]:
        """The engines of the partitions of `partitions` not held already,
        from changelog (key, value) records in log order (the last value of a
        key wins, None deletes it); not applied to before `install`. Those
        held no more are dropped."""
        self.engines = {p: e for p, e in self.engines.items() if p in partitions}
        latest: dict[int, dict] = {p: {} for p in partitions if p not in self.engines}
        for key, value in records:
            decoded = tuple(orjson.loads(key))
            if decoded[0] in latest:
                latest[decoded[0]][decoded] = value
        loaded = {}
        for partition, partition_records in latest.items():
            engine = loaded[partition] = self._new_engine(partition)
            try:
                engine.restore(partition_records)
            except Exception as error:
                raise StateUnreadable(
                    f"the state of partition {partition} in {self.state_topic} cannot be read by this version "
                    f"({type(error).__name__}: {error}): was it written by a later one?") from error
        return loaded

    def install(self, loaded: dict[int, PartitionEngine], tails: dict[int, dict[str, list[bytes]]],
                ends: dict[int, dict[str, int]]) -> None:
        """Apply to the loaded engines from now on, and send the transitions
        their state holds (a worker that stopped before sending them), but
        not those the tail of their outputs ends with. `tails`: per partition
        and output topic, the values from the engine's `outputs_from` on;
        `ends`: the offsets where those tails ended."""
        for partition, engine in loaded.items():
            self.engines[partition] = engine  # applied to only once restored (StateFlushingConsumer._may_apply)
            self._restored_ends[partition] = ends.get(partition, {})
            released = engine.release()
            start = {**ends.get(partition, {}), **engine.outputs_from}
            if engine.outputs_from and any(tails.get(partition, {}).values()):
                window = self.already_sent[partition] = AlreadySent(start, tails[partition])
                released = self._not_sent_before(released, window.held_not_sent(released))
            # The offsets committed are the worker before's: its dead letters are to read back too.
            self._dead_letters_from[partition] = self._dead_letters_at_last_commit[partition] = start.get(
                DEADLETTER, -1)
            self._emit(partition, released)
        self._note_split_sellers({partition: engine.sellers.keys() for partition, engine in loaded.items()})
        log.info("restored partitions %s: %d sellers", sorted(loaded), sum(len(e.sellers) for e in loaded.values()))

    def revoke(self, partitions: set[int]) -> None:
        for partition in partitions:
            self.engines.pop(partition, None)
            self.already_sent.pop(partition, None)
            self._restored_ends.pop(partition, None)
            self._dead_letters_from.pop(partition, None)
            self._dead_letters_at_last_commit.pop(partition, None)
            try:
                metrics.CLOCK_LAG.remove(str(partition))
            except KeyError:  # the partition never had a clock
                pass
