"""Measurements specific to this project's worker: state size, evaluation
records against the backfill, publish-to-scorecard latency, restarts."""
from __future__ import annotations

import asyncio
import bisect
import gc
import logging
import statistics
import time
import tracemalloc
from dataclasses import dataclass, field
from typing import Optional

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from streams.broker import admin_client
from streams.evaluation_records import EvaluationRecords
from streams.partitioning import partition_for
from streams.reading import started_reader
from streams.replay import evaluations as read_evaluations
from streams.topics import SCORECARDS, state_topic_name
from streams.writer import BatchWriter

from .kafka import Progress, latest_values, load
from .workers import Worker, spawn, wait_ready
from .workload import DAY, SECOND, fmt, topic_of

META_PREFIX = b"\x00"


@dataclass
class StateSize:
    sellers: int
    entities: int
    changelog_keys: int
    seller_bytes: int  # keys + latest values of everything that belongs to a seller (header and items)
    entity_bytes: int  # keys + latest values of the items (threads, orders, reviews, cases) alone
    python_bytes: Optional[int]  # the worker's objects rebuilt from those records (tracemalloc)
    python_item_bytes: Optional[int]  # what the items add to them: rebuilt without the item records, the rest
    layout: str
    topic: str = "-"
    gone_ids: int = 0  # ids of items that left state, kept to ignore their late events (in seller_bytes only)

    @property
    def bytes_per_seller(self) -> float:
        return self.seller_bytes / max(self.sellers, 1)

    @property
    def bytes_per_entity(self) -> float:
        return self.entity_bytes / max(self.entities, 1)

    @property
    def python_per_seller(self) -> Optional[float]:
        return None if self.python_bytes is None else self.python_bytes / max(self.sellers, 1)

    @property
    def python_added_per_entity(self) -> Optional[float]:
        """What an open entity adds to the worker's objects, on average: its
        id and stored form packed in its collection, its share of the
        collection, and what exists only because a seller has items (live
        monthly totals, deadlines to wake up at)."""
        return None if self.python_item_bytes is None else self.python_item_bytes / max(self.entities, 1)


async def state_topic(bootstrap: str, app_id: str) -> Optional[str]:
    """The worker's state topic: `<app_id>-seller-state` (its own compacted
    topic) or `<app_id>-seller-state-changelog` (a Faust table's changelog)."""
    async with admin_client(bootstrap) as admin:
        names = set(await admin.list_topics())
    for name in (state_topic_name(app_id), f"{state_topic_name(app_id)}-changelog"):
        if name in names:
            return name
    candidates = sorted(n for n in names if n.startswith(app_id) and "state" in n and "gate" not in n)
    return candidates[0] if candidates else None


async def state_size(bootstrap: str, app_id: str, partitions: int) -> StateSize:
    """Sizes of the latest record of every key of the worker's state topic.

    Keys are JSON arrays ([p] partition meta, [p, seller] seller header,
    [p, seller, collection, item] one item, [p, seller, "gone", id] the id
    of an item that left state: no open entity), or (older layout) a seller id
    with the whole seller as the value."""
    topic = await state_topic(bootstrap, app_id)
    latest = await latest_values(bootstrap, topic) if topic else {}
    sellers: set = set()
    entities = seller_bytes = entity_bytes = gone_ids = 0
    layout = "per item"
    item_keys = set()
    for key, value in latest.items():
        size = len(key) + len(value)
        try:
            decoded = orjson.loads(key)
        except orjson.JSONDecodeError:
            decoded = None
        if isinstance(decoded, list):
            if len(decoded) >= 2:
                sellers.add(decoded[1])
                seller_bytes += size
            if len(decoded) >= 3 and decoded[2] == "gone":
                gone_ids += 1
            elif len(decoded) >= 3:
                entities += 1
                entity_bytes += size
                item_keys.add(key)
        elif not key.startswith(META_PREFIX):  # one record per seller
            layout = "per seller"
            sellers.add(key)
            seller_bytes += size
            data = orjson.loads(value)
            if isinstance(data, dict) and all(k in data for k in "torc"):
                n = len(data["t"]) + len(data["o"]) + len(data["r"]) + len(data["c"])
                entities += n
                entity_bytes += size * n // max(n, 1)
    python_bytes = _python_bytes(latest.items(), partitions) if sellers else None
    python_item_bytes = None
    if python_bytes is not None and layout == "per item":
        without_items = _python_bytes(((key, value) for key, value in latest.items() if key not in item_keys),
                                      partitions)
        if without_items is not None:
            python_item_bytes = python_bytes - without_items
    return StateSize(len(sellers), entities, len(latest), seller_bytes, entity_bytes,
                     python_bytes, python_item_bytes, layout, topic or "-", gone_ids)


def _python_bytes(records, partitions: int) -> Optional[int]:
    """What the worker holds for these (key, value) records: rebuilt with its own restore code."""
    try:
        from standards.policy import load_policy
        from streams.processor import Processor

        gc.collect()  # garbage of earlier steps freed now is not counted against this state
        tracemalloc.start()
        base = tracemalloc.get_traced_memory()[0]
        # Copies made while traced, as a worker's come from its fetches: the
        # state may keep record values as they are (items packed in their bytes).
        records = [(key, None if value is None else memoryview(value).tobytes()) for key, value in records]
        processor = Processor(load_policy(None), lambda *a: None, "state")
        processor.restore(set(range(partitions)), records)
        del records
        size = tracemalloc.get_traced_memory()[0] - base
        del processor
        return size
    except Exception:  # the restore API moved: report no number rather than a wrong one
        return None
    finally:
        if tracemalloc.is_tracing():
            tracemalloc.stop()


def listed_backfill(lines: list[bytes], partitions: int) -> tuple[list[bytes], int]:
    """(the evaluation records, invalid lines) of a backfill of the lines with
    the default policy, records listed sorted: a backfill as the runner times
    it and the profiler samples it."""
    from standards.policy import load_policy
    from streams.backfill import backfill

    held, invalid = backfill(lines, partitions, load_policy(None))
    with held:
        return list(held), invalid


def processor_phases(records: list[tuple[str, bytes, bytes]], partitions: int) -> dict:
    """The worker's rules alone over the workload's (topic, key, value)
    records: its Processor in this process, with no Kafka, no Faust and no
    event loop around it, driven as the worker drives it through a backlog
    (`bench.in_process.apply_as_fetched`; cards and state only at the end,
    as the commit that follows the backlog makes them). The seconds of each
    phase: applying the events (decoding and dead letters, the rules, the
    evaluations made before a seller's next event), the recount (scorecards,
    daily badge progress, the evaluations not made yet) and the state records
    (with the violations and badge changes they hold, sent after them); the
    records each output topic and the state got, and the sellers held."""
    from standards.policy import load_policy
    from streams.processor import Processor

    from .in_process import apply_as_fetched, fetched

    written: dict[str, int] = {}

    def write(topic, partition, key, value) -> None:
        written[topic] = written.get(topic, 0) + 1

    by_partition = fetched(enumerate(records), partitions)
    processor = Processor(load_policy(None), write, "state")
    processor.set_backlog(True)
    quiet = logging.getLogger("streams.processor")  # one line per dead letter
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        began = time.perf_counter()
        apply_as_fetched(processor, by_partition)
        applied = time.perf_counter()
        processor.refresh(len(records) + 1)  # every changed seller: at most one per event
        recounted = time.perf_counter()
        asyncio.run(processor.flush_in_slices(len(records) + 1))
        processor.release()  # the violations and badge changes the state holds, sent once it is acknowledged
        written_state = time.perf_counter()
    finally:
        quiet.setLevel(level)
    return {"events": len(records), "apply": applied - began, "recount": recounted - applied,
            "state": written_state - recounted, "state_records": written.pop("state", 0), "outputs": written,
            "sellers": sum(len(engine.sellers) for engine in processor.engines.values())}


async def compare_evaluations(bootstrap: str, expected: list[bytes]) -> tuple[int, int, int]:
    """(records on standards.evaluations, expected, differing) — latest per seller and month."""
    with EvaluationRecords() as latest:
        found = list(await read_evaluations(bootstrap, latest))
    if found == expected:
        return len(found), len(expected), 0
    a, b = set(found), set(expected)
    return len(found), len(expected), len(a ^ b)


async def start_at_high_watermark(consumer: AIOKafkaConsumer, tps: list, timeout: float = 5.0) -> None:
    """Position every partition at its end: the high watermark of a fetch
    response (Tansu's ListOffsets answers the last batch's base offset)."""
    await consumer.seek_to_end(*tps)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(consumer.highwater(tp) is None for tp in tps):
        await consumer.getmany(timeout_ms=200)
    for tp in tps:
        if consumer.highwater(tp) is not None:
            consumer.seek(tp, consumer.highwater(tp))


# -- latency -----------------------------------------------------------------------


@dataclass
class LatencyRun:
    share: float
    target_rate: float
    sent: int
    achieved_rate: float
    samples: list = field(default_factory=list)  # seconds, scorecard record timestamp - publish
    received: list = field(default_factory=list)  # seconds, scorecard received - publish
    cards: int = 0
    caught_up: bool = True
    records_read: int = 0  # scorecard records read during the run
    records_of_sent_sellers: int = 0  # of those, of sellers an event was sent for
    records_skipped: int = 0  # records passed over on a stuck partition

    def pct(self, values: list, q: float) -> Optional[float]:
        if not values:
            return None
        values = sorted(values)
        return values[min(len(values) - 1, int(q * len(values)))]

    @property
    def p50(self):
        return self.pct(self.samples, 0.50)

    @property
    def p99(self):
        return self.pct(self.samples, 0.99)

    @property
    def recv_p50(self):
        return self.pct(self.received, 0.50)

    @property
    def recv_p99(self):
        return self.pct(self.received, 0.99)


HANDOVER = 0.02  # seconds between two hand-overs of the generator's records to its producer


def _live_value(event: dict, occurred_us: int, sent_at: float) -> bytes:
    e = dict(event)
    e["occurred_at"] = fmt(occurred_us)
    if "ship_by" in e:
        e["ship_by"] = fmt(occurred_us + 3 * DAY)
    e["_sent_at"] = sent_at
    return orjson.dumps(e)


async def latency(bootstrap: str, worker: Worker, events: list[dict], base_us: int, rate: float,
                  share: float, seconds: float, warmup: float, ends: dict,
                  partitions: int) -> tuple[LatencyRun, dict, int]:
    """Publish at a fixed rate (events in order, occurred_at moving with the
    wall clock from base_us, each with `_sent_at`), read standards.scorecards,
    and match every scorecard to the latest not yet matched event of its
    seller published before the scorecard's record timestamp.
    Returns the run, the new end offsets and how many events were used.

    The load generator shares the machine's cores with the worker and the
    broker, so it is kept cheap: records go to the producer as ready batches
    (streams.writer, as the worker's outputs), handed over every HANDOVER
    seconds, as by a producer with that linger (sooner when the broker is
    slower: a round that waited for it is followed by the next at once);
    and the reader lets the broker hold an empty fetch 50 ms (at 20 ms its
    idle fetches of every partition cost Tansu about 0.15 core). Tansu's
    CPU goes by record batch, not by record: handed over every few
    milliseconds, 5,000 events/s arrive as batches of one record on 40 input
    partitions, and the broker took 0.85 of the 2 cores, against 0.1 for the
    same worker reading a loaded backlog. An event's `_sent_at` is taken
    when it is added, before it waits for its batch: the measured latency
    includes that wait."""
    consumer = await started_reader(bootstrap, {"fetch_max_wait_ms": 50, "max_partition_fetch_bytes": 8 << 20})
    tps = [TopicPartition(SCORECARDS, p) for p in range(partitions)]
    consumer.assign(tps)
    await start_at_high_watermark(consumer, tps)
    starts = {tp: await consumer.position(tp) for tp in tps}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=False)
    await producer.start()
    writer = BatchWriter()
    new_ends = dict(ends)  # offsets are consecutive: each record sent moves its partition's end by one
    cards: list = []  # (seller, record timestamp s, received s)
    stop = asyncio.Event()

    async def read() -> None:
        seen: dict = {}
        checked = time.monotonic()
        while not stop.is_set():
            batch = await consumer.getmany(timeout_ms=100)
            now = time.time()
            for messages in batch.values():
                cards.extend((m.key, m.timestamp / 1000, now) for m in messages)
            if time.monotonic() - checked > 1.0:
                # A partition whose position stays behind its high watermark
                # for a second is skipped ahead (seen on Tansu after a large
                # burst of scorecards: fetches at the position came back empty).
                checked = time.monotonic()
                for tp in tps:
                    position, high = await consumer.position(tp), consumer.highwater(tp)
                    if high is not None and position < high and seen.get(tp) == position:
                        consumer.seek(tp, high)
                        skipped[0] += high - position
                    seen[tp] = position

    skipped = [0]
    reader = asyncio.create_task(read())
    sends: dict[bytes, list[float]] = {}
    t0 = time.time()
    window = (t0 + warmup, t0 + warmup + seconds)
    i = 0
    handed_over = t0
    try:
        while True:
            now = time.time()
            if now >= window[1]:
                break
            due = int(rate * (now - t0))
            while i < due and i < len(events):
                event = events[i]
                sent_at = time.time()
                occurred = base_us + int((sent_at - t0) * SECOND)
                key = event["seller_id"].encode()
                topic = topic_of(event)
                partition = partition_for(key, partitions)
                writer.add(topic, partition, key, _live_value(event, occurred, sent_at))
                tp = TopicPartition(topic, partition)
                new_ends[tp] = new_ends.get(tp, 0) + 1
                sends.setdefault(key, []).append(sent_at)
                i += 1
            if now - handed_over >= HANDOVER:
                writer.send_soon(producer)
                handed_over = now
            if i >= len(events):
                break
            await asyncio.sleep(0.002)
        sent_until = time.time()
        await writer.acknowledged(producer)
        caught_up = True
        async with Progress(bootstrap, worker.app_id) as progress:
            try:
                await progress.wait(new_ends, 60, worker.alive, every=0.2)
            except TimeoutError:
                caught_up = False
        await asyncio.sleep(1.5)  # the last coalesced scorecards (SCORECARD_INTERVAL) and fetches
    finally:
        stop.set()
        await reader
        await producer.stop()
        await consumer.stop()
    in_window = sum(1 for times in sends.values() for t in times if window[0] <= t < window[1])
    run = LatencyRun(share, rate, in_window, in_window / (min(sent_until, window[1]) - window[0]),
                     caught_up=caught_up)
    matched: dict[bytes, int] = {}
    run.records_skipped = skipped[0]
    if skipped[0]:
        # The tailing reader was stuck on some partitions: read everything
        # written since the start again (record timestamps are what count;
        # the receive times of those records are lost).
        received_at = {(k, t): r for k, t, r in cards}
        cards = [(k, t, received_at.get((k, t), float("nan")))
                 for k, t in await read_since(bootstrap, starts)]
    run.records_read = len(cards)
    for key, stamp, received in sorted(cards, key=lambda c: c[1]):
        times = sends.get(key)
        if not times:
            continue
        run.records_of_sent_sellers += 1
        j = bisect.bisect_right(times, stamp + 0.001) - 1  # record timestamps have ms resolution
        if j < 0 or j <= matched.get(key, -1):
            continue  # nothing new from this seller: the card came from a clock or deadline
        matched[key] = j
        if not window[0] <= times[j] < window[1]:
            continue
        run.cards += 1
        run.samples.append(max(0.0, stamp - times[j]))
        if received == received:  # not NaN
            run.received.append(max(0.0, received - times[j]))
    return run, new_ends, i


async def settle_clock(bootstrap: str, worker: Worker, at_us: int, ends: dict, partitions: int) -> dict:
    """A heartbeat at `at_us` on every partition of every input topic, and wait
    until the worker committed it: the clock jump (deadlines passing, a new
    day or month, evaluations) is done before latency is measured."""
    from .workload import INPUT_TOPICS, heartbeat_keys

    keys = heartbeat_keys(partitions)
    records = [(topic, keys[p].encode(), orjson.dumps({
        "event_id": f"bench-settle/{topic}/{p}/{at_us}", "type": "clock.heartbeat", "seller_id": keys[p],
        "occurred_at": fmt(at_us)})) for topic in INPUT_TOPICS for p in range(partitions)]
    new_ends, _ = await load(bootstrap, records, ends)
    async with Progress(bootstrap, worker.app_id) as progress:
        await progress.wait(new_ends, 300, worker.alive, every=0.2)
    await asyncio.sleep(2.0)
    return new_ends


async def read_since(bootstrap: str, starts: dict, idle: float = 3.0, limit: float = 60.0) -> list[tuple[bytes, float]]:
    """(key, record timestamp s) of every record from `starts` on, read until
    no record came for `idle` seconds (a partition stuck behind its high
    watermark for a second is moved past the stuck offset)."""
    consumer = await started_reader(bootstrap, {"max_partition_fetch_bytes": 8 << 20})
    out: list = []
    try:
        tps = list(starts)
        consumer.assign(tps)
        for tp in tps:
            consumer.seek(tp, starts[tp])
        quiet = checked = began = time.monotonic()
        seen: dict = {}
        while time.monotonic() - quiet < idle and time.monotonic() - began < limit:
            batch = await consumer.getmany(timeout_ms=200)
            for messages in batch.values():
                out.extend((m.key, m.timestamp / 1000) for m in messages)
                if messages:
                    quiet = time.monotonic()
            if time.monotonic() - checked > 1.0:
                checked = time.monotonic()
                for tp in tps:
                    position, high = await consumer.position(tp), consumer.highwater(tp)
                    if high is not None and position < high and seen.get(tp) == position:
                        consumer.seek(tp, position + 1)
                        quiet = time.monotonic()
                    seen[tp] = position
    finally:
        await consumer.stop()
    return out


# -- restarts ----------------------------------------------------------------------


@dataclass
class Restart:
    store: str
    signal: str
    tail_events: int
    to_ready: float  # launch to /ready 200
    to_caught_up: float  # /ready to committed offsets at the new end offsets
    rss_ready: Optional[int] = None
    to_all_partitions: Optional[float] = None  # launch to /ready listing every partition


async def restart(old: Worker, bootstrap: str, workdir, partitions: int, tail: list, ends: dict,
                  extra_env: dict, tag: str, graceful: bool = False) -> tuple[Restart, Worker, dict]:
    """SIGKILL (or SIGTERM) the worker, publish `tail` while it is down, start
    it again on the same group and data directory; time to /ready, then to
    caught up."""
    old.stop(kill=not graceful)
    new_ends, _ = await load(bootstrap, tail, ends)
    worker = spawn("project", bootstrap, workdir, partitions, app_id=old.app_id, data_dir=old.data_dir,
                   extra_env=extra_env, tag=tag)
    ready = await wait_ready(worker, timeout=300)
    rss = worker.rss()
    watcher = asyncio.create_task(_all_partitions(worker, partitions))
    async with Progress(bootstrap, worker.app_id) as progress:
        done = await progress.wait(new_ends, 600, worker.alive)
    try:
        all_at = await asyncio.wait_for(watcher, 30)
    except asyncio.TimeoutError:
        all_at = None
    return (Restart(extra_env.get("STATE_STORE", "default"), "SIGTERM" if graceful else "SIGKILL", len(tail),
                    ready - worker.launched, done - ready, rss,
                    None if all_at is None else all_at - worker.launched),
            worker, new_ends)


async def _all_partitions(worker: Worker, partitions: int) -> float:
    """perf_counter time at which /ready answered 200 listing every partition."""
    from .workers import http_get

    while True:
        try:
            status, body = await http_get(f"http://127.0.0.1:{worker.port}/ready", timeout=1.0)
            if status == 200 and len(orjson.loads(body).get("partitions", [])) >= partitions:
                return time.perf_counter()
        except Exception:
            pass
        await asyncio.sleep(0.1)


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None
