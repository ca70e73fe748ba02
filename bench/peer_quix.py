"""The peer: Quix Streams keeping a per-seller count in RocksDB state with
changelog topics (at-least-once, checkpoint every COMMIT_INTERVAL seconds).

Run as `python -m bench.peer_quix` with KAFKA_BOOTSTRAP, APP_ID, DATA_DIR,
READY_FILE (written with the wall time of the first processed message) and
PEER_MODE: `separate` (default: one dataframe and state store per input
topic) or `concat` (the five topics concatenated into one dataframe: one
store per seller, with Quix's partition time alignment).

Tansu's DescribeConfigs returns no `retention.ms` for a topic, which Quix's
topic manager reads to configure changelog topics: it is supplied here (-1,
as the embedded broker keeps everything in memory).
"""
import os
import time

from quixstreams import Application
from quixstreams.models.topics.manager import TopicManager

from bench.workload import INPUT_TOPICS

_derive = TopicManager.derive_topic_config.__func__


def _derive_with_retention(cls, topics):
    for t in topics:
        extra = t.broker_config.extra_config
        extra.setdefault("retention.ms", "-1")
        extra.setdefault("retention.bytes", "-1")
    return _derive(cls, topics)


TopicManager.derive_topic_config = classmethod(_derive_with_retention)

READY_FILE = os.environ.get("READY_FILE")
_first = {"seen": False}


def _processed(topic, partition, offset):
    if not _first["seen"]:
        _first["seen"] = True
        if READY_FILE:
            with open(READY_FILE, "w") as f:
                f.write(repr(time.time()))


def count(value, state):
    seller = value.get("seller_id") if isinstance(value, dict) else None
    if isinstance(seller, str):
        state.set("count", state.get("count", 0) + 1)


def main() -> None:
    app = Application(
        broker_address=os.environ["KAFKA_BOOTSTRAP"],
        consumer_group=os.environ["APP_ID"],
        auto_offset_reset="earliest",
        commit_interval=float(os.environ.get("COMMIT_INTERVAL", "2.0")),
        state_dir=os.environ.get("DATA_DIR", "/tmp/peer-quix"),
        on_message_processed=_processed,
        loglevel=os.environ.get("PEER_LOGLEVEL", "WARNING"),
        # Skip what cannot be decoded (the workload's few invalid events).
        on_processing_error=lambda exc, row, logger: True,
        on_consumer_error=lambda exc, message, logger: True,
        # Short group timings, as the Faust workers get (the rebalance timeout
        # a librdkafka member sends is its max.poll.interval.ms).
        consumer_extra_config={"session.timeout.ms": 6000, "heartbeat.interval.ms": 1000,
                               "max.poll.interval.ms": 10000},
    )
    topics = [app.topic(name, value_deserializer="json", key_deserializer="str") for name in INPUT_TOPICS]
    if os.environ.get("PEER_MODE", "separate") == "concat":
        sdf = app.dataframe(topics[0])
        for t in topics[1:]:
            sdf = sdf.concat(app.dataframe(t))
        sdf.update(count, stateful=True)
    else:
        for t in topics:
            app.dataframe(t).update(count, stateful=True)
    app.run()


if __name__ == "__main__":
    main()
