"""Backfill: the engines over an events file in one process, no Kafka.

Each line goes to the partition Kafka's default partitioner would give its
seller_id, in file order, then the same closing heartbeat as `replay`: the
evaluation records are those a worker makes from a replay of the same file.
"""
from __future__ import annotations

from typing import Iterable

import orjson
from aiokafka.partitioner import murmur2

from schemas.validate import InvalidEvent, decode_event, format_timestamp
from standards.engine import EVALUATIONS, PartitionEngine
from standards.policy import Policy

from .replay import latest_evaluations, route
from .topics import INPUT_TOPICS


def partition_for(key: bytes, partitions: int) -> int:
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def backfill(lines: Iterable[bytes], partitions: int, policy: Policy) -> tuple[list[bytes], int]:
    """(evaluation lines as `replay --evaluations` writes them, dead letters)."""
    engines = [PartitionEngine(p, INPUT_TOPICS, policy, live=False) for p in range(partitions)]
    evaluations: list[tuple[bytes, bytes]] = []
    dead_letters = 0
    last_heartbeat = None

    def collect(outputs) -> None:
        evaluations.extend((None, orjson.dumps(v)) for topic, _, v in outputs if topic == EVALUATIONS)

    for line in lines:
        if not line.strip():
            continue
        topic, key, heartbeat_at = route(line)
        try:
            event = decode_event(line)
        except InvalidEvent:
            dead_letters += 1
            continue
        if heartbeat_at is not None:
            last_heartbeat = max(last_heartbeat or heartbeat_at, heartbeat_at)
        partition = partition_for(key, partitions) if key is not None else 0
        collect(engines[partition].process(topic, event))
    if last_heartbeat is not None:
        for engine in engines:
            for topic in INPUT_TOPICS:
                beat = {"event_id": "backfill-end", "type": "clock.heartbeat", "seller_id": "-",
                        "occurred_at": format_timestamp(last_heartbeat)}
                collect(engine.process(topic, decode_event(orjson.dumps(beat))))
    return latest_evaluations(evaluations), dead_letters
