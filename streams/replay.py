"""Publishing event files to the input topics and reading results back."""
from __future__ import annotations

import asyncio
import gzip
import time
import zlib
from pathlib import Path
from typing import Iterable, Iterator

import orjson
from aiokafka import AIOKafkaProducer, TopicPartition
from tqdm import tqdm

from schemas.validate import MAX_EVENT_BYTES, InvalidEvent, format_timestamp, normalize

from .output_json import dumps_sorted
from .partitioning import Partitioner
from .evaluation_records import EvaluationRecords
from .reading import CommittedOffsets, WaitTimeout, topic_batches
from .topics import EVALUATIONS, INPUT_TOPICS, MESSAGES, check_partition_counts, line_topic


class EventsFileError(Exception):
    """An events file that cannot be read to its end; the message says why."""


def event_lines(path: Path, desc: str, chunk_bytes: int = 1 << 23) -> Iterator[bytes]:
    """The lines of an events file, as `bytes.splitlines` cuts the whole (at
    \\n, \\r\\n or \\r), read a chunk at a time: memory does not grow with
    the file (months of history). A gzip file (by its first bytes, whatever
    its name) is read decompressed. Shows its progress in the file's bytes."""
    with path.open("rb") as stored, tqdm(total=path.stat().st_size, desc=desc, unit="B", unit_scale=True,
                                          mininterval=1.0) as bar:
        gzipped = stored.read(2) == b"\x1f\x8b"
        stored.seek(0)
        file = gzip.GzipFile(fileobj=stored) if gzipped else stored
        rest = b""
        while chunk := _read(file, chunk_bytes, path):
            bar.update(stored.tell() - bar.n)
            data = rest + chunk
            lines = data.splitlines()
            if data.endswith(b"\n"):
                rest = b""
            elif data.endswith(b"\r"):  # maybe the first half of a "\r\n"
                rest = lines.pop() + b"\r"
            else:  # the last line goes on in the next chunk
                rest = lines.pop()
            yield from lines
        yield from rest.splitlines()


def _read(file, size: int, path: Path) -> bytes:
    try:
        return file.read(size)
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise EventsFileError(f"{path} is not a whole gzip file: {exc}") from None


def route(line: bytes) -> tuple[str, bytes | None, int | None]:
    """(topic, key, heartbeat time) of one line of an events file.

    The topic is the line's `_topic` when present, else its type's topic;
    a line that cannot be read still goes to an input topic, so that the
    worker dead-letters it with a reason."""
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return MESSAGES, None, None
    if not isinstance(obj, dict):
        return MESSAGES, None, None
    event_type = obj.get("type")
    topic = line_topic(obj.get("_topic"), event_type)
    seller_id = obj.get("seller_id")
    key = seller_id.encode() if isinstance(seller_id, str) else None
    heartbeat_at = None
    if event_type == "clock.heartbeat" and len(line) <= MAX_EVENT_BYTES:  # else too large: invalid
        try:
            heartbeat_at = normalize(obj)["occurred_at"]  # = decode_event(line), without parsing again
        except InvalidEvent:
            pass
    return topic, key, heartbeat_at


async def publish(path: Path, bootstrap: str, partitions: int, options: dict | None = None
                  ) -> dict[TopicPartition, int]:
    """Publish every line keyed by seller_id, then a closing heartbeat at the
    file's latest (greatest) heartbeat time on every partition of every input topic (the
    SPEC's "replays end with a heartbeat on every topic", for every partition).
    Returns the end offset of every partition written to, from the broker's
    acknowledgements (Tansu's ListOffsets answers the last batch's base offset)."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20,
                                acks="all", enable_idempotence=False, partitioner=Partitioner(), **(options or {}))
    await producer.start()
    ends: dict[TopicPartition, int] = {}
    pending = []

    async def settle() -> None:
        for sent in await asyncio.gather(*pending):
            tp = TopicPartition(sent.topic, sent.partition)
            ends[tp] = max(ends.get(tp, 0), sent.offset + 1)
        pending.clear()

    last_heartbeat = None
    try:
        # Lines go to the partition of their seller by the topic's count, the closing heartbeats to `partitions`.
        check_partition_counts({topic: await producer.partitions_for(topic) for topic in INPUT_TOPICS}, partitions)
        for line in event_lines(path, "publishing"):
            if not line.strip():
                continue
            topic, key, heartbeat_at = route(line)
            if heartbeat_at is not None:
                last_heartbeat = max(last_heartbeat or heartbeat_at, heartbeat_at)
            pending.append(await producer.send(topic, line, key=key))
            if len(pending) >= 10_000:
                await settle()
        if last_heartbeat is not None:
            stamp = format_timestamp(last_heartbeat)
            for topic in INPUT_TOPICS:
                for partition in range(partitions):
                    beat = {"event_id": f"replay-end/{topic}/{partition}", "type": "clock.heartbeat",
                            "seller_id": f"replay-end-{partition}", "occurred_at": stamp}
                    pending.append(await producer.send(topic, orjson.dumps(beat), partition=partition))
        await settle()
    finally:
        await producer.stop()
    return ends


async def wait_processed(bootstrap: str, group: str, ends: dict[TopicPartition, int],
                         timeout: float, alive=lambda: True, options: dict | None = None) -> None:
    """Wait until the worker group has committed every input offset."""
    deadline = time.monotonic() + timeout
    async with CommittedOffsets(bootstrap, group, options) as committed:
        with tqdm(total=sum(ends.values()), desc="processing", unit="ev", mininterval=1.0) as bar:
            while True:
                done = await committed.done(ends)
                bar.update(done - bar.n)
                if done >= sum(ends.values()):
                    return
                if not alive():
                    raise RuntimeError("the worker stopped before processing every event")
                if time.monotonic() > deadline:
                    raise WaitTimeout(f"the workers of APP_ID {group!r} processed {done} of {sum(ends.values())} "
                                      f"events in {timeout:.0f} s"
                                      + (": is one running on this Kafka with that APP_ID?" if done == 0 else ""))
                await asyncio.sleep(0.5)


def add_evaluations(latest: EvaluationRecords, records: Iterable[tuple]) -> None:
    """(key, value) records of the evaluations topic into `latest`, as sorted-key JSON."""
    for _, value in records:
        record = orjson.loads(value)
        latest.add(record["seller_id"], record["month"], dumps_sorted(record))


def latest_evaluations(records: Iterable[tuple]) -> list[bytes]:
    """The latest record per seller and month, as sorted-key JSON lines."""
    with EvaluationRecords() as latest:
        add_evaluations(latest, records)
        return list(latest)


async def evaluations(bootstrap: str, latest: EvaluationRecords, idle: float | None = None,
                      options: dict | None = None) -> EvaluationRecords:
    """The evaluations topic into `latest`, a fetch at a time."""
    async for batch in topic_batches(bootstrap, EVALUATIONS, idle, options=options):
        add_evaluations(latest, batch)
    return latest
