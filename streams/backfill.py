"""Backfill: the engines over an events file in one process, no Kafka.

Each line goes to the partition Kafka's default partitioner would give its
seller_id, in file order, then the same closing heartbeat as `replay`: the
evaluation records are those a worker makes from a replay of the same file.

`backfill_records` runs the same engines over records read from the input
topics, each on the partition Kafka gave it: the evaluation records are those
a worker makes from these topics (no closing heartbeat is added: a worker
sees none either, and a replay's topics already end with one).
"""
from __future__ import annotations

import asyncio
import bisect
import gc
import queue
import threading
import time
from typing import AsyncIterator, Callable, Iterable, Iterator, Optional

import orjson
from aiokafka import TopicPartition

from schemas.validate import HEARTBEAT, InvalidEvent, decode_event, decode_event_and_topic, format_timestamp
from standards.engine import EVALUATIONS, PartitionEngine
from standards.policy import Policy

from .evaluation_records import EvaluationRecords
from .output_json import dumps_sorted
from .partitioning import partition_for
from .reading import WaitTimeout, started_reader
from .topics import INPUT_TOPICS, TOPIC_OF_UNNAMED_LINE, check_partition_counts, line_topic


def backfill(lines: Iterable[bytes], partitions: int, policy: Policy,
             dead_letter: Optional[Callable[[int, bytes, InvalidEvent], None]] = None,
             records: Optional[EvaluationRecords] = None) -> tuple[EvaluationRecords, int]:
    """(the evaluation records, added to `records` or to new ones, which give
    them as `replay --evaluations` writes them; dead letters); `dead_letter`
    is told of each invalid line: its number (from 1, blank lines counted),
    its bytes and why."""
    return _run(_events_of_lines(lines, partitions, dead_letter), partitions, policy, True, records)


def backfill_records(topic_records: Iterable[tuple[str, int, Optional[bytes]]], policy: Policy,
                     records: Optional[EvaluationRecords] = None) -> tuple[EvaluationRecords, int]:
    """The same over (topic, partition, raw value) records, each partition's
    records of a topic in offset order; no closing heartbeat."""
    return _run(_events_of_records(topic_records), None, policy, False, records)


def _events_of_lines(lines: Iterable[bytes], partitions: int, dead_letter) -> Iterator[Optional[tuple]]:
    """(topic, partition, event) of every line as `replay` publishes it, None
    for an invalid one (the worker dead-letters it). Each line is parsed once."""
    partition_of: dict[str, int] = {}  # seller_id -> partition
    for number, line in enumerate(lines, 1):
        if not line or line.isspace():  # = not line.strip(), without a copy of the line
            continue
        try:
            topic, event = decode_event_and_topic(line)
        except InvalidEvent as invalid:
            if dead_letter is not None:
                dead_letter(number, line, invalid)
            yield None
            continue
        # as streams.replay.route
        topic = TOPIC_OF_UNNAMED_LINE[event["type"]] if topic is None else line_topic(topic, event["type"])
        seller_id = event["seller_id"]
        partition = partition_of.get(seller_id)
        if partition is None:
            partition = partition_of[seller_id] = partition_for(seller_id.encode(), partitions)
        yield topic, partition, event


def _events_of_records(records: Iterable[tuple[str, int, Optional[bytes]]]) -> Iterator[Optional[tuple]]:
    for topic, partition, raw in records:
        try:
            yield topic, partition, decode_event(raw)
        except InvalidEvent:
            yield None


def _run(events: Iterable[Optional[tuple]], partitions: Optional[int], policy: Policy, close: bool,
         records: Optional[EvaluationRecords]) -> tuple[EvaluationRecords, int]:
    """Feed (topic, partition, event) (None: dead letter) to one engine per
    partition; with `close`, end with a heartbeat at the greatest heartbeat
    time on every topic of every partition (as `replay` does)."""
    # The cyclic GC would walk the growing engine state again and again and
    # find nothing (measured on a 296k-event workload: a collection after a
    # run without GC frees 0 objects; the GC took ~20 % of the CPU time with
    # the default thresholds, ~8 % with raised ones). Restored afterwards.
    gc_was_enabled = gc.isenabled()
    gc.disable()
    try:
        records = EvaluationRecords() if records is None else records
        return records, _run_engines(events, partitions, policy, close, records)
    finally:
        if gc_was_enabled:
            gc.enable()


def _run_engines(events: Iterable[Optional[tuple]], partitions: Optional[int], policy: Policy, close: bool,
                 records: EvaluationRecords) -> int:
    engines: dict[int, PartitionEngine] = {}
    if partitions is not None:
        engines.update((p, PartitionEngine(p, INPUT_TOPICS, policy, live=False)) for p in range(partitions))
    dead_letters = 0
    last_heartbeat = None

    def collect(outputs) -> None:
        for topic, _, record in outputs:
            if topic == EVALUATIONS:
                # serialized at once: a record as objects takes several times its bytes
                records.add(record["seller_id"], record["month"], dumps_sorted(record))

    for item in events:
        if item is None:
            dead_letters += 1
            continue
        topic, partition, event = item
        engine = engines.get(partition)
        if engine is None:
            engine = engines[partition] = PartitionEngine(partition, INPUT_TOPICS, policy, live=False)
        outputs = engine.process(topic, event)
        if outputs:
            collect(outputs)
        if event["type"] == HEARTBEAT and (last_heartbeat is None or event["occurred_at"] > last_heartbeat):
            last_heartbeat = event["occurred_at"]
    if close and last_heartbeat is not None:
        for engine in engines.values():
            for topic in INPUT_TOPICS:
                beat = {"event_id": "backfill-end", "type": HEARTBEAT, "seller_id": "-",
                        "occurred_at": format_timestamp(last_heartbeat)}
                collect(engine.process(topic, decode_event(orjson.dumps(beat))))
    return dead_letters


def read_input_topics(bootstrap: str, options: Optional[dict] = None, timeout: float = 300.0
                      ) -> Iterator[tuple[str, int, bytes]]:
    """Every record of the input topics, to the end each partition had when
    reading began, as (topic, partition, value): each partition's records of
    a topic in offset order, the topics of a partition interleaved by their
    progress through it (as a worker that keeps up reads them); partitions
    are independent, their records come as they are fetched. Evaluations
    do not depend on the interleaving as long as no event arrives after its
    partition clock passed an evaluation instant it would change (SPEC 6);
    for such late events a worker's result too depends on how fast it read
    each topic.

    Read in a thread of its own, a few batches ahead of the caller: the
    memory of a few fetches per partition, not of the topics. `timeout`:
    seconds without a record before topics not read to their end are an error."""
    return _in_thread(lambda: _input_topic_batches(bootstrap, options or {}, timeout))


async def _input_topic_batches(bootstrap: str, options: dict, timeout: float) -> AsyncIterator[list]:
    """The records of read_input_topics in batches. A record at offset o of
    a partition holding offsets b..e-1 comes at (o - b + 1) / (e - b) in its
    partition, the topic first in INPUT_TOPICS first among equals. Its end e
    is the high watermark of its first fetch (Tansu's ListOffsets answers
    short of the last batch; the fetch is right)."""
    consumer = await started_reader(bootstrap, options, *INPUT_TOPICS)  # with the metadata of the topics
    try:
        check_partition_counts({topic: consumer.partitions_for_topic(topic) for topic in INPUT_TOPICS})
        groups: dict[int, list[_Fetched]] = {}  # partition -> its topics' partitions, in INPUT_TOPICS order
        for index, topic in enumerate(INPUT_TOPICS):
            for partition in sorted(consumer.partitions_for_topic(topic) or ()):
                groups.setdefault(partition, []).append(_Fetched(TopicPartition(topic, partition), index))
        parts = [part for group in groups.values() for part in group]
        consumer.unsubscribe()
        consumer.assign([part.tp for part in parts])
        await consumer.seek_to_beginning(*(part.tp for part in parts))
        for part in parts:
            part.begin = await consumer.position(part.tp)
        quiet_since = time.monotonic()
        while not all(part.done for part in parts):
            waiting = {part.tp: part for part in parts if part.start == len(part.keys) and not part.done}
            got = await consumer.getmany(*waiting, timeout_ms=200)
            for tp, part in waiting.items():
                if part.end is None and consumer.highwater(tp) is not None:
                    part.end = consumer.highwater(tp)
                if part.end is None:
                    continue
                if got.get(tp):  # (a fetch that gives records gives the high watermark too)
                    part.add(got[tp])
                    quiet_since = time.monotonic()
                if part.start == len(part.keys) and await consumer.position(tp) >= part.end:
                    part.done = True
            batch: list = []
            for group in groups.values():
                # A record comes once no topic of its partition can fetch one that comes before it.
                horizon = min((part.keys[-1] if part.keys else (0.0, part.index) for part in group if not part.done),
                              default=None)
                taken = [pair for part in group for pair in part.take(horizon)]
                taken.sort()
                batch += [record for _, record in taken]
            if batch:
                yield batch
            elif time.monotonic() - quiet_since > timeout:
                raise WaitTimeout(f"reading the input topics: no record for {timeout:.0f} s before their end")
    finally:
        await consumer.stop()


class _Fetched:
    """One partition of an input topic as read: its records fetched and not
    yet given, each with its place ((o - b + 1) / (e - b), topic index)."""

    def __init__(self, tp: TopicPartition, index: int):
        self.tp, self.index = tp, index
        self.begin = 0
        self.end: Optional[int] = None
        self.done = False  # given to its end
        self.keys: list[tuple[float, int]] = []
        self.records: list[tuple[str, int, bytes]] = []
        self.start = 0  # the first not given

    def add(self, messages: list) -> None:
        """Fetched records, those before the end (later ones were not there when reading began)."""
        self.keys, self.records = self.keys[self.start:], self.records[self.start:]
        self.start = 0
        messages = [m for m in messages if m.offset < self.end]
        span, topic, partition = self.end - self.begin, self.tp.topic, self.tp.partition
        self.keys += [((m.offset - self.begin + 1) / span, self.index) for m in messages]
        self.records += [(topic, partition, m.value) for m in messages]

    def take(self, horizon: Optional[tuple]) -> list[tuple]:
        """(key, record) of the records whose key is at most `horizon` (None: all)."""
        cut = len(self.keys) if horizon is None else bisect.bisect_right(self.keys, horizon, self.start)
        taken = list(zip(self.keys[self.start:cut], self.records[self.start:cut]))
        self.start = cut
        return taken


_END = object()


def _in_thread(batches: Callable[[], AsyncIterator[list]]) -> Iterator:
    """The items of the batches, read by an event loop in a thread of its
    own, at most a few batches ahead; its error is raised here."""
    handoff: queue.Queue = queue.Queue(maxsize=4)
    stop = threading.Event()

    def hand(item) -> bool:
        """Hand over the item, unless the reader stopped (then False)."""
        while not stop.is_set():
            try:
                handoff.put(item, timeout=0.1)
                return True
            except queue.Full:
                pass
        return False

    async def pump() -> None:
        async for batch in batches():
            if not hand(batch):
                return

    def run() -> None:
        try:
            asyncio.run(pump())
        except BaseException as error:  # the reader's to raise
            hand(error)
        else:
            hand(_END)

    thread = threading.Thread(target=run, name="read-input-topics", daemon=True)
    thread.start()
    try:
        while (item := handoff.get()) is not _END:
            if isinstance(item, BaseException):
                raise item
            yield from item
    finally:
        stop.set()
        thread.join()
