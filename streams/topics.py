"""Topic names of SPEC sections 2 and 6."""
from __future__ import annotations

from typing import Collection, Mapping, Optional

from schemas.validate import INPUT_TYPES, TOPIC_OF_TYPE
from standards.engine import ALERTS, BADGES, EVALUATIONS, SCORECARDS, VIOLATIONS

MESSAGES = "marketplace.messages"
ORDERS = "marketplace.orders"
SHIPMENTS = "marketplace.shipments"
REVIEWS = "marketplace.reviews"
REFUNDS = "marketplace.refunds"
INPUT_TOPICS = (MESSAGES, ORDERS, SHIPMENTS, REVIEWS, REFUNDS)
INPUT_TOPIC_SET = frozenset(INPUT_TOPICS)

DEADLETTER = "standards.deadletter"
OUTPUT_TOPICS = (SCORECARDS, VIOLATIONS, BADGES, EVALUATIONS, ALERTS, DEADLETTER)
COMPACTED = (SCORECARDS,)


def state_topic_name(app_id: str) -> str:
    """The workers' compacted state topic of `app_id` (APP_ID)."""
    return f"{app_id}-seller-state"


def line_topic(named, event_type) -> str:
    """The input topic of an events file line (replay, backfill): its
    `_topic` (any JSON value) when that names an input topic, else its
    type's topic; messages for a heartbeat and for a missing or unknown type
    (the worker dead-letters what it cannot read)."""
    if isinstance(named, str) and named in INPUT_TOPIC_SET:
        return named
    return (TOPIC_OF_TYPE.get(event_type) if isinstance(event_type, str) else None) or MESSAGES


# line_topic of a line without `_topic`, for each type a valid line has: the
# backfill's lookup for every line (2 % of its instructions went to the call).
TOPIC_OF_UNNAMED_LINE = {event_type: line_topic(None, event_type) for event_type in INPUT_TYPES}


class StateTopicError(RuntimeError):
    """A state topic whose settings let the broker delete records by age or
    size; the message names them and says how to set it."""


def check_state_topic_config(topic: str, config: Mapping[str, str]) -> None:
    """Raise StateTopicError when the state topic's settings (`config`, as
    the broker reports them; one it does not report is not judged) let the
    broker delete records by age or size: a worker restores each seller
    from its latest records, however old, and a record deleted after
    `retention.ms` is state lost at the next restart (items, first sale,
    open violations). `cleanup.policy=delete` with no limit only keeps
    every version (a slower restore, the same state)."""
    policy = config.get("cleanup.policy", "")
    limits = {name: config[name] for name in ("retention.ms", "retention.bytes") if config.get(name, "-1") != "-1"}
    if "delete" not in {name.strip() for name in policy.split(",")} or not limits:
        return
    raise StateTopicError(
        f"the state topic {topic} has cleanup.policy={policy} and "
        f"{', '.join(f'{name}={value}' for name, value in limits.items())}: the broker deletes its records by age "
        "or size, and a worker restarted after that restores its sellers without them. Set cleanup.policy=compact "
        f"on it (kafka-configs.sh --alter --entity-type topics --entity-name {topic} "
        "--add-config cleanup.policy=compact)")


class PartitionCountError(RuntimeError):
    """Topics whose partition counts cannot be used together; the message
    names each topic that differs and its count."""


def check_partition_counts(partitions: Mapping[str, Optional[Collection[int]]], expected: Optional[int] = None) -> None:
    """Raise PartitionCountError unless every topic of `partitions` (name ->
    its partitions as Kafka's metadata gives them; None or none: no such
    topic, not checked) has `expected` partitions, or, with no `expected`,
    they all have one count. A seller's events are on
    partition p of every input topic (Kafka's partitioner maps its key to p
    by the topic's count), and its outputs and state go to p too: with
    another count, one seller's events land on several partitions, each
    with its own clock and state."""
    present = {topic: len(numbers) for topic, numbers in partitions.items() if numbers}
    if expected is None:
        if len(set(present.values())) <= 1:
            return
        raise PartitionCountError(
            "the input topics must all have one partition count (a seller's events are on partition p of each): "
            + ", ".join(f"{topic} has {n}" for topic, n in present.items()))
    wrong = {topic: n for topic, n in present.items() if n != expected}
    if wrong:
        raise PartitionCountError(
            f"every input, output and state topic must have PARTITIONS={expected} partitions (a seller's "
            "events, outputs and state all go to partition p of each): "
            + ", ".join(f"{topic} has {n}" for topic, n in wrong.items())
            + ". Set PARTITIONS to the input topics' count, or recreate the topics that differ with it "
            "(partitions added to a topic move sellers to other partitions, away from their state)")
