"""`streams.topics`: which topics cannot go together
(`check_partition_counts`), and which state topic settings lose state
(`check_state_topic_config`)."""
from __future__ import annotations

import subprocess

import pytest

from streams.topics import PartitionCountError, StateTopicError, check_partition_counts, check_state_topic_config

from worker_app import run_with_worker_app


def _of(count: int) -> set[int]:
    """A topic's partitions as Kafka's metadata gives them."""
    return set(range(count))


def test_topics_all_of_the_expected_count_pass_and_absent_ones_are_not_checked():
    check_partition_counts({"marketplace.orders": _of(8), "standards.scorecards": _of(8), "app-seller-state": None}, 8)


def test_each_topic_of_another_count_is_named_with_its_count_and_the_setting():
    with pytest.raises(PartitionCountError) as raised:
        check_partition_counts({"marketplace.messages": _of(8), "marketplace.orders": _of(12),
                                "app-seller-state": _of(4), "standards.alerts": None}, 8)
    message = str(raised.value)
    assert "PARTITIONS=8" in message
    assert "marketplace.orders has 12, app-seller-state has 4." in message
    assert "marketplace.messages" not in message and "standards.alerts" not in message


def test_without_an_expected_count_the_topics_must_agree_among_themselves():
    check_partition_counts({"marketplace.messages": _of(3), "marketplace.orders": _of(3), "marketplace.refunds": None})
    with pytest.raises(PartitionCountError) as raised:
        check_partition_counts({"marketplace.messages": _of(3), "marketplace.orders": _of(5),
                                "marketplace.refunds": None})
    assert str(raised.value).endswith(": marketplace.messages has 3, marketplace.orders has 5")


# Apache Kafka reports every setting; its defaults: delete after 7 days, no size limit.
KAFKA_DEFAULTS = {"cleanup.policy": "delete", "retention.ms": "604800000", "retention.bytes": "-1"}


@pytest.mark.parametrize("config", [
    {"cleanup.policy": "compact"},                                    # as the worker makes it (Tansu reports only that)
    {**KAFKA_DEFAULTS, "cleanup.policy": "compact"},                  # compaction ignores the retention settings
    {},                                                               # nothing reported
    {"cleanup.policy": "delete"},                                     # Tansu: no retention reported
    {"cleanup.policy": "compact,delete", "retention.ms": "-1", "retention.bytes": "-1"},
    {**KAFKA_DEFAULTS, "retention.ms": "-1"},                         # every version kept: slower, nothing lost
])
def test_a_state_topic_that_keeps_every_latest_record_passes(config):
    check_state_topic_config("app-seller-state", config)


@pytest.mark.parametrize("config, named", [
    (KAFKA_DEFAULTS, "cleanup.policy=delete and retention.ms=604800000"),
    ({**KAFKA_DEFAULTS, "cleanup.policy": "compact,delete"}, "cleanup.policy=compact,delete and retention.ms=604800000"),
    ({**KAFKA_DEFAULTS, "retention.ms": "-1", "retention.bytes": "1073741824"},
     "cleanup.policy=delete and retention.bytes=1073741824"),
    ({"cleanup.policy": "delete, compact", "retention.ms": "86400000", "retention.bytes": "1048576"},
     "cleanup.policy=delete, compact and retention.ms=86400000, retention.bytes=1048576"),
])
def test_a_state_topic_whose_records_the_broker_deletes_is_refused_naming_its_settings(config, named):
    with pytest.raises(StateTopicError) as raised:
        check_state_topic_config("app-seller-state", config)
    message = str(raised.value)
    assert f"the state topic app-seller-state has {named}: the broker deletes its records" in message
    assert "--entity-name app-seller-state --add-config cleanup.policy=compact" in message


def _check_state_topic_with(config_or_error: str) -> subprocess.CompletedProcess:
    """The worker's check of its state topic (streams/app.py), with the
    broker's answer (`topic_config`) replaced by `config_or_error`, a
    Python expression."""
    return run_with_worker_app(
        "import logging, aiokafka.errors as errors\n"
        "logging.basicConfig()  # as the worker logs (Faust sets it up at its start)\n"
        "async def answer(*args):\n"
        f"    value = {config_or_error}\n"
        "    if isinstance(value, Exception):\n"
        "        raise value\n"
        "    return value\n"
        "worker.topic_config = answer\n"
        "asyncio.run(worker._check_state_topic())\n"
        "print('went on')\n", env={"APP_ID": "app"})


def test_the_worker_refuses_a_state_topic_that_deletes_and_warns_when_it_cannot_read_the_settings():
    refused = _check_state_topic_with(repr(KAFKA_DEFAULTS))
    assert refused.returncode == 1 and "went on" not in refused.stdout
    assert "StateTopicError: the state topic app-seller-state has cleanup.policy=delete" in refused.stderr
    denied = _check_state_topic_with("errors.TopicAuthorizationFailedError('no DescribeConfigs right')")
    assert denied.returncode == 0 and denied.stdout == "went on\n"
    assert ("the settings of app-seller-state could not be read (TopicAuthorizationFailedError" in denied.stderr
            and "its cleanup.policy is not checked" in denied.stderr)
    kept = _check_state_topic_with("{'cleanup.policy': 'compact'}")
    assert kept.returncode == 0 and kept.stdout == "went on\n" and kept.stderr == ""
